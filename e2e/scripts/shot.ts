// Screenshots of a running server's dashboard, for reviewing the design:
//   pnpm --filter @uckpt/e2e exec tsx scripts/shot.ts URL TOKEN [OUTDIR] [light|dark]
import { mkdirSync } from 'node:fs';
import { launch } from '../lib/browser.ts';

const [url = 'http://127.0.0.1:8080', token = '', out = 'artifacts/review', scheme = 'light'] = process.argv.slice(2);
mkdirSync(out, { recursive: true });
const browser = await launch();
try {
  const page = await browser.newPage({ viewport: { width: 1440, height: 1000 }, colorScheme: scheme as 'light' | 'dark' });
  page.on('console', (m) => m.type() === 'error' && console.log('console error:', m.text()));
  page.on('pageerror', (e) => console.log('page error:', e.message));
  await page.goto(url);
  await page.screenshot({ path: `${out}/signin-${scheme}.png` });
  await page.getByLabel('Token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('vm-table').waitFor();
  await page.waitForTimeout(1500);
  await page.screenshot({ path: `${out}/list-${scheme}.png` });
  await page.getByTestId('vm-table').getByRole('link').first().click();
  await page.getByTestId('vm-detail').waitFor();
  await page.waitForTimeout(8000);
  await page.screenshot({ path: `${out}/detail-${scheme}.png`, fullPage: true });
  await page.goto(`${url}/#/audit`);
  await page.waitForTimeout(1500);
  await page.screenshot({ path: `${out}/audit-${scheme}.png` });
  await page.goto(`${url}/#/new`);
  await page.waitForTimeout(1000);
  await page.getByRole('button', { name: 'Create VM' }).click();
  await page.screenshot({ path: `${out}/new-${scheme}.png` });
} finally {
  await browser.close();
}
