// Keeps the audit log's table small without losing a row: rows past the
// retention bounds (age, count) move, oldest first, into gzip-compressed
// JSON-lines files under <state>/audit-archive/, one file per move, named by
// the id range it holds (audit-00000001-00000500.jsonl.gz). A file is
// written whole and made read-only before the rows leave the database, and
// the database lets a row go only once the archived range covers it (see
// migration 3), so a crash at any point loses nothing: a move interrupted
// after its file was written is finished by the next one, which finds the
// same file for the same (immutable) rows.
import { chmodSync, closeSync, existsSync, fsyncSync, linkSync, mkdirSync, openSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Database, Statement } from 'better-sqlite3';

export interface AuditRetention {
  /** Rows older than this move to the archive; default 90 days. */
  maxAgeDays: number;
  /** At most this many rows stay in the database; default 100 000. */
  maxRows: number;
}

export const defaultAuditRetention: AuditRetention = { maxAgeDays: 90, maxRows: 100_000 };
export const auditArchiveDir = 'audit-archive';

/** Rows per archive file: bounds the memory one move takes. */
const rowsPerFile = 20_000;

interface Bounds {
  archivedThrough: number;
  /** Every row up to this id is past a retention bound. */
  cutoff: number;
}

export class AuditArchive {
  readonly dir: string;
  readonly #db: Database;
  readonly #retention: AuditRetention;
  readonly #bounds: Statement<[{ oldest: number }], Bounds>;
  readonly #rows: Statement<[number, number, number], Record<string, unknown>>;
  readonly #advance: Statement<[number]>;
  readonly #release: Statement<[number]>;

  constructor(db: Database, stateDir: string, retention: Partial<AuditRetention> = {}) {
    this.#db = db;
    this.dir = join(stateDir, auditArchiveDir);
    this.#retention = { ...defaultAuditRetention, ...retention };
    this.#bounds = db.prepare(
      `SELECT (SELECT through_id FROM audit_archived) AS archivedThrough,
              max(coalesce((SELECT max(id) FROM audit WHERE time < @oldest), 0),
                  coalesce((SELECT max(id) FROM audit), 0) - ${Math.floor(this.#retention.maxRows)}) AS cutoff`,
    );
    this.#rows = db.prepare('SELECT * FROM audit WHERE id > ? AND id <= ? ORDER BY id LIMIT ?');
    this.#advance = db.prepare('UPDATE audit_archived SET through_id = ?');
    this.#release = db.prepare('DELETE FROM audit WHERE id <= ?');
  }

  /** Moves every row past the retention bounds into archive files; returns how many moved. */
  archive(now = Date.now()): number {
    let moved = 0;
    for (;;) {
      const { archivedThrough, cutoff } = this.#bounds.get({ oldest: now - this.#retention.maxAgeDays * 86_400_000 })!;
      const written = this.#fileStartingAt(archivedThrough + 1);
      if (written !== null) {
        this.#releaseThrough(written);
        continue;
      }
      if (cutoff <= archivedThrough) return moved;
      const rows = this.#rows.all(archivedThrough, cutoff, rowsPerFile);
      if (rows.length === 0) return moved;
      const last = rows.at(-1)!.id as number;
      this.#writeFile(archivedThrough + 1, last, rows);
      this.#releaseThrough(last);
      moved += rows.length;
    }
  }

  #releaseThrough(id: number): void {
    this.#db.transaction(() => {
      this.#advance.run(id);
      this.#release.run(id);
    })();
  }

  /** The last id of an archive file that begins at `first` (left by an interrupted move), or null. */
  #fileStartingAt(first: number): number | null {
    if (!existsSync(this.dir)) return null;
    const prefix = `audit-${pad(first)}-`;
    const name = readdirSync(this.dir).find((file) => file.startsWith(prefix) && file.endsWith('.jsonl.gz'));
    return name ? Number(name.slice(prefix.length, -'.jsonl.gz'.length)) : null;
  }

  #writeFile(first: number, last: number, rows: Record<string, unknown>[]): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const name = `audit-${pad(first)}-${pad(last)}.jsonl.gz`;
    const final = join(this.dir, name);
    const temporary = join(this.dir, `.${name}.${process.pid}.tmp`);
    const data = gzipSync(rows.map((row) => JSON.stringify(row)).join('\n') + '\n');
    const fd = openSync(temporary, 'w', 0o600);
    try {
      writeSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    chmodSync(temporary, 0o400);
    try {
      // A link, not a rename: an archive file is never replaced.
      linkSync(temporary, final);
    } catch (error) {
      // Written by a move that crashed before the rows left the database: the same rows.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    } finally {
      rmSync(temporary, { force: true });
    }
    const dirFd = openSync(this.dir, 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  }
}

function pad(id: number): string {
  return String(id).padStart(8, '0');
}
