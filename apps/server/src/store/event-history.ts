// The event history behind GET /api/vms/:id/events: the events an operator
// looks back on (alerts, recoveries, fault injections, rollbacks, state
// changes, manual checkpoints, intervals auto-tune chose) and a
// periodic summary of the epochs in place of the epochs themselves, which
// arrive tens of times a second per VM and would swamp the disk.
// Bounded: at most maxEventsPerVm rows per VM and nothing older than
// maxAgeDays, enforced every pruneEvery inserts so that pruning stays cheap.
import type { Database, Statement } from 'better-sqlite3';
import type { AlertEvent, CheckpointEvent, FaultEvent, IntervalTunedEvent, RecoveryEvent, RollbackEvent, TelemetryEvent, VmStateEvent } from '@uckpt/engine';
import type { CheckpointSummaryEvent } from './epoch-summarizer.js';
import { fromJson, toJson } from './json.js';
import { clampLimit, QueryCache } from './query.js';

export type HistoryEvent = AlertEvent | RecoveryEvent | FaultEvent | RollbackEvent | CheckpointEvent | VmStateEvent | IntervalTunedEvent | CheckpointSummaryEvent;
export type HistoryEventType = HistoryEvent['type'];

/** A stored event with its row id (increasing; pass the last one seen as `before` to page back). */
export type HistoryRecord = HistoryEvent & { id: number };

export interface EventQuery {
  vmId?: string;
  /** Only these types; absent or empty means every type. */
  types?: readonly HistoryEventType[];
  /** Events at or after this Unix time in ms. */
  since?: number;
  /** Events older than the row with this id (exclusive). */
  before?: number;
  /** 1..1000; default 100. */
  limit?: number;
}

export interface RetentionOptions {
  /** Default 10 000. */
  maxEventsPerVm?: number;
  /** Default 30. */
  maxAgeDays?: number;
  /** Inserts between two prunings; default 500. */
  pruneEvery?: number;
  /** The clock ages are measured against (tests move it). */
  now?: () => number;
}

/** Whether an event belongs in the history; epochs reach it only through summaries. */
export function isHistoryEvent(event: TelemetryEvent | CheckpointSummaryEvent): event is HistoryEvent {
  switch (event.type) {
    case 'epoch':
    case 'console':
      return false;
    case 'checkpoint':
      // Periodic checkpoints are one per epoch: the summary counts them.
      return event.manual;
    default:
      return true;
  }
}

interface EventRow {
  id: number;
  vm_id: string;
  time: number;
  type: string;
  data: string;
}

const dayMs = 86_400_000;

export class EventHistory {
  private readonly insert: Statement<[string, number, string, string]>;
  private readonly deleteOlderThan: Statement<[number]>;
  private readonly deleteBeyondNewest: Statement<[{ vmId: string; keep: number }]>;
  private readonly queries: QueryCache<EventRow>;
  private readonly maxEventsPerVm: number;
  private readonly maxAgeMs: number;
  private readonly pruneEvery: number;
  private readonly now: () => number;
  /** VMs written to since the last pruning: only they can have grown past the cap. */
  private readonly touched = new Set<string>();
  private insertsSincePrune = 0;
  private readonly pruneInTransaction: () => void;

  constructor(db: Database, options: RetentionOptions = {}) {
    this.maxEventsPerVm = options.maxEventsPerVm ?? 10_000;
    this.maxAgeMs = (options.maxAgeDays ?? 30) * dayMs;
    this.pruneEvery = options.pruneEvery ?? 500;
    this.now = options.now ?? Date.now;
    this.insert = db.prepare('INSERT INTO events (vm_id, time, type, data) VALUES (?, ?, ?, ?)');
    this.deleteOlderThan = db.prepare('DELETE FROM events WHERE time < ?');
    // Keeps the newest N rows of one VM: the id of its (N+1)-th newest row
    // bounds the rest; fewer rows make the bound NULL and delete nothing.
    this.deleteBeyondNewest = db.prepare(
      `DELETE FROM events WHERE vm_id = @vmId AND id <= (
         SELECT id FROM events WHERE vm_id = @vmId ORDER BY id DESC LIMIT 1 OFFSET @keep)`,
    );
    this.queries = new QueryCache(db, 'events', {
      vmId: 'vm_id = @vmId',
      types: 'type IN (SELECT value FROM json_each(@types))',
      since: 'time >= @since',
      before: 'id < @before',
    });
    this.pruneInTransaction = db.transaction(() => this.pruneNow());
    // A restart may come after a long downtime or with a smaller bound.
    for (const vmId of db.prepare('SELECT DISTINCT vm_id FROM events').pluck().all() as string[]) this.touched.add(vmId);
    this.prune();
  }

  /**
   * Stores an event worth keeping and returns its row id; returns null for
   * what the history does not keep (epochs, console lines, periodic checkpoints).
   */
  recordEvent(event: TelemetryEvent | CheckpointSummaryEvent): number | null {
    if (!isHistoryEvent(event)) return null;
    const { lastInsertRowid } = this.insert.run(event.vmId, event.time, event.type, toJson(event, `the ${event.type} event`));
    this.touched.add(event.vmId);
    if (++this.insertsSincePrune >= this.pruneEvery) this.prune();
    return Number(lastInsertRowid);
  }

  /** Enforces the retention bounds now; normally left to recordEvent. */
  prune(): void {
    this.pruneInTransaction();
  }

  /** Newest first. */
  queryEvents(query: EventQuery = {}): HistoryRecord[] {
    const { limit, types, ...filters } = query;
    const typeList = types && types.length > 0 ? JSON.stringify(types) : undefined;
    return this.queries.run({ ...filters, types: typeList }, clampLimit(limit)).map(toRecord);
  }

  private pruneNow(): void {
    this.deleteOlderThan.run(this.now() - this.maxAgeMs);
    for (const vmId of this.touched) this.deleteBeyondNewest.run({ vmId, keep: this.maxEventsPerVm });
    this.touched.clear();
    this.insertsSincePrune = 0;
  }
}

function toRecord(row: EventRow): HistoryRecord {
  const event = fromJson<HistoryEvent>(row.data, `event ${row.id}`);
  return { ...event, id: row.id };
}
