import { defineConfig } from '@playwright/test';
import { launchOptions } from './lib/browser.ts';

// Under emulation (in the KVM rig, e2e/kvm-rig) the browser, the server and
// the VMs all run several times slower: the waits stretch with them.
const slowdown = process.env.UCKPT_KVM_RIG === '1' ? 3 : 1;

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
