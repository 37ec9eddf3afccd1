// Telling one process from another that later got the same pid: a process
// is its pid plus its start time (clock ticks after boot, field 22 of
// /proc/PID/stat), which no later process with that pid can share.
import { readFileSync } from 'node:fs';

export interface ProcessIdentity {
  pid: number;
  startTime: number;
}

interface ProcessStat {
  state: string;
  startTime: number;
}

/** The state letter and start time of a process; null when there is none with that pid. */
function readStat(pid: number): ProcessStat | null {
  if (!Number.isSafeInteger(pid) || pid <= 0) return null;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // "pid (comm) S ppid ...": comm may hold spaces and parentheses; the fields follow the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const startTime = Number(fields[19]);
  return fields[0] && Number.isSafeInteger(startTime) ? { state: fields[0], startTime } : null;
}

/** This process, or the one with `pid` if it runs (zombies included); null otherwise. */
export function processIdentity(pid = process.pid): ProcessIdentity | null {
  const stat = readStat(pid);
  return stat ? { pid, startTime: stat.startTime } : null;
}

/** Whether `identity` still names a running process (not a zombie waiting to be reaped). */
export function isRunning(identity: ProcessIdentity): boolean {
  const stat = readStat(identity.pid);
  return stat !== null && stat.startTime === identity.startTime && stat.state !== 'Z';
}

/** The process's arguments (argv), or null when it is gone or unreadable. */
export function commandLine(pid: number): string[] | null {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return raw.length === 0 ? null : raw.replace(/\0$/, '').split('\0');
  } catch {
    return null;
  }
}
