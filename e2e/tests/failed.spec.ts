// A VM whose guest refuses its parameters fails, and the dashboard says why.
import { expect, test } from '@playwright/test';
import { api, tokens } from '../lib/server.ts';
import { openVm, shot, signIn } from './helpers.ts';

test.skip(!!process.env.UCKPT_E2E_SKIP, process.env.UCKPT_E2E_SKIP);

test('a failed VM is shown with its reason', async ({ page }) => {
  // 16 MiB cannot hold a 256 MiB hash table: the guest refuses to start its work.
  const vm = await api<{ id: string }>('POST', '/api/vms', { name: 'e2e-too-small', workload: 'hashtable', memoryMiB: 16, size: 256, repeat: 1 });
  try {
    await signIn(page, tokens.operator);
    const row = page.locator(`tr[data-vm-id="${vm.id}"]`);
    await expect(row.getByTestId('vm-state')).toHaveText(/failed|crashed/, { timeout: 60_000 });
    await expect(row.locator('.reason')).not.toBeEmpty();
    await page.screenshot({ path: shot('list-failed') });
    await openVm(page, 'e2e-too-small');
    await expect(page.getByTestId('failed-banner')).toContainText(/memory|refused|guest/i);
  } finally {
    await api('DELETE', `/api/vms/${vm.id}`).catch(() => {});
  }
});
