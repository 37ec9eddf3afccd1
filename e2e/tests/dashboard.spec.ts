// The dashboard in Chromium against the real server and its real KVM demo VM.
import { expect, test } from '@playwright/test';
import { api, tokens } from '../lib/server.ts';
import { numberIn, openVm, shot, signIn } from './helpers.ts';

test.skip(!!process.env.UCKPT_E2E_SKIP, process.env.UCKPT_E2E_SKIP);

test.describe.configure({ mode: 'serial' });

test('a wrong token is refused and nothing is stored', async ({ page }) => {
  const { serverInfo } = await import('../lib/server.ts');
  await page.goto(serverInfo().url);
  await page.getByLabel('Token').fill('not-the-token-at-all');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByRole('alert')).toHaveText(/refused/);
  expect(await page.evaluate(() => sessionStorage.getItem('uckpt.token'))).toBeNull();
  await expect(page.getByTestId('vm-table')).toHaveCount(0);
});

test('a viewer sees the VMs but no mutating controls', async ({ page }) => {
  await signIn(page, tokens.viewer);
  await expect(page.getByTestId('role')).toHaveText('viewer');
  await expect(page.getByRole('link', { name: 'New VM' })).toHaveCount(0);
  await openVm(page, 'demo');
  await expect(page.getByText('Checkpoint settings')).toBeVisible();
  for (const name of ['Apply', 'Take checkpoint now', 'Roll back to safe…', 'Delete VM…']) await expect(page.getByRole('button', { name })).toHaveCount(0);
  await expect(page.getByRole('button', { name: /Roll back to checkpoint/ })).toHaveCount(0);
  await expect(page.getByRole('tab', { name: /Fault injection/ })).toHaveCount(0);
  await expect(page.getByRole('spinbutton')).toHaveCount(0);
  await expect(page.locator('input:not([type=radio])')).toHaveCount(0);
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.waitForTimeout(3000);
  await page.screenshot({ path: shot('detail-viewer-dark') });
});

test('the charts move and the epoch rate follows a changed interval', async ({ page }) => {
  await signIn(page, tokens.operator);
  await expect(page.getByTestId('role')).toHaveText('operator');
  await page.screenshot({ path: shot('list') });
  await openVm(page, 'demo');
  const chart = page.getByTestId('chart-dirty');
  const path0 = await chart.locator('path.recharts-line-curve').getAttribute('d', { timeout: 20_000 });
  const epochs0 = await numberIn(page, 'epochs');
  await expect.poll(async () => chart.locator('path.recharts-line-curve').getAttribute('d'), { timeout: 10_000 }).not.toBe(path0);
  await expect.poll(() => numberIn(page, 'epochs')).toBeGreaterThan(epochs0);
  // Hovering shows the exact values with their unit.
  const box = (await page.getByTestId('chart-pause').locator('.recharts-surface').boundingBox())!;
  await page.mouse.move(box.x + box.width - 30, box.y + box.height / 2);
  await expect(page.getByTestId('chart-pause').locator('.chart-tip')).toContainText(/p50: [\d.]+ ms/);
  // How late the checkpoints began, in ms per bucket.
  const late = page.getByTestId('chart-late');
  await late.scrollIntoViewIfNeeded();
  const lateBox = (await late.locator('.recharts-surface').boundingBox())!;
  await page.mouse.move(lateBox.x + lateBox.width - 30, lateBox.y + lateBox.height / 2);
  await expect(late.locator('.chart-tip')).toContainText(/late: [\d,]+ ms/);
  await page.mouse.move(0, 0);
  // The demo VM checkpoints every 50 ms: ~20 epochs/s.
  await expect.poll(() => numberIn(page, 'epoch-rate'), { timeout: 15_000 }).toBeGreaterThan(14);
  expect(await numberIn(page, 'epoch-rate')).toBeLessThan(26);

  const controls = page.getByTestId('controls');
  await controls.getByLabel('Interval (ms)').fill('0');
  await expect(controls.getByText('Must be between 1 and 10000 ms.')).toBeVisible();
  await expect(controls.getByRole('button', { name: 'Apply' })).toBeDisabled();
  await controls.getByLabel('Interval (ms)').fill('200');
  await controls.getByRole('button', { name: 'Apply' }).click();
  await expect(page.getByTestId('controls-result')).toHaveText('Applied: intervalMs = 200.');
  // 5 epochs/s once the 5 s measuring span holds only the new interval.
  await expect.poll(() => numberIn(page, 'epoch-rate'), { timeout: 20_000, intervals: [1000] }).toBeLessThan(6.5);
  expect(await numberIn(page, 'epoch-rate')).toBeGreaterThan(3.5);
  await page.screenshot({ path: shot('detail'), fullPage: true });
  const vmPath = `/api/vms/${await page.getByTestId('vm-detail').getAttribute('data-vm-id')}`;
  expect((await api<{ settings: { intervalMs: number } }>('GET', vmPath)).settings.intervalMs).toBe(200);

  // Copying ahead, off and on again.
  const copyAhead = controls.getByLabel(/Copy ahead while the guest runs/);
  await expect(copyAhead).toBeChecked();
  await copyAhead.uncheck();
  await controls.getByRole('button', { name: 'Apply' }).click();
  await expect(page.getByTestId('controls-result')).toHaveText('Applied: precopy = false.');
  expect((await api<{ settings: { precopy: boolean } }>('GET', vmPath)).settings.precopy).toBe(false);
  await copyAhead.check();
  await controls.getByRole('button', { name: 'Apply' }).click();
  await expect(page.getByTestId('controls-result')).toHaveText('Applied: precopy = true.');
});

