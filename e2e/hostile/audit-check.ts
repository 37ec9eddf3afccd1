// "Every mutation attempt is in the audit log", checked row for row: the
// ledger counts, by token label and result code, every mutating request
// that reached the application (whoever sent it: fuzz or harness); the
// audit log is then read back (through GET /api/audit, plus any archive
// files the retention policy wrote) and must hold exactly those rows.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Api, Caller } from './api-client.ts';
import { Tally } from './report.ts';

export class AuditLedger {
  readonly expected = new Tally();
  /** Mutations that by design leave no row (refused at the Host check, or never parsed as HTTP), by why. */
  readonly exempt = new Tally();
  /** A few of the requests behind each key, to explain a difference. */
  readonly samples = new Map<string, string[]>();

  /** A row whose result is unknown (the answer was lost): any code will do. */
  readonly anyCode = new Tally();

  expectAny(tokenLabel: string, what = ''): void {
    this.anyCode.add(tokenLabel);
    const samples = this.samples.get(`${tokenLabel} | (any)`) ?? [];
    if (samples.length < 400) samples.push(what);
    this.samples.set(`${tokenLabel} | (any)`, samples);
  }

  expect(tokenLabel: string, code: string, what = ''): void {
    const key = `${tokenLabel} | ${code}`;
    this.expected.add(key);
    const samples = this.samples.get(key) ?? [];
    if (samples.length < 400) samples.push(what);
    this.samples.set(key, samples);
  }

  exemptFromAudit(why: string): void {
    this.exempt.add(why);
  }
}

export interface AuditRow {
  id: number;
  role: string;
  tokenLabel: string;
  action: string;
  target: string | null;
  result: string;
}

/** The newest row's id now (0 for an empty log): rows after it belong to what follows. */
export async function lastAuditId(api: Api, caller: Caller = 'viewer'): Promise<number> {
  const { entries } = await api.ok<{ entries: AuditRow[] }>('GET', '/api/audit?limit=1', undefined, caller);
  return entries[0]?.id ?? 0;
}

/** Every audit row with an id above `afterId`, from the database (via the API) and the archive files. */
export async function auditRowsAfter(api: Api, stateDir: string, afterId: number, caller: Caller = 'viewer'): Promise<AuditRow[]> {
  const rows = new Map<number, AuditRow>();
  let before: number | undefined;
  for (;;) {
    const query = `/api/audit?limit=1000${before ? `&before=${before}` : ''}`;
    const { entries } = await api.ok<{ entries: AuditRow[] }>('GET', query, undefined, caller);
    for (const entry of entries) if (entry.id > afterId) rows.set(entry.id, entry);
    const oldest = entries.at(-1)?.id;
    if (oldest === undefined || oldest <= afterId || entries.length < 1000) break;
    before = oldest;
  }
  for (const row of archivedRows(stateDir)) if (row.id > afterId && !rows.has(row.id)) rows.set(row.id, row);
  return [...rows.values()].sort((a, b) => a.id - b.id);
}

function archivedRows(stateDir: string): AuditRow[] {
  const dir = path.join(stateDir, 'audit-archive');
  if (!existsSync(dir)) return [];
  const rows: AuditRow[] = [];
  for (const file of readdirSync(dir).filter((name) => name.endsWith('.jsonl.gz'))) {
    for (const line of gunzipSync(readFileSync(path.join(dir, file))).toString('utf8').split('\n')) {
      if (!line) continue;
      const row = JSON.parse(line) as Record<string, unknown>;
      rows.push({
        id: Number(row.id),
        role: String(row.role),
        tokenLabel: String(row.token_label ?? row.tokenLabel),
        action: String(row.action),
        target: (row.target as string | null) ?? null,
        result: String(row.result),
      });
    }
  }
  return rows;
}

/** The row's result code: 'ok' or the CODE of 'error: CODE message'. */
export function resultCode(result: string): string {
  return result === 'ok' ? 'ok' : (/^error: (\S+)/.exec(result)?.[1] ?? result);
}

export interface AuditComparison {
  expectedRows: number;
  auditedRows: number;
  /** Rows the service wrote about itself (automatic recovery, auto-tune): not requests. */
  systemRows: number;
  /** token label | code -> expected minus found; only the keys that differ. */
  differences: Record<string, number>;
  /** For each key that differs: some requests sent and some rows found under it. */
  explanations: Record<string, { sent: string[]; audited: string[] }>;
}

/** Compares the ledger with the rows written after `afterId` (the service's own 'system' rows aside). */
export function compareAudit(ledger: AuditLedger, rows: AuditRow[]): AuditComparison {
  const found = new Tally();
  const foundSamples = new Map<string, string[]>();
  let systemRows = 0;
  for (const row of rows) {
    if (row.role === 'system') {
      systemRows++;
      continue;
    }
    const key = `${row.tokenLabel} | ${resultCode(row.result)}`;
    found.add(key);
    foundSamples.set(key, [...(foundSamples.get(key) ?? []), `${row.action} ${row.target ?? ''}`.slice(0, 160)]);
  }
  const deltas = new Map<string, number>();
  for (const key of new Set([...ledger.expected.counts.keys(), ...found.counts.keys()])) deltas.set(key, ledger.expected.get(key) - found.get(key));
  // Rows of unknown result take up the surplus of found rows under their token label.
  for (const [label, count] of ledger.anyCode.counts) {
    let left = count;
    for (const [key, delta] of deltas) {
      if (left === 0 || delta >= 0 || !key.startsWith(`${label} | `)) continue;
      const taken = Math.min(left, -delta);
      deltas.set(key, delta + taken);
      left -= taken;
    }
    if (left > 0) deltas.set(`${label} | (any)`, left);
  }
  const differences: Record<string, number> = {};
  const explanations: AuditComparison['explanations'] = {};
  for (const [key, delta] of deltas) {
    if (delta === 0) continue;
    differences[key] = delta;
    explanations[key] = { sent: ledger.samples.get(key) ?? [], audited: foundSamples.get(key) ?? [] };
  }
  return { expectedRows: ledger.expected.total + ledger.anyCode.total, auditedRows: found.total, systemRows, differences, explanations };
}
