// The audit log: one row per mutation attempted through the API, whether it
// succeeded or not. Append-only by construction: this module has no update or
// delete, and triggers in the schema refuse them from anywhere else.
import type { Database, Statement } from 'better-sqlite3';
import { fromJson, toJson } from './json.js';
import { clampLimit, QueryCache } from './query.js';

/** Who may hold a token. */
export type Role = 'operator' | 'viewer';
/** Who acted: a token's holder, the service itself (automatic recovery), or a caller without a valid token. */
export type Actor = Role | 'system' | 'anonymous';

export interface AuditEntry {
  /** Unix time in ms; defaults to now. */
  time?: number;
  role: Actor;
  /** The token's label (e.g. 'operator:env'), never the token; for 'anonymous', what it presented ('no token', 'invalid token'). */
  tokenLabel: string;
  /** What was attempted, e.g. 'vm.create', 'vm.config', 'vm.rollback'. */
  action: string;
  /** The VM acted on; null for actions on no particular VM. */
  target: string | null;
  /** The request's parameters as validated (any JSON value); null when there were none. */
  parameters: unknown;
  /** 'ok' or 'error: CODE message'; see auditResult(). */
  result: string;
  /** The client's address as the server saw it. */
  client: string | null;
}

export interface AuditRecord extends Required<AuditEntry> {
  /** Increasing with insertion order; pass the last one seen as `before` to page back. */
  id: number;
}

export interface AuditQuery {
  /** Rows whose target is this VM. */
  vmId?: string;
  action?: string;
  /** Rows at or after this Unix time in ms. */
  since?: number;
  /** Rows older than the row with this id (exclusive), for paging. */
  before?: number;
  /** 1..1000; default 100. */
  limit?: number;
}

/** The result column's text for a success, or for a failure with its code. */
export function auditResult(error?: { code: string; message: string }): string {
  return error ? `error: ${error.code} ${error.message}` : 'ok';
}

interface AuditRow {
  id: number;
  time: number;
  role: Actor;
  token_label: string;
  action: string;
  target: string | null;
  parameters: string | null;
  result: string;
  client: string | null;
}

export class AuditLog {
  private readonly insert: Statement<[Omit<AuditRow, 'id'>]>;
  private readonly queries: QueryCache<AuditRow>;

  constructor(db: Database) {
    this.insert = db.prepare(
      `INSERT INTO audit (time, role, token_label, action, target, parameters, result, client)
       VALUES (@time, @role, @token_label, @action, @target, @parameters, @result, @client)`,
    );
    this.queries = new QueryCache(db, 'audit', {
      vmId: 'target = @vmId',
      action: 'action = @action',
      since: 'time >= @since',
      before: 'id < @before',
    });
  }

  appendAudit(entry: AuditEntry): number {
    const parameters = entry.parameters === undefined || entry.parameters === null ? null : toJson(entry.parameters, 'the audit parameters');
    const { lastInsertRowid } = this.insert.run({
      time: entry.time ?? Date.now(),
      role: entry.role,
      token_label: entry.tokenLabel,
      action: entry.action,
      target: entry.target,
      parameters,
      result: entry.result,
      client: entry.client,
    });
    return Number(lastInsertRowid);
  }

  /** Newest first. */
  queryAudit(query: AuditQuery = {}): AuditRecord[] {
    const { limit, ...filters } = query;
    return this.queries.run(filters, clampLimit(limit)).map(toRecord);
  }
}

function toRecord(row: AuditRow): AuditRecord {
  return {
    id: row.id,
    time: row.time,
    role: row.role,
    tokenLabel: row.token_label,
    action: row.action,
    target: row.target,
    parameters: row.parameters === null ? null : fromJson<unknown>(row.parameters, `the parameters of audit row ${row.id}`),
    result: row.result,
    client: row.client,
  };
}
