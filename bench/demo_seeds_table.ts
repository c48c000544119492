/**
 * Markdown tables from the files of bench/demo_seeds.ts, for README.md, docs/demo.md and
 * docs/training.md (so that every figure there is read from a results file, not retyped):
 *
 * - `--seeds FILE`: one row per seed (R1, × chance, R5, mAP, training seconds) and a last row with
 *   the mean ± sd and the range of R1 and of × chance;
 * - `--summary FILE`: one row per metric (R1, R5, R10, mAP, mINP, × chance): mean ± sd, min, max;
 * - `--ablation 'LABEL=FILE,LABEL=FILE,...'`: one row per file, mean ± sd of each metric over
 *   the seeds that every file has, and the R1 of each of those seeds.
 *
 * Run: npx tsx bench/demo_seeds_table.ts --seeds bench/demo_seeds/default.json
 */
import { readFileSync } from 'node:fs';
import { option } from './args';
import { meanSd } from './stats';

interface Metrics {
  R1: number;
  R5: number;
  R10: number;
  mAP: number;
  mINP: number;
}

interface SeedRow {
  seed: number;
  trained: Metrics;
  chanceR1: number;
  timesChance: number;
  trainSeconds: number;
}

const METRICS = ['R1', 'R5', 'R10', 'mAP', 'mINP'] as const;

function rowsOf(file: string): SeedRow[] {
  return (JSON.parse(readFileSync(file, 'utf8')) as { rows: SeedRow[] }).rows;
}

const f2 = (x: number) => x.toFixed(2);

const pm = (xs: number[]) => {
  const { mean, sd } = meanSd(xs);
  return `${f2(mean)} ± ${f2(sd)}`;
};

const timesChance = (r: SeedRow) => r.trained.R1 / r.chanceR1;

function seedsTable(file: string): string {
  const rows = rowsOf(file).sort((a, b) => a.seed - b.seed);
  const r1 = rows.map((r) => r.trained.R1);
  const tc = rows.map(timesChance);
  return [
    '| seed | R1 | × chance | R5 | mAP | training |',
    '|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.seed} | ${f2(r.trained.R1)} | ${f2(timesChance(r))} | ${f2(r.trained.R5)} | ${f2(r.trained.mAP)} | ${Math.round(r.trainSeconds)} s |`,
    ),
    `| ${rows.length} seeds | ${pm(r1)} (range ${f2(Math.min(...r1))}–${f2(Math.max(...r1))}) | ${f2(Math.min(...tc))}–${f2(Math.max(...tc))} (mean ${f2(meanSd(tc).mean)}) | ${pm(rows.map((r) => r.trained.R5))} | ${pm(rows.map((r) => r.trained.mAP))} | |`,
  ].join('\n');
}

function summaryTable(file: string): string {
  const rows = rowsOf(file);
  const line = (name: string, xs: number[]) =>
    `| ${name} | ${pm(xs)} | ${f2(Math.min(...xs))} | ${f2(Math.max(...xs))} |`;
  return [
    `| t2i, ${rows.length} seeds | mean ± sd | min | max |`,
    '|---|---|---|---|',
    ...METRICS.map((m) =>
      line(
        m,
        rows.map((r) => r.trained[m]),
      ),
    ),
    line('R1 ÷ chance', rows.map(timesChance)),
  ].join('\n');
}

function ablationTable(spec: string): string {
  const entries = spec.split(',').map((e) => {
    const i = e.lastIndexOf('=');
    return { label: e.slice(0, i), rows: rowsOf(e.slice(i + 1)) };
  });
  const seeds = entries[0].rows
    .map((r) => r.seed)
    .filter((s) => entries.every((e) => e.rows.some((r) => r.seed === s)))
    .sort((a, b) => a - b);
  return [
    `| losses | ${METRICS.join(' | ')} | R1 of seeds ${seeds.join(', ')} |`,
    `|---|${METRICS.map(() => '---|').join('')}---|`,
    ...entries.map(({ label, rows }) => {
      const picked = seeds.map((s) => rows.find((r) => r.seed === s) as SeedRow);
      return `| ${label} | ${METRICS.map((m) => pm(picked.map((r) => r.trained[m]))).join(' | ')} | ${picked.map((r) => f2(r.trained.R1)).join(', ')} |`;
    }),
  ].join('\n');
}

const seeds = option('seeds', '');
const summary = option('summary', '');
const ablation = option('ablation', '');
if (!seeds && !summary && !ablation)
  throw new Error('demo_seeds_table: give --seeds FILE, --summary FILE or --ablation LABEL=FILE,...');
if (seeds) console.log(seedsTable(seeds));
if (summary) console.log(summaryTable(summary));
if (ablation) console.log(ablationTable(ablation));
