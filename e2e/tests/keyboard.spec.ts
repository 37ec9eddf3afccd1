// The dashboard works without a mouse: sign in, open a VM, switch tabs and the
// chart window, open and dismiss the rollback dialog, all from the keyboard.
import { expect, test } from '@playwright/test';
import { serverInfo, tokens } from '../lib/server.ts';

test.skip(!!process.env.UCKPT_E2E_SKIP, process.env.UCKPT_E2E_SKIP);

test('usable by keyboard alone', async ({ page }) => {
  await page.goto(serverInfo().url);
  await expect(page.getByLabel('Token')).toBeFocused();
  await page.keyboard.type(tokens.operator);
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('role')).toHaveText('operator');

  const link = page.getByTestId('vm-table').getByRole('link', { name: 'demo', exact: true });
  await link.focus();
  await page.keyboard.press('Enter');
  await expect(page.getByTestId('vm-detail')).toBeVisible();

  // Chart window: a radio group, arrow keys change it.
  await page.getByRole('radio', { name: '1 min' }).focus();
  await page.keyboard.press('ArrowRight');
  await expect(page.getByRole('radio', { name: '10 min' })).toBeChecked();

  // Tabs: arrow keys move the selection and the focus.
  await page.getByRole('tab', { name: 'Alerts & events' }).focus();
  await page.keyboard.press('ArrowRight');
  await expect(page.getByRole('tab', { name: 'Console' })).toHaveAttribute('aria-selected', 'true');
  await expect(page.getByRole('tab', { name: 'Console' })).toBeFocused();
  await expect(page.getByTestId('console')).toBeVisible();

  // The rollback dialog takes the focus (on Cancel) and Escape dismisses it, changing nothing.
  await page.getByTestId('rollback-safe').focus();
  await page.keyboard.press('Enter');
  const dialog = page.getByRole('dialog');
  await expect(dialog).toBeVisible();
  await expect(dialog.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await page.keyboard.press('Escape');
  await expect(dialog).toBeHidden();
  await expect(page.getByTestId('timeline-result')).toHaveCount(0);
});
