// Attaching a Xen domain from the dashboard: the form asks for its domid,
// switches prediction off, and shows the server's refusal on a host
// without Xen (this one) with nothing created.
import { existsSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { api, tokens } from '../lib/server.ts';
import { signIn } from './helpers.ts';

test.skip(!!process.env.UCKPT_E2E_SKIP, process.env.UCKPT_E2E_SKIP);
test.skip(existsSync('/proc/xen/privcmd'), 'this host runs Xen: the refusal checked here does not apply');

test('the Xen option asks for a domid and shows why this host cannot attach it', async ({ page }) => {
  const before = (await api<{ vms: unknown[] }>('GET', '/api/vms')).vms.length;
  await signIn(page, tokens.operator);
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'New VM' }).click();
  await page.getByLabel('Name').fill('xen-attach');
  await page.getByLabel('Dirty-page predictor').selectOption('cost');
  await page.getByLabel('Backend').selectOption('xen');
  await expect(page.getByLabel('Dirty-page predictor')).toHaveValue('off');
  await page.getByRole('button', { name: /Create/ }).click();
  await expect(page.getByLabel('Domain id')).toHaveAttribute('aria-invalid', 'true');
  await page.getByLabel('Domain id').fill('7');
  await page.getByRole('button', { name: /Create/ }).click();
  await expect(page.getByRole('alert')).toHaveText(/The server refused: .*no Xen hypervisor \(privcmd\) found/, { timeout: 30_000 });
  expect((await api<{ vms: unknown[] }>('GET', '/api/vms')).vms.length).toBe(before);
});
