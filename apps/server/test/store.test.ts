// The server's SQLite store: VM definitions that survive a restart, an audit
// log nothing can rewrite, and an event history that stays bounded and never
// holds per-epoch rows. Long: one file for the one database, its migrations
// and each of its tables, so that their interplay is tested in one place.
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  defaultSettings,
  type AlertEvent,
  type CheckpointEvent,
  type ConsoleEvent,
  type EpochEvent,
  type RollbackEvent,
  type VmSpec,
  type VmStateEvent,
} from '@uckpt/engine';
import {
  auditResult,
  EpochSummarizer,
  latestSchemaVersion,
  migrate,
  migrations,
  schemaVersion,
  Store,
  type AuditEntry,
  type CheckpointSummaryEvent,
  type Migration,
} from '../src/store/index.js';

const spec: VmSpec = {
  name: 'web-1',
  backend: 'kvm',
  workload: 'hashtable',
  memoryMiB: 256,
  vcpus: 1,
  seed: 7,
  size: 0,
  param: 0,
  repeat: 0,
};

let dir: string;
let stateDir: string;
const opened: Store[] = [];

function open(options?: ConstructorParameters<typeof Store>[1]): Store {
  const store = new Store(stateDir, options);
  opened.push(store);
  return store;
}

/** A second, independent connection: what anyone with the file could do. */
function rawDb(): Database.Database {
  return new Database(join(stateDir, 'uckpt.db'));
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'uckpt-store-'));
  stateDir = join(dir, 'state');
});

afterEach(() => {
  for (const store of opened.splice(0)) store.close();
  rmSync(dir, { recursive: true, force: true });
});

function epoch(vmId: string, seq: number, fields: Partial<EpochEvent> = {}): EpochEvent {
  return {
    type: 'epoch',
    vmId,
    time: 1_000_000 + seq * 50,
    seq,
    mode: 'cow',
    intervalMs: 50,
    dirtyPages: 10,
    pagesCopied: 10,
    pagesPrecopied: 0,
    pauseUs: 100,
    faults: 0,
    faultUs: 0,
    lateUs: 0,
    predicted: 0,
    truePositives: 0,
    falsePositives: 0,
    misses: 0,
    precision: null,
    recall: null,
    storeBytes: 4096,
    checkpointsRetained: 8,
    progressRate: 1000,
    overheadPct: null,
    coalesced: 0,
    ...fields,
  };
}

function alert(vmId: string, time: number): AlertEvent {
  return {
    type: 'alert',
    vmId,
    time,
    detector: 'checksum',
    message: 'guest checksum mismatch',
    evidence: { expected: 'abc', got: 'abd' },
    latencyBoundMs: 100,
    action: 'rollback',
  };
}

const audit = (fields: Partial<AuditEntry> = {}): AuditEntry => ({
  role: 'operator',
  tokenLabel: 'env:UCKPT_OPERATOR_TOKEN',
  action: 'vm.config',
  target: 'vm-1',
  parameters: { intervalMs: 20 },
  result: 'ok',
  client: '127.0.0.1',
  ...fields,
});

describe('opening', () => {
  it('creates the state directory (0700) and the database (0600) and migrates it', () => {
    const store = open();
    expect(statSync(stateDir).mode & 0o777).toBe(0o700);
    expect(statSync(store.path).mode & 0o777).toBe(0o600);
    expect(store.schemaVersion).toBe(latestSchemaVersion);
    const db = rawDb();
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
  });

  it('migrates an existing empty file', () => {
    open().close();
    rmSync(stateDir, { recursive: true });
    mkdirSync(stateDir, { mode: 0o700 });
    writeFileSync(join(stateDir, 'uckpt.db'), '');
    const store = open();
    expect(store.schemaVersion).toBe(latestSchemaVersion);
    expect(store.listVms()).toEqual([]);
    expect(store.queryAudit()).toEqual([]);
    expect(store.queryEvents()).toEqual([]);
  });

  it('refuses a database from a newer server', () => {
    open().close();
    const db = rawDb();
    db.prepare('UPDATE schema_version SET version = ?').run(latestSchemaVersion + 1);
    db.close();
    expect(() => open()).toThrow(/newer than this server knows/);
  });
});

