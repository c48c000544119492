import { playwright } from '@vitest/browser-playwright';
import { CHROMIUM } from './chromium.js';

/**
 * The `test.browser` block of the Vitest configs that run in Chromium (vitest.browser.config.ts,
 * bench/browser.config.ts): headless Debian Chromium at {@link CHROMIUM} through playwright,
 * WebGL and WebGPU on SwiftShader, with the given browser commands.
 */
export function chromiumBrowserMode<C extends Record<string, (...args: never[]) => unknown>>(commands: C) {
  return {
    enabled: true,
    headless: true,
    screenshotFailures: false,
    provider: playwright({
      launchOptions: {
        executablePath: CHROMIUM,
        args: ['--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--enable-unsafe-webgpu'],
      },
    }),
    instances: [{ browser: 'chromium' as const }],
    commands,
  };
}
