// Fault injection arrives with the error-detection work; until the server has
// the endpoint, the panel says so and this test is skipped.
import { expect, test } from '@playwright/test';
import { serverInfo, tokens } from '../lib/server.ts';
import { openVm, signIn } from './helpers.ts';

test.skip(!!process.env.UCKPT_E2E_SKIP, process.env.UCKPT_E2E_SKIP);

test('inject a fault and see the alert appear', async ({ page }) => {
  await signIn(page, tokens.operator);
  await openVm(page, 'demo');
  const id = await page.getByTestId('vm-detail').getAttribute('data-vm-id');
  // An empty body is refused (400) by a server with the route and injects nothing; 404/501 means no route.
  const probe = await fetch(`${serverInfo().url}/api/vms/${id}/faults`, {
    method: 'POST',
    headers: { authorization: `Bearer ${tokens.operator}`, 'content-type': 'application/json' },
    body: '{}',
  });
  await page.getByRole('tab', { name: /Fault injection/ }).click();
  await expect(page.getByTestId('fault-panel')).toContainText('For testing');
  if (probe.status === 404 || probe.status === 501) {
    await page.getByRole('button', { name: 'Inject fault' }).click();
    await expect(page.getByTestId('fault-panel')).toContainText('not available on this server');
    test.skip(true, `POST /api/vms/:id/faults answers ${probe.status}: fault injection is not on the server yet`);
  }
  await page.getByLabel(/Hang/).check();
  await page.getByRole('button', { name: 'Inject fault' }).click();
  await expect(page.getByTestId('fault-panel')).toContainText('Injected');
  await page.getByRole('tab', { name: 'Alerts & events' }).click();
  await expect(page.getByTestId('events-panel').locator('li[data-type=alert]').first()).toBeVisible({ timeout: 30_000 });
});
