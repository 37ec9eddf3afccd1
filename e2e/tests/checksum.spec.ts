// A finite workload rolled back during its run from the dashboard still ends
// with the checksum of the same computation run as a host program.
import { expect, test } from '@playwright/test';
import { api, tokens } from '../lib/server.ts';
import { hostChecksum, openVm, signIn } from './helpers.ts';

test.skip(!!process.env.UCKPT_E2E_SKIP, process.env.UCKPT_E2E_SKIP);

interface Vm {
  id: string;
  state: string;
  progress: { runsDone: number; lastChecksum: string | null };
}

const workload = { workload: 'dp', size: 9000, seed: 3 };

test('rollback during a run: the workload ends with the host checksum', async ({ page }) => {
  const expected = await hostChecksum(['--workload', workload.workload, '--size', String(workload.size), '--seed', String(workload.seed)]);
  const vm = await api<Vm>('POST', '/api/vms', {
    name: 'e2e-dp',
    ...workload,
    memoryMiB: 256,
    repeat: 1,
    settings: { intervalMs: 100, retention: 64 },
  });
  try {
    await signIn(page, tokens.operator);
    await openVm(page, 'e2e-dp');
    await expect(page.getByTestId('vm-state')).toHaveText('running', { timeout: 60_000 });
    // Wait for a few checkpoints, then roll back to the oldest one shown.
    // The list is fetched while it is on screen, as for a user who scrolls to it.
    await page.getByRole('region', { name: 'Checkpoints' }).scrollIntoViewIfNeeded();
    const rows = page.getByTestId('checkpoint-table').locator('tbody tr');
    await expect.poll(() => rows.count(), { timeout: 30_000 }).toBeGreaterThan(5);
    const seq = Number(await rows.last().getAttribute('data-seq'));
    await rows.last().getByRole('button', { name: /Roll back to checkpoint/ }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Roll back' }).click();
    await expect(page.getByTestId('timeline-result')).toHaveText(new RegExp(`Rolled back to checkpoint #${seq}`));

    await expect(page.getByTestId('vm-state')).toHaveText('finished', { timeout: 150_000 });
    const done = await api<Vm>('GET', `/api/vms/${vm.id}`);
    expect(done.progress.runsDone).toBe(1);
    expect(done.progress.lastChecksum).toBe(expected);
    await expect(page.getByTestId('checksum')).toHaveText(expected);
  } finally {
    await api('DELETE', `/api/vms/${vm.id}`).catch(() => {});
  }
});