describe('migrate', () => {
  const v1: Migration = { version: 1, up: 'CREATE TABLE t (a INTEGER) STRICT' };
  const v2: Migration = { version: 2, up: 'ALTER TABLE t ADD COLUMN b TEXT' };

  it('applies only the migrations a database lacks, keeping its data', () => {
    const db = new Database(':memory:');
    expect(schemaVersion(db)).toBe(0);
    expect(migrate(db, [v1])).toBe(1);
    db.prepare('INSERT INTO t (a) VALUES (1)').run();
    expect(migrate(db, [v1, v2])).toBe(2);
    expect(migrate(db, [v1, v2])).toBe(2);
    expect(db.prepare('SELECT a, b FROM t').all()).toEqual([{ a: 1, b: null }]);
    db.close();
  });

  it('leaves the database at its old version when a migration fails', () => {
    const db = new Database(':memory:');
    migrate(db, [v1]);
    const broken: Migration = { version: 2, up: 'ALTER TABLE t ADD COLUMN c TEXT; SELECT * FROM missing' };
    expect(() => migrate(db, [v1, broken])).toThrow(/no such table/);
    expect(schemaVersion(db)).toBe(1);
    expect(db.prepare('SELECT name FROM pragma_table_info(?)').pluck().all('t')).toEqual(['a']);
    db.close();
  });
});

