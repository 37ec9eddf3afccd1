// Starts the real server once for the whole run (the root set-up builds it and
// the dashboard); the returned teardown stops whichever server is current.
// Without /dev/kvm or Chromium the tests are skipped with a banner saying why
// (where the host has no /dev/kvm, e2e/kvm-rig/tests.sh --browser-only runs them in the KVM rig).
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromiumPath } from './lib/browser.ts';
import { artifactsDir, cliPath, freePort, repoRoot, serverInfo, startServer, stopServer } from './lib/server.ts';

function missingPrerequisite(): string | null {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    return 'no readable and writable /dev/kvm: the end-to-end tests need real KVM VMs (`bash e2e/kvm-rig/tests.sh --browser-only` runs them in the KVM rig)';
  }
  if (!existsSync(chromiumPath)) return `no Chromium at ${chromiumPath} (apt-get install chromium, or set UCKPT_CHROMIUM)`;
  return null;
}

export default async function globalSetup() {
  const missing = missingPrerequisite();
  if (missing) {
    process.env.UCKPT_E2E_SKIP = missing;
    console.log(`\n*** end-to-end tests skipped: ${missing} ***\n`);
    return;
  }
  if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run the set-up (bash scripts/setup.sh) first`);
  if (!existsSync(path.join(repoRoot, 'apps/web/dist/index.html'))) throw new Error('apps/web/dist is missing: run pnpm build:web (the set-up does)');
  mkdirSync(path.join(artifactsDir, 'screenshots'), { recursive: true });
  const stateDir = mkdtempSync(path.join(tmpdir(), 'uckpt-e2e-'));
  await startServer({ port: await freePort(), stateDir, log: path.join(artifactsDir, 'server.log') });
  return async () => {
    const { pid, stateDir: dir } = serverInfo();
    await stopServer(pid, 'SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  };
}