test('take a checkpoint, roll back to it, and the VM keeps running', async ({ page }) => {
  await signIn(page, tokens.operator);
  await openVm(page, 'demo');
  const controls = page.getByTestId('controls');
  // A slower interval and a longer ring keep the manual checkpoint retained while we click.
  await controls.getByLabel('Interval (ms)').fill('500');
  await controls.getByLabel('Retention (checkpoints)').fill('64');
  await controls.getByRole('button', { name: 'Apply' }).click();
  await expect(page.getByTestId('controls-result')).toContainText('Applied');

  await page.getByTestId('take-checkpoint').click();
  const taken = page.getByTestId('timeline-result');
  await expect(taken).toHaveText(/Checkpoint #\d+ taken/);
  const seq = Number(/#(\d+)/.exec((await taken.textContent()) ?? '')![1]);
  await page.waitForTimeout(1500); // let newer checkpoints accumulate so the dialog has something to name
  await page.getByTestId('checkpoint-table').locator(`tr[data-seq="${seq}"]`).getByRole('button', { name: `Roll back to checkpoint ${seq}` }).click();
  const dialog = page.getByRole('dialog');
  await expect(dialog).toBeVisible();
  await expect(dialog).toContainText(`checkpoint #${seq}`);
  await expect(dialog.getByTestId('rollback-loss')).toContainText(/newer checkpoints? .* dropped|only the work since/);
  await page.screenshot({ path: shot('rollback-confirm') });
  await dialog.getByRole('button', { name: 'Roll back' }).click();
  await expect(taken).toHaveText(new RegExp(`Rolled back to checkpoint #${seq}: [\\d,.]+ (k )?pages restored in`));
  await expect(dialog).toBeHidden();
  await page.getByTestId('timeline').screenshot({ path: shot('timeline') });

  // The rollback event arrives over the stream and the guest runs on.
  await page.getByRole('tab', { name: 'Alerts & events' }).click();
  await expect(page.getByTestId('events-panel').locator('li[data-type=rollback]').first()).toContainText(`Operator rollback to #${seq}`);
  await expect(page.getByTestId('vm-state')).toHaveText('running');
  const e0 = await numberIn(page, 'epochs');
  await expect.poll(() => numberIn(page, 'epochs')).toBeGreaterThan(e0);
  await page.getByTestId('events-panel').screenshot({ path: shot('events') });

  // Back to the demo's defaults.
  await controls.getByLabel('Interval (ms)').fill('50');
  await controls.getByLabel('Retention (checkpoints)').fill('8');
  await controls.getByRole('button', { name: 'Apply' }).click();
  await expect(page.getByTestId('controls-result')).toContainText('Applied');
});

test('the first page loads without the charts; after a reload the charts are drawn at once; the header names the host', async ({ page }) => {
  const scripts: string[] = [];
  page.on('request', (request) => {
    if (request.resourceType() === 'script') scripts.push(new URL(request.url()).pathname);
  });
  await signIn(page, tokens.operator);
  await expect(page.getByTestId('vm-table')).toBeVisible();
  expect(scripts.some((path) => /VmDetailPage/.test(path))).toBe(false);

  const host = await api<{ hypervisor: string | null; emulated: boolean }>('GET', '/api/host', undefined, tokens.viewer);
  const badge = page.getByTestId('host-badge');
  await expect(badge).toContainText(host.hypervisor === 'xen' ? 'Xen' : 'KVM');
  if (host.emulated) {
    await expect(badge).toContainText('emulated');
    await expect(page.getByTestId('host-banner')).toContainText('software emulation');
  } else {
    await expect(page.getByTestId('host-banner')).toHaveCount(0);
  }

  await openVm(page, 'demo');
  expect(scripts.some((path) => /VmDetailPage/.test(path))).toBe(true);
  await expect(page.getByTestId('chart-dirty').locator('path.recharts-line-curve')).toHaveCount(1, { timeout: 20_000 });
  // Reloaded, the page fills the last minute from the service's recent epochs, before many new ones come.
  await page.reload();
  await expect(page.getByTestId('vm-detail')).toBeVisible();
  await expect
    .poll(async () => ((await page.getByTestId('chart-dirty').locator('path.recharts-line-curve').getAttribute('d')) ?? '').match(/-?[\d.]+/g)?.length ?? 0, {
      timeout: 5_000,
    })
    .toBeGreaterThan(40); // more than 20 points
  // The overhead is the time lost to checkpoints: never negative.
  await expect.poll(async () => (await page.getByTestId('overhead').textContent()) ?? '', { timeout: 10_000 }).toMatch(/^\d+\.\d %/);
});
