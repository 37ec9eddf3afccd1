// Starts the real server once for the whole run (the root set-up builds it and
// the dashboard); the returned teardown stops whichever server is current.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { artifactsDir, cliPath, freePort, serverInfo, startServer, stopServer } from './lib/server.ts';
import { existsSync } from 'node:fs';

export default async function globalSetup() {
  if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run the set-up (bash scripts/setup.sh) first`);
  mkdirSync(path.join(artifactsDir, 'screenshots'), { recursive: true });
  const stateDir = mkdtempSync(path.join(tmpdir(), 'uckpt-e2e-'));
  await startServer({ port: await freePort(), stateDir, log: path.join(artifactsDir, 'server.log') });
  return async () => {
    const { pid, stateDir: dir } = serverInfo();
    await stopServer(pid, 'SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  };
}
