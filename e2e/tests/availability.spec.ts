// The availability panel evaluates the model for the VM, and applying its
// recommendation changes the interval the server reports.
import { expect, test } from '@playwright/test';
import { api, tokens } from '../lib/server.ts';
import { openVm, shot, signIn } from './helpers.ts';

test.skip(!!process.env.UCKPT_E2E_SKIP, process.env.UCKPT_E2E_SKIP);

interface Vm { id: string; name: string; settings: { intervalMs: number } }

test('the availability panel shows the model and applies its interval', async ({ page, browser }) => {
  const { vms } = await api<{ vms: Vm[] }>('GET', '/api/vms');
  const demo = vms.find((v) => v.name === 'demo')!;
  const before = demo.settings.intervalMs;
  await signIn(page, tokens.operator);
  await openVm(page, 'demo');
  await page.getByRole('tab', { name: 'Availability' }).click();
  const panel = page.getByTestId('availability');
  await expect(panel.getByTestId('availability-now')).toHaveText(/^\d{2,3}\.\d+ %$/);
  const recommended = Number.parseInt((await panel.getByTestId('availability-recommended').textContent()) ?? '', 10);
  expect(recommended).toBeGreaterThan(0);
  await panel.screenshot({ path: shot('availability') });

  try {
    const apply = panel.getByRole('button', { name: /^Apply/ });
    if (recommended === before) {
      await expect(apply).toBeDisabled();
      return;
    }
    await apply.click();
    await expect(panel.getByRole('status')).toHaveText(`Applied: the interval is now ${recommended} ms.`);
    const after = await api<Vm>('GET', `/api/vms/${demo.id}`);
    expect(after.settings.intervalMs).toBe(recommended);
    // A viewer sees the model but cannot apply it.
    const viewer = await browser.newPage();
    await signIn(viewer, tokens.viewer);
    await openVm(viewer, 'demo');
    await viewer.getByRole('tab', { name: 'Availability' }).click();
    await expect(viewer.getByTestId('availability-now')).toBeVisible();
    await expect(viewer.getByTestId('availability').getByRole('button', { name: /^Apply/ })).toHaveCount(0);
    await viewer.close();
  } finally {
    await api('PATCH', `/api/vms/${demo.id}/config`, { intervalMs: before });
  }
});
