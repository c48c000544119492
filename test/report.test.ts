import { existsSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DemoResult, runDemo } from '../src/cli/demo';
import { commandDemo, DEMO_REPORT, demoReportHtml } from '../src/cli/demo_command';
import { trainingReportHtml } from '../src/train/report';
import type { EpochLog } from '../src/train/trainer';
import { CHROMIUM, hasChromium } from './helpers/chromium';

/** Every plotted point of the page, by chart id: [series, x, y] with the exact numbers of the data attributes. */
type Points = Record<string, [string, number, number][]>;

async function chartPoints(browser: Browser, file: string): Promise<{ points: Points; external: number }> {
  const page = await browser.newPage();
  try {
    await page.goto(`file://${file}`);
    return await page.evaluate(() => {
      const points: Record<string, [string, number, number][]> = {};
      for (const svg of Array.from(document.querySelectorAll('svg.chart'))) {
        points[svg.id] = Array.from(svg.querySelectorAll('circle')).map((c) => [
          c.getAttribute('data-series') ?? '',
          Number(c.getAttribute('data-x')),
          Number(c.getAttribute('data-y')),
        ]);
      }
      // Anything that would load from elsewhere: scripts, stylesheets, images, frames.
      const external = document.querySelectorAll('script, link, img, iframe, object, embed').length;
      return { points, external };
    });
  } finally {
    await page.close();
  }
}

const series = (points: [string, number, number][], name: string) =>
  points.filter((p) => p[0] === name).map((p) => [p[1], p[2]]);

describe.runIf(process.env.IRRA_TEST_BACKEND === 'wasm' && hasChromium())('training report in Chromium', () => {
  let browser: Browser;
  let dir: string;
  let run: DemoResult;
  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM });
    dir = await mkdtemp(join(tmpdir(), 'irra-report-'));
    run = await runDemo({
      identities: 12,
      imagesPerIdentity: 2,
      captionsPerImage: 1,
      imageSize: [32, 16],
      width: 32,
      layers: 1,
      epochs: 4,
      evalPeriod: 2,
      batchSize: 8,
      workers: 1,
      progress: 'none',
    });
    run.model.dispose();
  }, 300_000);
  afterAll(async () => {
    await browser?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("the demo's charts hold the run's losses, accuracies, learning rates and R1/mAP", async () => {
    const file = join(dir, 'demo.html');
    await writeFile(file, demoReportHtml(run));
    const { points, external } = await chartPoints(browser, file);
    expect(external).toBe(0);
    expect(Object.keys(points)).toEqual(['losses', 'accuracies', 'lr', 'retrieval']);
    const h = run.history;
    expect(h.map((e) => e.epoch)).toEqual([1, 2, 3, 4]);
    for (const k of ['sdm_loss', 'id_loss', 'mlm_loss']) {
      expect(series(points.losses, k)).toEqual(h.map((e) => [e.epoch, e.means[k]]));
    }
    const total = h.map((e) => [e.epoch, e.means.sdm_loss + e.means.id_loss + e.means.mlm_loss]);
    series(points.losses, 'total_loss').forEach(([x, y], i) => {
      expect(x).toBe(total[i][0]);
      expect(y).toBeCloseTo(total[i][1], 12);
    });
    for (const k of ['img_acc', 'txt_acc', 'mlm_acc']) {
      expect(series(points.accuracies, k)).toEqual(h.map((e) => [e.epoch, e.means[k]]));
    }
    // Warmup then cosine: the lr of group 0 changes from epoch to epoch.
    const lr0 = series(points.lr, 'group 0');
    expect(lr0).toEqual(h.map((e) => [e.epoch, (e.lrs as number[])[0]]));
    expect(new Set(lr0.map((p) => p[1])).size).toBe(4);
    // R1/mAP: the untrained model at epoch 0, then the evaluations at epochs 2 and 4 (the last is `trained`).
    expect(series(points.retrieval, 'R1')).toEqual([
      [0, run.untrained.R1],
      [2, (h[1].evaluation as NonNullable<EpochLog['evaluation']>).t2i.R1],
      [4, run.trained.R1],
    ]);
    expect(series(points.retrieval, 'mAP')).toEqual([
      [0, run.untrained.mAP],
      [2, (h[1].evaluation as NonNullable<EpochLog['evaluation']>).t2i.mAP],
      [4, run.trained.mAP],
    ]);
  }, 120_000);

  it('leaves out charts without data and escapes text', async () => {
    const file = join(dir, 'bare.html');
    const history: EpochLog[] = [{ epoch: 1, steps: 3, means: { itc_loss: 2.5 }, seconds: 1 }];
    await writeFile(file, trainingReportHtml({ title: '<b>run</b>', history }));
    expect(await readFile(file, 'utf8')).toContain('&lt;b&gt;run&lt;/b&gt;');
    const { points } = await chartPoints(browser, file);
    expect(points).toEqual({ losses: [['itc_loss', 1, 2.5]] });
  }, 60_000);

  it('irra-tfjs demo writes --report, and --no_report writes none', async () => {
    const file = join(dir, 'cli.html');
    const argv = ['--identities', '8', '--epochs', '1', '--width', '16', '--layers', '1', '--batch_size', '8'];
    const log = console.log;
    console.log = () => {};
    try {
      await commandDemo([...argv, '--no_clip', '--workers', '1', '--json', '--report', file]);
      expect(existsSync(file)).toBe(true);
      // --no_report leaves the default report file as it was (absent, or untouched).
      const stamp = () => (existsSync(DEMO_REPORT) ? statSync(DEMO_REPORT).mtimeMs : -1);
      const before = stamp();
      await commandDemo([...argv, '--no_clip', '--workers', '1', '--json', '--no_report']);
      expect(stamp()).toBe(before);
    } finally {
      console.log = log;
    }
    const { points } = await chartPoints(browser, file);
    expect(points.losses.length).toBeGreaterThan(0);
    expect(series(points.retrieval, 'R1').map((p) => p[0])).toEqual([0, 1]);
  }, 300_000);
});
