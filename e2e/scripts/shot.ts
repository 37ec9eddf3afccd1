// Ad-hoc screenshots of a running server: node --experimental-strip-types scripts/shot.ts URL TOKEN OUTDIR [scheme]
import { launch } from '../lib/browser.ts';
const [url = 'http://127.0.0.1:8080', token = '', out = 'artifacts', scheme = 'light'] = process.argv.slice(2);
const browser = await launch();
const page = await browser.newPage({ viewport: { width: 1440, height: 1000 }, colorScheme: scheme as 'light' | 'dark' });
page.on('console', (m) => { if (m.type() === 'error') console.log('console error:', m.text()); });
page.on('pageerror', (e) => console.log('page error:', e.message));
await page.goto(url);
await page.getByLabel('Token').fill(token);
await page.getByRole('button', { name: 'Sign in' }).click();
await page.getByTestId('vm-table').waitFor();
await page.waitForTimeout(1500);
await page.screenshot({ path: `${out}/list-${scheme}.png` });
await page.getByTestId('vm-table').getByRole('link').first().click();
await page.getByTestId('vm-detail').waitFor();
await page.waitForTimeout(8000);
await page.screenshot({ path: `${out}/detail-${scheme}.png`, fullPage: true });
await browser.close();
