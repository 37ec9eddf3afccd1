// Starts the real server once for the whole run (the root set-up builds it and
// the dashboard); the returned teardown stops whichever server is current.
// Where this host has no /dev/kvm and UCKPT_E2E_IN_RIG=1 (`pnpm test:e2e:rig`)
// the servers and their VMs run in the KVM rig (lib/rig.ts), the browser
// here. Without Chromium, or without KVM, the tests are skipped with a
// banner saying why.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromiumPath } from './lib/browser.ts';
import { bootRig, hasKvm, rigUnavailable, stopRig } from './lib/rig.ts';
import { artifactsDir, cliPath, freePort, repoRoot, serverInfo, startServer, stopServer } from './lib/server.ts';

/** Where this host has no /dev/kvm: whether to run the servers in the KVM rig (`pnpm test:e2e:rig`). */
const inRig = !hasKvm() && process.env.UCKPT_E2E_IN_RIG === '1';

function missingPrerequisite(): string | null {
  if (!hasKvm()) {
    // Not yet by default: under emulation some of the tests still fail (README, "What runs where").
    if (!inRig) return 'no readable and writable /dev/kvm: the end-to-end tests need real KVM VMs (`pnpm test:e2e:rig` runs their servers in the KVM rig)';
    const why = rigUnavailable(repoRoot);
    if (why) return `no readable and writable /dev/kvm, and ${why}: the end-to-end tests need real KVM VMs`;
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
  const port = await freePort();
  let rig: Awaited<ReturnType<typeof bootRig>> | null = null;
  if (inRig) {
    console.log('this host has no /dev/kvm: the servers and their VMs run in the KVM rig (e2e/kvm-rig), the browser here');
    rig = await bootRig({ repoRoot, controlPort: await freePort(), serverPort: port, share: artifactsDir, log: path.join(artifactsDir, 'rig.log') });
  }
  await startServer({ port, stateDir, log: path.join(artifactsDir, 'server.log') });
  return async () => {
    const { pid, stateDir: dir } = serverInfo();
    await stopServer(pid, 'SIGTERM');
    if (rig) await stopRig(rig);
    rmSync(dir, { recursive: true, force: true });
  };
}