describe('schema version 2', () => {
  it("keeps the audit rows of version 1, admits the 'system' actor, and stays append-only", () => {
    const db = new Database(':memory:');
    migrate(db, migrations.slice(0, 1));
    db.prepare("INSERT INTO audit (time, role, token_label, action, target, parameters, result, client) VALUES (1, 'operator', 'env', 'vm.create', 'vm-1', NULL, 'ok', '127.0.0.1')").run();
    expect(() => db.prepare("INSERT INTO audit (time, role, token_label, action, result) VALUES (2, 'system', 'x', 'y', 'ok')").run()).toThrow(/CHECK/);
    expect(migrate(db, migrations.slice(0, 2))).toBe(2);
    db.prepare("INSERT INTO audit (time, role, token_label, action, result) VALUES (2, 'system', 'automatic recovery', 'recovery.alert', 'ok')").run();
    expect(db.prepare('SELECT id, role, action FROM audit ORDER BY id').all()).toEqual([
      { id: 1, role: 'operator', action: 'vm.create' },
      { id: 2, role: 'system', action: 'recovery.alert' },
    ]);
    expect(() => db.prepare("INSERT INTO audit (time, role, token_label, action, result) VALUES (3, 'root', 'x', 'y', 'ok')").run()).toThrow(/CHECK/);
    expect(() => db.prepare('DELETE FROM audit').run()).toThrow(/append-only/);
    expect(() => db.prepare("UPDATE audit SET result = 'x'").run()).toThrow(/append-only/);
    db.close();
  });

  it('stored settings from before the detection fields get their defaults', () => {
    const dir = mkdtempSync(join(tmpdir(), 'uckpt-store-'));
    try {
      const store = new Store(dir);
      const { autoRecover: _, hangTimeoutMs: __, ...old } = defaultSettings;
      store.insertVm({ id: 'vm-aa', spec: { name: 'a', backend: 'sim', workload: 'graph', memoryMiB: 64, vcpus: 1, seed: 1, size: 0, param: 0, repeat: 0 }, settings: old as typeof defaultSettings });
      expect(store.getVm('vm-aa')?.settings).toEqual(defaultSettings);
      store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('VM definitions', () => {
  it('round-trip through insert, update, list and delete', () => {
    const store = open();
    const vm = store.insertVm({ spec, settings: defaultSettings, createdAt: 1234, agentSocket: '/run/uckpt/vm.sock' });
    expect(vm.id).toMatch(/^vm-[0-9a-f]{12}$/);
    expect(vm).toEqual({
      id: vm.id,
      spec,
      settings: defaultSettings,
      createdAt: 1234,
      agent: null,
      agentSocket: '/run/uckpt/vm.sock',
      state: 'starting',
      reason: null,
    });

    const settings = { ...defaultSettings, intervalMs: 20, mode: 'cow' as const };
    store.updateSettings(vm.id, settings);
    store.updateAgent(vm.id, { pid: 4242, startTime: 987654 });
    store.markState(vm.id, 'failed', 'agent exited with signal SIGKILL');
    expect(store.getVm(vm.id)).toEqual({
      ...vm,
      settings,
      agent: { pid: 4242, startTime: 987654 },
      state: 'failed',
      reason: 'agent exited with signal SIGKILL',
    });
    store.markState(vm.id, 'running');
    expect(store.getVm(vm.id)?.reason).toBeNull();

    const other = store.insertVm({ id: 'vm-other', spec: { ...spec, name: 'web-2' }, settings: defaultSettings, createdAt: 2000 });
    expect(store.listVms().map((v) => v.id)).toEqual([vm.id, other.id]);
    store.deleteVm(vm.id);
    expect(store.getVm(vm.id)).toBeUndefined();
    expect(store.listVms().map((v) => v.id)).toEqual([other.id]);
  });

  it('name the unknown VM id and the duplicate one', () => {
    const store = open();
    for (const act of [
      () => store.updateSettings('vm-nope', defaultSettings),
      () => store.updateAgent('vm-nope', { pid: 1, startTime: 1 }),
      () => store.markState('vm-nope', 'failed', 'x'),
      () => store.deleteVm('vm-nope'),
    ]) {
      expect(act).toThrow(expect.objectContaining({ code: 'not-found', message: 'no VM with id vm-nope' }));
    }
    store.insertVm({ id: 'vm-1', spec, settings: defaultSettings });
    expect(() => store.insertVm({ id: 'vm-1', spec, settings: defaultSettings })).toThrow(
      expect.objectContaining({ code: 'conflict', message: 'a VM with id vm-1 already exists' }),
    );
  });

  it('refuse a value JSON cannot hold', () => {
    const store = open();
    const cyclic: Record<string, unknown> = { ...spec };
    cyclic.self = cyclic;
    expect(() => store.insertVm({ spec: cyclic as unknown as VmSpec, settings: defaultSettings })).toThrow(
      expect.objectContaining({ code: 'invalid-argument', message: expect.stringMatching(/^the VM spec cannot be stored as JSON/) }),
    );
    expect(store.listVms()).toEqual([]);
  });
});

describe('persistence across restarts', () => {
  it('keeps VMs, audit rows and events when the database is reopened', () => {
    const first = open();
    const vm = first.insertVm({ spec, settings: defaultSettings });
    first.updateAgent(vm.id, { pid: 99, startTime: 5 });
    first.appendAudit(audit({ target: vm.id }));
    first.recordEvent(alert(vm.id, Date.now()));
    first.close();

    const second = open();
    expect(second.getVm(vm.id)).toEqual({ ...vm, agent: { pid: 99, startTime: 5 } });
    expect(second.queryAudit({ vmId: vm.id })).toHaveLength(1);
    expect(second.queryEvents({ vmId: vm.id }).map((e) => e.type)).toEqual(['alert']);
  });
});

describe('audit log', () => {
  it('returns rows newest first, filtered and paged', () => {
    const store = open();
    store.appendAudit(audit({ time: 100, action: 'vm.create', target: null, parameters: { name: 'web-1' } }));
    store.appendAudit(audit({ time: 200, action: 'vm.config', target: 'vm-1' }));
    store.appendAudit(
      audit({ time: 300, action: 'vm.rollback', target: 'vm-1', parameters: { to: 'safe' }, result: auditResult({ code: 'rollback-refused', message: 'no safe checkpoint' }) }),
    );
    store.appendAudit(audit({ time: 400, action: 'vm.config', target: 'vm-2', parameters: undefined }));

    const all = store.queryAudit();
    expect(all.map((row) => row.time)).toEqual([400, 300, 200, 100]);
    expect(all[1]).toEqual({
      id: all[1]?.id,
      time: 300,
      role: 'operator',
      tokenLabel: 'env:UCKPT_OPERATOR_TOKEN',
      action: 'vm.rollback',
      target: 'vm-1',
      parameters: { to: 'safe' },
      result: 'error: rollback-refused no safe checkpoint',
      client: '127.0.0.1',
    });
    expect(all[0]?.parameters).toBeNull();
    expect(store.queryAudit({ vmId: 'vm-1' }).map((row) => row.time)).toEqual([300, 200]);
    expect(store.queryAudit({ action: 'vm.config' }).map((row) => row.time)).toEqual([400, 200]);
    expect(store.queryAudit({ since: 200, vmId: 'vm-1', action: 'vm.config' }).map((row) => row.time)).toEqual([200]);
    const page1 = store.queryAudit({ limit: 2 });
    const page2 = store.queryAudit({ limit: 2, before: page1.at(-1)?.id ?? 0 });
    expect([...page1, ...page2].map((row) => row.time)).toEqual([400, 300, 200, 100]);
  });

  it('bounds the page size at 1000', () => {
    const store = open();
    for (let i = 0; i < 1005; i++) store.appendAudit(audit({ time: Date.now() + i }));
    expect(store.queryAudit({ limit: 5000 })).toHaveLength(1000);
    expect(store.queryAudit({ limit: 0 })).toHaveLength(1);
    expect(store.queryAudit()).toHaveLength(100);
  });

  it('cannot be updated or deleted, even through another connection', () => {
    const store = open();
    store.appendAudit(audit());
    const db = rawDb();
    try {
      expect(() => db.prepare("UPDATE audit SET result = 'ok', role = 'viewer'").run()).toThrow(
        'the audit log is append-only: rows cannot be updated',
      );
      expect(() => db.prepare('DELETE FROM audit').run()).toThrow('the audit log is append-only: only archived rows can be deleted');
      // The archived range only moves forward, and only the store moves it (after writing the archive file).
      expect(() => db.prepare('UPDATE audit_archived SET through_id = -1').run()).toThrow('the archived part of the audit log only grows');
      expect(() => db.prepare('DELETE FROM audit_archived').run()).toThrow('audit_archived has exactly one row');
    } finally {
      db.close();
    }
    expect(store.queryAudit()).toEqual([expect.objectContaining({ role: 'operator', result: 'ok' })]);
  });

  it('refuses parameters JSON cannot hold', () => {
    const store = open();
    expect(() => store.appendAudit(audit({ parameters: { big: 1n } }))).toThrow(
      expect.objectContaining({ code: 'invalid-argument', message: expect.stringMatching(/^the audit parameters cannot be stored as JSON/) }),
    );
  });
});

describe('audit retention', () => {
  const day = 86_400_000;
  const now = 1_800_000_000_000;
  const archiveDir = () => join(stateDir, 'audit-archive');
  const archivedRows = (file: string) =>
    gunzipSync(readFileSync(join(archiveDir(), file))).toString('utf8').trim().split('\n').map((line) => JSON.parse(line) as { id: number; action: string });

  it('moves rows past the row bound, oldest first, into a read-only compressed file', () => {
    const store = open({ auditRetention: { maxRows: 10 } });
    for (let i = 1; i <= 25; i++) store.appendAudit(audit({ time: now - 1000 + i, action: `vm.action-${i}` }));
    expect(store.archiveAudit(now)).toBe(15);
    expect(store.queryAudit({ limit: 1000 }).map((row) => row.id)).toEqual([25, 24, 23, 22, 21, 20, 19, 18, 17, 16]);
    expect(readdirSync(archiveDir())).toEqual(['audit-00000001-00000015.jsonl.gz']);
    expect(statSync(join(archiveDir(), 'audit-00000001-00000015.jsonl.gz')).mode & 0o777).toBe(0o400);
    const rows = archivedRows('audit-00000001-00000015.jsonl.gz');
    expect(rows.map((row) => row.id)).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    expect(rows[4]).toMatchObject({ action: 'vm.action-5', role: 'operator', time: now - 995 });
    expect(store.archiveAudit(now)).toBe(0);
  });

  it('moves rows older than the age bound, and never rewrites an archive file', () => {
    const store = open({ auditRetention: { maxAgeDays: 30 } });
    for (let i = 1; i <= 4; i++) store.appendAudit(audit({ time: now - 40 * day + i }));
    for (let i = 1; i <= 3; i++) store.appendAudit(audit({ time: now - day + i }));
    expect(store.archiveAudit(now)).toBe(4);
    const first = readFileSync(join(archiveDir(), 'audit-00000001-00000004.jsonl.gz'));
    expect(store.queryAudit({ limit: 1000 })).toHaveLength(3);

    expect(store.archiveAudit(now + 30 * day)).toBe(3);
    expect(readdirSync(archiveDir()).sort()).toEqual(['audit-00000001-00000004.jsonl.gz', 'audit-00000005-00000007.jsonl.gz']);
    expect(readFileSync(join(archiveDir(), 'audit-00000001-00000004.jsonl.gz'))).toEqual(first);
    expect(store.queryAudit()).toEqual([]);
  });

  it('a move interrupted after its file was written is finished, not repeated, by the next one', () => {
    // State B is state A just before A's move released its rows: same database, file already written.
    const store = open({ auditRetention: { maxRows: 2 } });
    for (let i = 1; i <= 6; i++) store.appendAudit(audit({ time: now + i }));
    store.close();
    opened.splice(opened.indexOf(store), 1);
    const crashed = join(dir, 'crashed');
    mkdirSync(join(crashed, 'audit-archive'), { recursive: true, mode: 0o700 });
    copyFileSync(join(stateDir, 'uckpt.db'), join(crashed, 'uckpt.db'));

    const finished = open({ auditRetention: { maxRows: 2 } });
    expect(finished.archiveAudit(now)).toBe(4);
    copyFileSync(join(archiveDir(), 'audit-00000001-00000004.jsonl.gz'), join(crashed, 'audit-archive', 'audit-00000001-00000004.jsonl.gz'));

    const resumed = new Store(crashed, { auditRetention: { maxRows: 2 } });
    opened.push(resumed);
    expect(resumed.queryAudit({ limit: 1000 })).toHaveLength(6);
    resumed.archiveAudit(now);
    expect(resumed.queryAudit({ limit: 1000 }).map((row) => row.id)).toEqual([6, 5]);
    expect(readdirSync(join(crashed, 'audit-archive'))).toEqual(['audit-00000001-00000004.jsonl.gz']);
  });

  it('the database itself refuses to drop a row that no archive file holds', () => {
    const store = open({ auditRetention: { maxRows: 2 } });
    for (let i = 1; i <= 5; i++) store.appendAudit(audit({ time: now + i }));
    store.archiveAudit(now);
    const db = rawDb();
    try {
      expect(() => db.prepare('DELETE FROM audit WHERE id = 5').run()).toThrow(/only archived rows can be deleted/);
      expect(() => db.prepare('UPDATE audit_archived SET through_id = 1').run()).toThrow(/only grows/);
    } finally {
      db.close();
    }
    expect(store.queryAudit({ limit: 1000 }).map((row) => row.id)).toEqual([5, 4]);
  });

  it('archives on its own every 1000 appends', () => {
    const store = open({ auditRetention: { maxRows: 100 } });
    for (let i = 0; i < 1000; i++) store.appendAudit(audit({ time: now + i }));
    expect(store.queryAudit({ limit: 1000 })).toHaveLength(100);
    expect(readdirSync(archiveDir())).toEqual(['audit-00000001-00000900.jsonl.gz']);
  });
});

describe('event history', () => {
  const manual: CheckpointEvent = { type: 'checkpoint', vmId: 'vm-1', time: 10, seq: 5, pages: 3, bytes: 12288, manual: true };
  const rollback: RollbackEvent = {
    type: 'rollback',
    vmId: 'vm-1',
    time: 20,
    target: 'safe',
    cause: 'recovery',
    ok: true,
    seq: 4,
    pagesRestored: 17,
    checkpointsDropped: 1,
    durationUs: 900,
  };
  const state: VmStateEvent = { type: 'vm-state', vmId: 'vm-1', time: 30, state: 'failed', reason: 'agent died' };

  it('keeps alerts, rollbacks, state changes and manual checkpoints, never epochs', () => {
    const store = open();
    const line: ConsoleEvent = { type: 'console', vmId: 'vm-1', time: 1, line: 'hello' };
    const periodic: CheckpointEvent = { ...manual, manual: false };
    expect(store.recordEvent(epoch('vm-1', 1))).toBeNull();
    expect(store.recordEvent(line)).toBeNull();
    expect(store.recordEvent(periodic)).toBeNull();
    for (const event of [manual, rollback, state, alert('vm-1', 40)]) expect(store.recordEvent(event)).toEqual(expect.any(Number));

    const db = rawDb();
    expect(db.prepare('SELECT type FROM events ORDER BY id').pluck().all()).toEqual(['checkpoint', 'rollback', 'vm-state', 'alert']);
    db.close();
    const history = store.queryEvents({ vmId: 'vm-1' });
    expect(history.map((e) => e.type)).toEqual(['alert', 'vm-state', 'rollback', 'checkpoint']);
    expect(history[2]).toEqual({ ...rollback, id: history[2]?.id });
  });

  it('filters by VM, type, time and page', () => {
    const store = open();
    store.recordEvent(manual);
    store.recordEvent(rollback);
    store.recordEvent({ ...state, vmId: 'vm-2' });
    store.recordEvent(alert('vm-1', 40));
    expect(store.queryEvents({ types: ['rollback', 'alert'] }).map((e) => e.time)).toEqual([40, 20]);
    expect(store.queryEvents({ types: [] })).toHaveLength(4);
    expect(store.queryEvents({ vmId: 'vm-2' }).map((e) => e.type)).toEqual(['vm-state']);
    expect(store.queryEvents({ vmId: 'vm-1', since: 20 }).map((e) => e.time)).toEqual([40, 20]);
    const [newest] = store.queryEvents({ limit: 1 });
    expect(store.queryEvents({ vmId: 'vm-1', before: newest?.id ?? 0 }).map((e) => e.time)).toEqual([20, 10]);
  });

  it('keeps at most maxEventsPerVm rows per VM, pruned every pruneEvery inserts', () => {
    const now = 10_000_000;
    const store = open({ maxEventsPerVm: 5, pruneEvery: 4, now: () => now });
    const count = (vmId: string) => store.queryEvents({ vmId, limit: 1000 }).length;
    for (let i = 0; i < 7; i++) store.recordEvent(alert('vm-a', now + i));
    // Seven inserts: pruned after the fourth (nothing to do), not yet after the seventh.
    expect(count('vm-a')).toBe(7);
    store.recordEvent(alert('vm-b', now));
    expect(count('vm-a')).toBe(5);
    expect(store.queryEvents({ vmId: 'vm-a' }).map((e) => e.time)).toEqual([6, 5, 4, 3, 2].map((i) => now + i));
    expect(count('vm-b')).toBe(1);
  });

  it('drops events older than maxAgeDays, also when reopened later', () => {
    const day = 86_400_000;
    let now = 100 * day;
    const store = open({ maxAgeDays: 30, pruneEvery: 1000, now: () => now });
    store.recordEvent(alert('vm-a', now - 31 * day));
    store.recordEvent(alert('vm-a', now - 29 * day));
    store.recordEvent(alert('vm-a', now));
    store.pruneEvents();
    expect(store.queryEvents().map((e) => e.time)).toEqual([now, now - 29 * day]);
    store.close();

    now += 2 * day;
    const later = open({ maxAgeDays: 30, now: () => now });
    expect(later.queryEvents().map((e) => e.time)).toEqual([now - 2 * day]);
  });

  it('stays bounded under a long stream of events', () => {
    const store = open({ maxEventsPerVm: 100, pruneEvery: 500 });
    const t0 = Date.now();
    for (let i = 0; i < 3000; i++) store.recordEvent(alert(`vm-${i % 3}`, t0 + i));
    const db = rawDb();
    const perVm = db.prepare('SELECT vm_id, count(*) AS n FROM events GROUP BY vm_id').all() as { n: number }[];
    db.close();
    expect(perVm).toHaveLength(3);
    for (const { n } of perVm) expect(n).toBe(100);
  });
});

describe('epoch summaries', () => {
  function collect(): { sink: { recordEvent(e: CheckpointSummaryEvent): void }; written: CheckpointSummaryEvent[] } {
    const written: CheckpointSummaryEvent[] = [];
    return { sink: { recordEvent: (e) => written.push(e) }, written };
  }

  it('summarizes each VM’s epochs from known inputs', () => {
    const { sink, written } = collect();
    const summarizer = new EpochSummarizer(sink, { now: () => 5_000_000 });
    // Pauses 1..100 µs in a shuffled order; dirty pages 0..99; faults 2 each.
    const order = Array.from({ length: 100 }, (_, i) => (i * 37) % 100);
    for (const [n, i] of order.entries()) {
      summarizer.observe(
        epoch('vm-1', 1 + n, {
          pauseUs: i + 1,
          dirtyPages: i,
          pagesCopied: 1,
          pagesPrecopied: 2,
          faults: 2,
          faultUs: 3,
          lateUs: n % 10 === 0 ? 1500 : 0,
          overheadPct: n < 50 ? null : i % 2 === 0 ? 4 : 6,
          coalesced: n === 10 ? 3 : 0,
          storeBytes: 1000 + n,
          checkpointsRetained: Math.min(n + 1, 8),
        }),
      );
    }
    summarizer.observe(epoch('vm-2', 9, { pauseUs: 42, dirtyPages: 5, overheadPct: 12.5 }));
    summarizer.observe(alert('vm-3', 1));

    expect(summarizer.flush()).toEqual(written);
    expect(written).toHaveLength(2);
    const [vm1, vm2] = written;
    expect(vm1).toEqual({
      type: 'checkpoint-summary',
      vmId: 'vm-1',
      time: 5_000_000,
      from: 1_000_050,
      to: 1_000_000 + 100 * 50,
      firstSeq: 1,
      lastSeq: 100,
      epochs: 100,
      coalesced: 3,
      mode: 'cow',
      intervalMs: 50,
      storeBytes: 1099,
      checkpointsRetained: 8,
      dirtyPagesMean: 49.5,
      dirtyPagesMax: 99,
      pagesCopied: 100,
      pagesPrecopied: 200,
      pauseUsP50: 50,
      pauseUsP99: 99,
      pauseUsMax: 100,
      faults: 200,
      faultUs: 300,
      lateUs: 15_000,
      overheadPctMean: expect.any(Number),
    });
    // The calibrated half: i runs over (n*37)%100 for n = 50..99, i.e. 50 values
    // alternating in parity since 37 is odd: 25 at 4 % and 25 at 6 %.
    expect(vm1?.overheadPctMean).toBe(5);
    expect(vm2).toMatchObject({ vmId: 'vm-2', epochs: 1, pauseUsP50: 42, pauseUsP99: 42, dirtyPagesMean: 5, overheadPctMean: 12.5 });
    expect(summarizer.flush()).toEqual([]);
  });

  it('reports null overhead for a window with no calibrated epoch', () => {
    const { sink, written } = collect();
    const summarizer = new EpochSummarizer(sink);
    summarizer.observe(epoch('vm-1', 1));
    summarizer.flush();
    expect(written[0]?.overheadPctMean).toBeNull();
  });

  it('keeps a bounded sample of pauses beyond maxSamplesPerVm', () => {
    const { sink, written } = collect();
    const summarizer = new EpochSummarizer(sink, { maxSamplesPerVm: 64 });
    for (let i = 1; i <= 10_000; i++) summarizer.observe(epoch('vm-1', i, { pauseUs: i }));
    summarizer.flush();
    expect(written[0]).toMatchObject({ epochs: 10_000, pauseUsMax: 10_000 });
    expect(written[0]?.pauseUsP50).toBeGreaterThan(0);
    expect(written[0]?.pauseUsP50).toBeLessThanOrEqual(10_000);
  });

  it('writes a row per VM into the history every interval, and what is left on stop', () => {
    vi.useFakeTimers();
    try {
      const store = open();
      const summarizer = new EpochSummarizer(store, { intervalSeconds: 60 });
      summarizer.start();
      for (let i = 1; i <= 10; i++) {
        store.recordEvent(epoch('vm-1', i));
        summarizer.observe(epoch('vm-1', i));
      }
      summarizer.observe(epoch('vm-2', 1));
      vi.advanceTimersByTime(59_000);
      expect(store.queryEvents()).toEqual([]);
      vi.advanceTimersByTime(1_000);
      expect(store.queryEvents({ types: ['checkpoint-summary'] }).map((e) => e.vmId).sort()).toEqual(['vm-1', 'vm-2']);
      expect(store.queryEvents({ vmId: 'vm-1' })).toEqual([expect.objectContaining({ type: 'checkpoint-summary', epochs: 10 })]);

      summarizer.observe(epoch('vm-1', 11));
      summarizer.stop();
      expect(store.queryEvents({ vmId: 'vm-1' })).toHaveLength(2);
      vi.advanceTimersByTime(600_000);
      expect(store.queryEvents()).toHaveLength(3);
    } finally {
      vi.useRealTimers();
    }
  });

  it('reports a failed timer-driven write instead of throwing from the timer', () => {
    vi.useFakeTimers();
    try {
      const onError = vi.fn();
      const summarizer = new EpochSummarizer(
        {
          recordEvent: () => {
            throw new Error('disk full');
          },
        },
        { intervalSeconds: 1, onError },
      );
      summarizer.start();
      summarizer.observe(epoch('vm-1', 1));
      vi.advanceTimersByTime(1000);
      expect(onError).toHaveBeenCalledWith(new Error('disk full'));
      summarizer.forget('vm-1');
    } finally {
      vi.useRealTimers();
    }
  });

  it('forgets a deleted VM’s partial window', () => {
    const { sink, written } = collect();
    const summarizer = new EpochSummarizer(sink);
    summarizer.observe(epoch('vm-1', 1));
    summarizer.forget('vm-1');
    summarizer.flush();
    expect(written).toEqual([]);
  });
});
