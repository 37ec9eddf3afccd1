// The database schema as an ordered list of forward migrations. A database
// records the last version applied; opening it applies the rest in one
// transaction, so a crash mid-upgrade leaves the previous schema intact.
// Released migrations are never edited: a change is a new entry.
import type { Database } from 'better-sqlite3';
import { EngineError } from '@uckpt/engine';

export interface Migration {
  version: number;
  /** SQL run once, inside the upgrade transaction. */
  up: string;
}

export const migrations: readonly Migration[] = [
  {
    version: 1,
    up: `
      CREATE TABLE vms (
        id TEXT PRIMARY KEY,
        spec TEXT NOT NULL CHECK (json_valid(spec)),
        settings TEXT NOT NULL CHECK (json_valid(settings)),
        created_at INTEGER NOT NULL,
        agent_pid INTEGER,
        agent_socket TEXT,
        state TEXT NOT NULL,
        reason TEXT
      ) STRICT;

      CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        time INTEGER NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('operator', 'viewer')),
        token_label TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT,
        parameters TEXT CHECK (parameters IS NULL OR json_valid(parameters)),
        result TEXT NOT NULL,
        client TEXT
      ) STRICT;
      CREATE INDEX audit_by_target ON audit (target, id);
      CREATE INDEX audit_by_action ON audit (action, id);
      CREATE INDEX audit_by_time ON audit (time);
      -- The audit log is evidence: no code path may rewrite or erase it,
      -- including a future bug or a hand-typed statement in the sqlite3 shell.
      CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: rows cannot be updated'); END;
      CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: rows cannot be deleted'); END;

      CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        vm_id TEXT NOT NULL,
        time INTEGER NOT NULL,
        type TEXT NOT NULL,
        data TEXT NOT NULL CHECK (json_valid(data))
      ) STRICT;
      CREATE INDEX events_by_vm ON events (vm_id, id);
      CREATE INDEX events_by_time ON events (time);
    `,
  },
  {
    // Automatic recovery acts on its own: its steps are audited as 'system'.
    // SQLite cannot change a CHECK constraint in place, so the table is
    // copied; dropping it does not fire the append-only triggers.
    version: 2,
    up: `
      CREATE TABLE audit_v2 (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        time INTEGER NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('operator', 'viewer', 'system')),
        token_label TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT,
        parameters TEXT CHECK (parameters IS NULL OR json_valid(parameters)),
        result TEXT NOT NULL,
        client TEXT
      ) STRICT;
      INSERT INTO audit_v2 SELECT * FROM audit;
      DROP TABLE audit;
      ALTER TABLE audit_v2 RENAME TO audit;
      CREATE INDEX audit_by_target ON audit (target, id);
      CREATE INDEX audit_by_action ON audit (action, id);
      CREATE INDEX audit_by_time ON audit (time);
      CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: rows cannot be updated'); END;
      CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: rows cannot be deleted'); END;
    `,
  },
  {
    // Version 3, for the hardening of the service:
    // - the audit log also records requests without a valid token ('anonymous');
    // - old audit rows move to compressed archive files (store/audit-archive.ts).
    //   A row may be deleted only once archived: audit_archived holds the id up
    //   to which rows are in archive files, and it can only grow;
    // - the agent's start time, which with its pid identifies the process (pids are reused).
    version: 3,
    up: `
      ALTER TABLE vms ADD COLUMN agent_start_time INTEGER;

      CREATE TABLE audit_v3 (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        time INTEGER NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('operator', 'viewer', 'system', 'anonymous')),
        token_label TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT,
        parameters TEXT CHECK (parameters IS NULL OR json_valid(parameters)),
        result TEXT NOT NULL,
        client TEXT
      ) STRICT;
      INSERT INTO audit_v3 SELECT * FROM audit;
      DROP TABLE audit;
      ALTER TABLE audit_v3 RENAME TO audit;
      CREATE INDEX audit_by_target ON audit (target, id);
      CREATE INDEX audit_by_action ON audit (action, id);
      CREATE INDEX audit_by_time ON audit (time);

      CREATE TABLE audit_archived (through_id INTEGER NOT NULL) STRICT;
      INSERT INTO audit_archived (through_id) VALUES (0);
      CREATE TRIGGER audit_archived_one_row_insert BEFORE INSERT ON audit_archived
        BEGIN SELECT RAISE(ABORT, 'audit_archived has exactly one row'); END;
      CREATE TRIGGER audit_archived_one_row_delete BEFORE DELETE ON audit_archived
        BEGIN SELECT RAISE(ABORT, 'audit_archived has exactly one row'); END;
      CREATE TRIGGER audit_archived_forward BEFORE UPDATE ON audit_archived WHEN NEW.through_id < OLD.through_id
        BEGIN SELECT RAISE(ABORT, 'the archived part of the audit log only grows'); END;

      CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: rows cannot be updated'); END;
      CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit WHEN OLD.id > (SELECT through_id FROM audit_archived)
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: only archived rows can be deleted'); END;
    `,
  },
];

export const latestSchemaVersion = migrations.at(-1)?.version ?? 0;

/** The version a database is at; 0 for a new (or empty) file. */
export function schemaVersion(db: Database): number {
  db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL) STRICT');
  const version = db.prepare('SELECT max(version) FROM schema_version').pluck().get() as number | null;
  return version ?? 0;
}

/**
 * Brings the database up to the newest migration in `list`. Refuses a
 * database written by a newer server rather than guessing at its schema.
 */
export function migrate(db: Database, list: readonly Migration[] = migrations): number {
  const upgrade = db.transaction(() => {
    const current = schemaVersion(db);
    const newest = list.at(-1)?.version ?? 0;
    if (current > newest) {
      throw new EngineError(
        'internal',
        `the database ${db.name} is at schema version ${current}, newer than this server knows (${newest}); ` +
          'run a newer uckpt or point --state-dir elsewhere',
      );
    }
    for (const migration of list) {
      if (migration.version <= current) continue;
      db.exec(migration.up);
      db.prepare('DELETE FROM schema_version').run();
      db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(migration.version);
    }
    return newest;
  });
  return upgrade.immediate();
}
