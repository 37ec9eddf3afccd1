// The state directory holds the tokens, the database with the audit log,
// and the agents' control sockets: whoever can write there controls the VMs.
// The server trusts it only when it is this user's alone, and refuses to
// start otherwise, saying what to fix. It creates what is missing privately.
import { lstatSync, mkdirSync, type Stats } from 'node:fs';
import path from 'node:path';
import { InstanceLock } from '@uckpt/engine';

export class UnsafeStateError extends Error {
  override readonly name = 'UnsafeStateError';
}

/** What must be private, if it exists: the directory, its agents/, the tokens, the database. */
const privateEntries = ['.', 'agents', 'operator.token', 'viewer.token', 'uckpt.db'];

/** Creates the state directory (0700) if missing, then refuses it unless it and what it holds are private. */
export function prepareStateDir(stateDir: string): void {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const uid = process.getuid?.();
  for (const entry of privateEntries) {
    const file = path.join(stateDir, entry);
    let stats: Stats;
    try {
      stats = lstatSync(file);
    } catch {
      continue;
    }
    const what = entry === '.' ? `the state directory ${file}` : file;
    if (stats.isSymbolicLink()) throw new UnsafeStateError(`refusing to start: ${what} is a symbolic link; use the real path`);
    if (uid !== undefined && stats.uid !== uid) {
      throw new UnsafeStateError(`refusing to start: ${what} belongs to uid ${stats.uid}, not to this server's user (uid ${uid}); chown it or use another --state-dir`);
    }
    if ((stats.mode & 0o077) !== 0) {
      const mode = (stats.mode & 0o777).toString(8).padStart(4, '0');
      throw new UnsafeStateError(`refusing to start: ${what} has mode ${mode}: group or others may read or change it; run chmod go= ${file}`);
    }
  }
}

/** Holds the state directory for this server's life; refuses a second server on the same one. */
export function lockStateDir(stateDir: string): InstanceLock {
  const lock = InstanceLock.tryAcquire(path.join(stateDir, 'server.lock'));
  if (!lock) throw new UnsafeStateError(`refusing to start: another uckpt server uses the state directory ${stateDir}`);
  return lock;
}
