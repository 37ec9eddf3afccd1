// The server goes away and comes back on the same port: the page notices,
// reconnects by itself and shows the same VMs, with no reload.
import { expect, test } from '@playwright/test';
import { serverInfo, startServer, stopServer, tokens } from '../lib/server.ts';
import { shot, signIn } from './helpers.ts';

test.skip(!!process.env.UCKPT_E2E_SKIP, process.env.UCKPT_E2E_SKIP);

test('server restart: the page reconnects by itself and shows the same VMs', async ({ page }) => {
  await signIn(page, tokens.operator);
  const rows = page.getByTestId('vm-table').locator('tbody tr');
  await expect(rows.first()).toBeVisible();
  const before = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-vm-id')));
  const info = serverInfo();

  // SIGHUP stops only the server; its VMs keep running and are re-attached by the next one.
  await stopServer(info.pid, 'SIGHUP');
  await expect(page.getByTestId('connection')).toHaveAttribute('data-status', /disconnected|connecting/);
  await expect(page.locator('.table-wrap.stale')).toHaveCount(1); // stale data greyed
  await page.screenshot({ path: shot('disconnected') });

  await startServer({ port: info.port, stateDir: info.stateDir, log: info.log });
  await expect(page.getByTestId('connection')).toHaveAttribute('data-status', 'live', { timeout: 40_000 });
  await expect.poll(() => rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-vm-id')))).toEqual(before);
  await expect(page.locator('.table-wrap.stale')).toHaveCount(0);
  // Still the same signed-in page: no sign-in form appeared.
  await expect(page.getByLabel('Token')).toHaveCount(0);
});
