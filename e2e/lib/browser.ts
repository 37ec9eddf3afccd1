// Debian's Chromium, headless, quiet: no downloads, no background traffic.
import { chromium, type Browser, type LaunchOptions } from 'playwright-core';

export const chromiumPath = process.env.UCKPT_CHROMIUM ?? '/usr/bin/chromium';
export const chromiumArgs = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'];

export const launchOptions: LaunchOptions = { executablePath: chromiumPath, headless: true, args: chromiumArgs };

export function launch(extra: LaunchOptions = {}): Promise<Browser> {
  return chromium.launch({ ...launchOptions, ...extra, args: [...chromiumArgs, ...(extra.args ?? [])] });
}
