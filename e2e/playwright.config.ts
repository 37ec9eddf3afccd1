import { defineConfig } from '@playwright/test';
import { launchOptions } from './lib/browser.ts';
import { hasKvm } from './lib/rig.ts';

// Where the servers and their VMs run in the KVM rig (no /dev/kvm here,
// global-setup.ts) they run several times slower: the waits stretch with them.
const slowdown = !hasKvm() && process.env.UCKPT_E2E_IN_RIG === '1' ? 3 : 1;

// One worker: the tests share one server and its VMs, and two cores.
export default defineConfig({
  testDir: 'tests',
  globalSetup: './global-setup.ts',
  outputDir: 'artifacts/test-results',
  workers: 1,
  fullyParallel: false,
  timeout: 180_000 * slowdown,
  expect: { timeout: 20_000 * slowdown },
  reporter: [['list']],
  use: {
    browserName: 'chromium',
    launchOptions,
    viewport: { width: 1440, height: 1000 },
    screenshot: 'only-on-failure',
    trace: 'off',
  },
});
