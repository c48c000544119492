import { existsSync } from 'node:fs';

/**
 * Where the browser suites find Chromium: `CHROMIUM_PATH` when set, Debian's `/usr/bin/chromium`
 * otherwise. Imported by the Vitest configs and by the Node tests that launch a browser.
 */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** True when the executable at {@link CHROMIUM} exists. */
export const hasChromium = (): boolean => existsSync(CHROMIUM);

/**
 * Called by each Vitest config that launches Chromium. With Chromium present it returns true.
 * Without it, it prints one line saying how to install it and returns false (the caller then
 * skips its browser tests), unless `IRRA_REQUIRE_BROWSER=1` (set by `.ci/run`), where it throws
 * so that CI can never pass without the browser suites.
 */
export function chromiumOrSkip(suites: string): boolean {
  if (hasChromium()) return true;
  const line =
    `Chromium not found at ${CHROMIUM}: skipping ${suites}. ` +
    'Install it with `apt-get install chromium` (or point CHROMIUM_PATH at a Chromium executable).';
  if (process.env.IRRA_REQUIRE_BROWSER === '1') {
    throw new Error(`${line} IRRA_REQUIRE_BROWSER=1 forbids the skip.`);
  }
  console.warn(`[irra-tfjs] ${line}`);
  return false;
}
