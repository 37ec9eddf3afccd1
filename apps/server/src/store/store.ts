// The server's durable state in one SQLite file under the state directory:
// VM definitions, the audit log and the event history. Opening it creates
// the directory (0700) and the file (0600) when missing and brings the
// schema up to date.
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { CheckpointSettings, TelemetryEvent, VmState } from '@uckpt/engine';
import { AuditLog, type AuditEntry, type AuditQuery, type AuditRecord } from './audit.js';
import { AuditArchive, type AuditRetention } from './audit-archive.js';
import type { CheckpointSummaryEvent } from './epoch-summarizer.js';
import { EventHistory, type EventQuery, type HistoryRecord, type RetentionOptions } from './event-history.js';
import { migrate } from './migrations.js';
import { VmTable, type AgentIdentity, type NewVm, type VmRecord } from './vms.js';

export const databaseFileName = 'uckpt.db';

export interface StoreOptions extends RetentionOptions {
  auditRetention?: Partial<AuditRetention>;
}

/** Audit inserts between two archivals (the service also archives at start and hourly). */
const archiveEvery = 1000;

export class Store {
  readonly path: string;
  readonly schemaVersion: number;
  private readonly db: Database.Database;
  private readonly vms: VmTable;
  private readonly audit: AuditLog;
  private readonly events: EventHistory;
  private readonly archive: AuditArchive;
  private auditInserts = 0;

  constructor(stateDir: string, options: StoreOptions = {}) {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    this.path = join(stateDir, databaseFileName);
    // The audit log names clients and token labels: owner-only from the
    // start (SQLite gives its -wal and -shm files the same mode).
    closeSync(openSync(this.path, 'a', 0o600));
    this.db = new Database(this.path, { timeout: 5000 });
    try {
      this.db.pragma('journal_mode = WAL');
      // With WAL, NORMAL loses at most the last transactions on power loss, never consistency.
      this.db.pragma('synchronous = NORMAL');
      this.schemaVersion = migrate(this.db);
      this.vms = new VmTable(this.db);
      this.audit = new AuditLog(this.db);
      this.events = new EventHistory(this.db, options);
      this.archive = new AuditArchive(this.db, stateDir, options.auditRetention);
    } catch (error) {
      this.db.close();
      throw error;
    }
  }

  insertVm(vm: NewVm): VmRecord {
    return this.vms.insertVm(vm);
  }

  /** Replaces the VM's settings; throws not-found for an unknown id. */
  updateSettings(id: string, settings: CheckpointSettings): void {
    this.vms.updateSettings(id, settings);
  }

  /** Which process is the VM's agent; null once it is gone. */
  updateAgent(id: string, agent: AgentIdentity | null): void {
    this.vms.updateAgent(id, agent);
  }

  markState(id: string, state: VmState, reason: string | null = null): void {
    this.vms.markState(id, state, reason);
  }

  /** The VM's audit rows and event history stay: they outlive it. */
  deleteVm(id: string): void {
    this.vms.deleteVm(id);
  }

  getVm(id: string): VmRecord | undefined {
    return this.vms.getVm(id);
  }

  listVms(): VmRecord[] {
    return this.vms.listVms();
  }

  /** Returns the new row's id. */
  appendAudit(entry: AuditEntry): number {
    const id = this.audit.appendAudit(entry);
    if (++this.auditInserts % archiveEvery === 0) this.archiveAudit();
    return id;
  }

  /** Moves audit rows past the retention bounds into archive files; returns how many moved. */
  archiveAudit(now?: number): number {
    return this.archive.archive(now);
  }

  queryAudit(query: AuditQuery = {}): AuditRecord[] {
    return this.audit.queryAudit(query);
  }

  /** Returns the row id, or null for events the history does not keep (epochs, console, periodic checkpoints). */
  recordEvent(event: TelemetryEvent | CheckpointSummaryEvent): number | null {
    return this.events.recordEvent(event);
  }

  queryEvents(query: EventQuery = {}): HistoryRecord[] {
    return this.events.queryEvents(query);
  }

  /** Applies the event retention bounds now (recordEvent does so every few hundred inserts). */
  pruneEvents(): void {
    this.events.prune();
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
