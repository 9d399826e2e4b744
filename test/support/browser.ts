import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium, headless, with no network chatter of its own: for browser journeys in tests. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Browser journeys run where Chromium is installed (CI installs Debian's package). A bare machine skips
 * them with a message, so `npm test` works with nothing but Node; REQUIRE_BROWSER=1 (set by .ci/run)
 * turns a missing browser into a failure instead.
 */
export const hasBrowser = existsSync(CHROMIUM_PATH) || process.env.REQUIRE_BROWSER === '1';
if (!hasBrowser) console.warn(`browser tests skipped: no Chromium at ${CHROMIUM_PATH} (apt-get install chromium)`);

export const launchBrowser = (): Promise<Browser> =>
  chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
