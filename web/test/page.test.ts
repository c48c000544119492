import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Page } from 'playwright';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DemoExportGallery } from '../../src/cli/demo_export';
import { repo, type ServedPage, servePage, webDir } from './serve';

const modelDir = join(webDir, 'public/model');
const screenshot = join(repo, 'test-results/web-demo.png');
const TOP = 5;

let served: ServedPage;
let page: Page;
let url: string;
const pageErrors: string[] = [];

beforeAll(async () => {
  // 1. the export (skipped by the script when web/public/model/export.json exists)
  const t0 = performance.now();
  const exported = spawnSync(process.execPath, ['--import', 'tsx', join(webDir, 'export.ts')], {
    cwd: repo,
    stdio: 'inherit',
  });
  if (exported.status !== 0) throw new Error(`web/export.ts failed with exit code ${exported.status}`);
  console.log(`[web e2e] export ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  // 2. the page, built and served, and a browser
  served = await servePage((line) => console.log(`[web e2e] ${line}`));
  // IRRA_WEB_BACKENDS=webgl,wasm overrides the page's backend order (webgpu, webgl, wasm)
  const backends = process.env.IRRA_WEB_BACKENDS;
  url = `${served.url}${backends ? `?backend=${encodeURIComponent(backends)}` : ''}`;
  page = await served.open(pageErrors);
});

afterAll(async () => {
  await served?.close();
});

/** The attributes of the gallery, as shipped with the export. */
function gallery(): DemoExportGallery {
  return JSON.parse(readFileSync(join(modelDir, 'gallery.json'), 'utf8')) as DemoExportGallery;
}

/** A query in the captions' style from one identity's garments. */
function queryFor(a: DemoExportGallery['items'][number]['attributes']): string {
  return `a ${a.gender} wearing a ${a.upper.color} ${a.upper.type} and ${a.lower.color} ${a.lower.type}`;
}

/** Types `query`, submits it and waits for its results; returns the gallery indices shown, best first. */
async function search(query: string): Promise<number[]> {
  await page.fill('#query', query);
  await page.click('#search');
  await page.waitForFunction(
    (q) =>
      document.querySelector('#status')?.getAttribute('data-state') === 'ready' &&
      document.querySelector('#results')?.getAttribute('data-query') === q,
    query,
    { timeout: 120_000 },
  );
  return page.$$eval('#results .result', (cards) => cards.map((c) => Number((c as HTMLElement).dataset.index)));
}

describe('the demo page in headless Chromium', () => {
  it('loads, shows a working backend and encodes the gallery', async () => {
    const t0 = performance.now();
    await page.goto(url);
    await page.waitForSelector('#status[data-state="ready"]', { timeout: 300_000 });
    const backend = await page.textContent('#backend');
    console.log(`[web e2e] page ready on ${backend} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const allowed = process.env.IRRA_WEB_BACKENDS?.split(',') ?? ['webgpu', 'webgl', 'wasm'];
    expect(allowed).toContain(backend);
    expect(await page.getAttribute('#backend', 'data-backend')).toBe(backend);
    expect(await page.textContent('#metrics')).toMatch(/trained R1 [\d.]+%/);
    // served with COOP/COEP: cross-origin isolated, so the wasm backend may use threads
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    console.log(
      `[web e2e] cross-origin isolated; describeBackend().threads = ${(await page.getAttribute('#backend-detail', 'data-threads')) || 'n/a (not wasm)'}`,
    );
    expect(pageErrors).toEqual([]);
  });

  it("shows a query's results best first, each with its attention map", async () => {
    const g = gallery();
    // the first held-out identity's garments, as a person would describe them
    const target = g.items[0].attributes;
    const query = queryFor(target);
    await search(query);
    const shown = await page.$$eval('#results .result', (cards) =>
      cards.map((c) => ({
        index: Number((c as HTMLElement).dataset.index),
        score: Number((c as HTMLElement).dataset.score),
        heat: c.querySelectorAll('canvas.heat').length,
      })),
    );
    const top = shown.slice(0, TOP).map((s) => g.items[s.index].attributes);
    const upperColor = top.filter((a) => a.upper.color === target.upper.color).length;
    const upperBoth = top.filter(
      (a) => a.upper.color === target.upper.color && a.upper.type === target.upper.type,
    ).length;
    const lowerColor = top.filter((a) => a.lower.color === target.lower.color).length;
    console.log(
      `[web e2e] query "${query}": top ${TOP} have the upper colour ${upperColor}/${TOP}, upper colour+type ${upperBoth}/${TOP}, lower colour ${lowerColor}/${TOP}; scores ${shown
        .slice(0, TOP)
        .map((s) => s.score.toFixed(3))
        .join(', ')}`,
    );
    // scores shown best first, one heat overlay per result
    for (let i = 1; i < shown.length; i++) expect(shown[i - 1].score).toBeGreaterThanOrEqual(shown[i].score);
    expect(shown.every((s) => s.heat === 1)).toBe(true);
    mkdirSync(dirname(screenshot), { recursive: true });
    await page.screenshot({ path: screenshot, fullPage: true });
    // How well the ranking matches the description is asserted over 12 identities in the next
    // test: one query of a small from-scratch model (R1 ~20 %) is a draw, not a measurement. Here
    // the overlap is only logged, beside the gallery's average (what a random ranking gives).
    const described = (a: typeof target) =>
      Number(a.upper.color === target.upper.color) +
      Number(a.upper.type === target.upper.type) +
      Number(a.lower.color === target.lower.color) +
      Number(a.lower.type === target.lower.type);
    const topMean = top.reduce((s, a) => s + described(a), 0) / top.length;
    const galleryMean = g.items.reduce((s, it) => s + described(it.attributes), 0) / g.items.length;
    console.log(
      `[web e2e] described attributes per image: top ${TOP} ${topMean.toFixed(2)}, gallery ${galleryMean.toFixed(2)}`,
    );
    expect(shown.length).toBe(10);
    expect(pageErrors).toEqual([]);
  });
  it('over the first 12 held-out identities, ranks the described garments and person well above chance', async () => {
    const g = gallery();
    const t0 = performance.now();
    const pids = [...new Set(g.items.map((it) => it.pid))].slice(0, 12);
    const colourShare = (c: string) => g.items.filter((it) => it.attributes.upper.color === c).length / g.count;
    let matches = 0;
    let expectedByChance = 0;
    let samePerson = 0;
    const perQuery: string[] = [];
    for (const pid of pids) {
      const item = g.items.find((it) => it.pid === pid) as DemoExportGallery['items'][number];
      const top = (await search(queryFor(item.attributes))).slice(0, TOP).map((i) => g.items[i]);
      const m = top.filter((x) => x.attributes.upper.color === item.attributes.upper.color).length;
      const p = top.filter((x) => x.pid === pid).length;
      matches += m;
      samePerson += p;
      expectedByChance += TOP * colourShare(item.attributes.upper.color);
      perQuery.push(`${pid}:${m}/${p}`);
    }
    const personByChance = pids.reduce(
      (s, pid) => s + (TOP * g.items.filter((it) => it.pid === pid).length) / g.count,
      0,
    );
    console.log(
      `[web e2e] ${pids.length} queries in ${((performance.now() - t0) / 1000).toFixed(1)} s; per query (pid:upper colour/same person in top ${TOP}) ${perQuery.join(' ')}; upper colour ${matches} vs ${expectedByChance.toFixed(1)} by chance, same person ${samePerson} vs ${personByChance.toFixed(1)} by chance`,
    );
    expect(matches).toBeGreaterThanOrEqual(1.5 * expectedByChance);
    expect(samePerson).toBeGreaterThanOrEqual(4 * personByChance);
    expect(pageErrors).toEqual([]);
  });
});
