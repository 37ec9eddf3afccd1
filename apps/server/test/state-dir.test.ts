// The state directory holds the tokens, the audit log and the agents'
// sockets: the server trusts it only when it is its user's alone, creates
// it privately, and never shares it with a second server.
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Service } from '../src/service/service.js';
import { UnsafeStateError } from '../src/service/state-dir.js';
import { cliPath, tokenEnv } from './helper.js';

let dir: string;
let stateDir: string;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'uckpt-state-'));
  stateDir = path.join(dir, 'state');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const open = () => Service.open({ stateDir, env: {}, log: () => undefined, processMetrics: false });
const mode = (file: string) => statSync(file).mode & 0o777;
const isRoot = process.getuid?.() === 0;

describe('a new state directory', () => {
  it('is created private: directory 0700, database and tokens 0600', async () => {
    const service = await open();
    try {
      expect(mode(stateDir)).toBe(0o700);
      expect(mode(path.join(stateDir, 'uckpt.db'))).toBe(0o600);
      expect(mode(path.join(stateDir, 'operator.token'))).toBe(0o600);
      expect(mode(path.join(stateDir, 'viewer.token'))).toBe(0o600);
    } finally {
      await service.close({ stopAgents: true });
    }
  });
});

describe('an unsafe state directory is refused, saying what to fix, and nothing in it changes', () => {
  const cases: [string, () => void, RegExp][] = [
    ['a directory others may read', () => mkdirSync(stateDir, { mode: 0o755 }), /state directory .* has mode 0755: group or others may read or change it; run chmod go=/],
    ['a group-writable agents/', () => {
      mkdirSync(path.join(stateDir, 'agents'), { recursive: true, mode: 0o700 });
      chmodSync(stateDir, 0o700);
      chmodSync(path.join(stateDir, 'agents'), 0o770);
    }, /agents has mode 0770/],
    ['a world-readable token file', () => {
      mkdirSync(stateDir, { mode: 0o700 });
      writeFileSync(path.join(stateDir, 'operator.token'), 'a-token-of-thirty-two-characters-x\n', { mode: 0o644 });
      chmodSync(path.join(stateDir, 'operator.token'), 0o644);
    }, /operator\.token has mode 0644/],
    ['a state directory that is a symbolic link', () => {
      mkdirSync(path.join(dir, 'elsewhere'), { mode: 0o700 });
      symlinkSync(path.join(dir, 'elsewhere'), stateDir);
    }, /is a symbolic link; use the real path/],
  ];
  if (isRoot) {
    cases.push(['a directory of another user', () => {
      mkdirSync(stateDir, { mode: 0o700 });
      chownSync(stateDir, 65534, 65534);
    }, /belongs to uid 65534, not to this server's user \(uid 0\); chown it or use another --state-dir/]);
  }

  it.each(cases)('%s', async (_, prepare, message) => {
    prepare();
    const before = readdirSync(stateDir).sort();
    await expect(open()).rejects.toThrow(UnsafeStateError);
    await expect(open()).rejects.toThrow(message);
    expect(readdirSync(stateDir).sort()).toEqual(before);
    expect(existsSync(path.join(stateDir, 'uckpt.db'))).toBe(false);
  });

  it('`uckpt serve` exits with the message, not a stack trace', async () => {
    mkdirSync(stateDir, { mode: 0o750 });
    const main = cliPath;
    const failure = await promisify(execFile)(process.execPath, [main, 'serve', '--state-dir', stateDir, '--port', '0'], { env: { PATH: process.env.PATH } }).then(
      () => null,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure?.code).toBe(2);
    expect(failure?.stderr).toMatch(/refusing to start: the state directory .* has mode 0750/);
    expect(failure?.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('a second server on the same state directory', () => {
  it('is refused while the first runs, and welcome once it has stopped', async () => {
    const first = await Service.open({ stateDir, env: tokenEnv, log: () => undefined, processMetrics: false });
    try {
      await expect(Service.open({ stateDir, env: tokenEnv, log: () => undefined, processMetrics: false })).rejects.toThrow(/another uckpt server uses the state directory/);
    } finally {
      await first.close({ stopAgents: true });
    }
    const second = await Service.open({ stateDir, env: tokenEnv, log: () => undefined, processMetrics: false });
    await second.close({ stopAgents: true });
  });
});
