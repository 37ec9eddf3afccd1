import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect, type Page } from '@playwright/test';
import { artifactsDir, cliPath, repoRoot, serverInfo } from '../lib/server.ts';

export async function signIn(page: Page, token: string): Promise<void> {
  await page.goto(serverInfo().url);
  await page.getByLabel('Token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('connection')).toHaveAttribute('data-status', 'live');
}

export async function openVm(page: Page, name: string): Promise<void> {
  await page.getByTestId('vm-table').getByRole('link', { name, exact: true }).click();
  await expect(page.getByTestId('vm-detail')).toBeVisible();
}

export function shot(name: string): string {
  return path.join(artifactsDir, 'screenshots', `${name}.png`);
}

/** Number shown in an element, e.g. "19.8 /s" -> 19.8. */
export async function numberIn(page: Page, testId: string): Promise<number> {
  const text = (await page.getByTestId(testId).textContent()) ?? '';
  return Number.parseFloat(text.replace(/[^\d.]/g, ''));
}

/** The same workload as a host program: the checksum oracle. */
export async function hostChecksum(args: string[]): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [cliPath, 'run', ...args, '--on', 'host', '--json'], { cwd: repoRoot });
  return (JSON.parse(stdout) as { checksum: string }).checksum;
}
