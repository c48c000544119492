/**
 * The page's end-to-end harness: builds web/ with Vite, serves web/dist/ with `vite preview` (the
 * static build, with the config's COOP/COEP headers) on a free port, and launches Debian's
 * Chromium through playwright. Collects the page's errors.
 */
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright';
import { build, type PreviewServer, preview } from 'vite';

export const webDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const repo = resolve(webDir, '..');

/** Chromium flags for WebGL/WebGPU through SwiftShader in a headless container. */
const CHROMIUM_ARGS = ['--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--enable-unsafe-webgpu'];

async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => ok(port));
    });
  });
}

/** A served build of the page and a browser to open it with. */
export interface ServedPage {
  /** The page's address (no query string). */
  url: string;
  browser: Browser;
  /** A new tab of `width × height`; its page errors and console errors go to `errors`. */
  open(errors: string[], viewport?: { width: number; height: number }): Promise<Page>;
  close(): Promise<void>;
}

/** Builds the page, serves the build, launches Chromium. */
export async function servePage(log: (line: string) => void = console.log): Promise<ServedPage> {
  const configFile = join(webDir, 'vite.config.ts');
  const t0 = performance.now();
  await build({ configFile, logLevel: 'error' });
  log(`vite build in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const port = await freePort();
  const server: PreviewServer = await preview({
    configFile,
    logLevel: 'error',
    preview: { port, strictPort: true, host: '127.0.0.1' },
  });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
  });
  return {
    url: `http://127.0.0.1:${port}/`,
    browser,
    async open(errors, viewport = { width: 1500, height: 900 }) {
      const page = await browser.newPage({ viewport });
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      return page;
    },
    async close() {
      await browser.close();
      await server.close();
    },
  };
}
