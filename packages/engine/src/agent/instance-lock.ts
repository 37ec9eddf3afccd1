// A lock a process holds for its whole life and the kernel releases when it
// dies, however it dies (SIGKILL included): one agent per VM, one server
// per state directory. Node has no flock(); SQLite's file locks are POSIX
// record locks taken by the kernel on the process's behalf, so an exclusive
// transaction left open on a small database file is exactly such a lock.
// Nothing is ever written to the file.
import Database from 'better-sqlite3';

export class InstanceLock {
  readonly #db: Database.Database;

  private constructor(db: Database.Database) {
    this.#db = db;
  }

  /** Takes the lock at `path`, waiting up to `waitMs` for a holder that is letting go; null if another process holds it. */
  static tryAcquire(path: string, waitMs = 1000): InstanceLock | null {
    const db = new Database(path, { timeout: waitMs });
    try {
      db.exec('BEGIN EXCLUSIVE');
      return new InstanceLock(db);
    } catch (error) {
      db.close();
      if (isBusy(error)) return null;
      throw error;
    }
  }

  /** Whether a live process holds the lock at `path` (probing takes it for an instant). */
  static isHeld(path: string): boolean {
    const lock = InstanceLock.tryAcquire(path, 0);
    lock?.release();
    return lock === null;
  }

  /** The files a lock at `path` may leave: the file and, after its holder was killed, SQLite's journal beside it. */
  static files(path: string): string[] {
    return [path, `${path}-journal`];
  }

  release(): void {
    if (this.#db.open) this.#db.close();
  }
}

function isBusy(error: unknown): boolean {
  const code = (error as { code?: string }).code;
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED';
}
