// Fault injection from the dashboard into a real KVM VM: a hang injected
// from the fault panel is caught by the heartbeat detector, the alert shows
// its evidence, latency bound, action and outcome, and the recovery
// rollback brings the guest back to making progress.
import { expect, test } from '@playwright/test';
import { api, tokens } from '../lib/server.ts';
import { openVm, shot, signIn } from './helpers.ts';

test.skip(!!process.env.UCKPT_E2E_SKIP, process.env.UCKPT_E2E_SKIP);

interface Vm {
  id: string;
  state: string;
}

test('inject a fault and see the alert appear, and the recovery rollback', async ({ page }) => {
  // Its own VM: 64 checkpoints at 50 ms cover the heartbeat's latency bound (500 ms + sampling).
  const vm = await api<Vm>('POST', '/api/vms', {
    name: 'e2e-faults',
    workload: 'graph',
    memoryMiB: 256,
    repeat: 0,
    settings: { intervalMs: 50, retention: 64, hangTimeoutMs: 500, recurrenceWindowMs: 2500 },
  });
  try {
    await signIn(page, tokens.operator);
    await openVm(page, 'e2e-faults');
    await expect(page.getByTestId('vm-state')).toHaveText('running', { timeout: 60_000 });
    // The list is fetched while it is on screen, as for a user who scrolls to it.
    await page.getByRole('region', { name: 'Checkpoints' }).scrollIntoViewIfNeeded();
    const rows = page.getByTestId('checkpoint-table').locator('tbody tr');
    await expect.poll(() => rows.count(), { timeout: 30_000 }).toBeGreaterThan(20);

    await page.getByRole('tab', { name: /Fault injection/ }).click();
    await expect(page.getByTestId('fault-panel')).toContainText('For testing');
    await page.getByTestId('fault-panel').getByRole('radio', { name: /^Hang/ }).check();
    await page.getByRole('button', { name: 'Inject fault' }).click();
    await expect(page.getByTestId('fault-panel')).toContainText(/Injected inj-[0-9a-f]+: .*jmp-self loop/);
    await expect(page.getByTestId('injections').locator('li').first()).toHaveAttribute('data-outcome', 'recovered', { timeout: 30_000 });
    await expect(page.getByTestId('injections')).toContainText(/detected by heartbeat after \d+ ms; recovered \(1 rollback/);

    await page.getByRole('tab', { name: 'Alerts & events' }).click();
    const alert = page.getByTestId('events-panel').locator('li[data-type=alert]').first();
    await expect(alert).toBeVisible({ timeout: 30_000 });
    await expect(alert).toContainText('heartbeat');
    await expect(alert).toContainText(/latency bound \d+ ms; action: rollback, rolling back to checkpoint \d+/);
    await expect(alert).toContainText(/Evidence: .*stalledMs \d+/);
    await expect(alert.getByTestId('alert-outcome')).toHaveText(/^recovered \(1 rollback, running from #\d+\)$/);
    await expect(page.getByTestId('events-panel').locator('li[data-type=rollback]').first()).toContainText(/Recovery rollback to #\d+/);
    await expect(page.getByTestId('events-panel').locator('li[data-type=recovery]').first()).toContainText('recovered');
    await expect(page.getByTestId('vm-state')).toHaveText('running');
    await page.getByTestId('events-panel').screenshot({ path: shot('alerts') });
  } finally {
    await api('DELETE', `/api/vms/${vm.id}`).catch(() => {});
  }
});
