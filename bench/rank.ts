/**
 * rank() at the CUHK-PEDES test size (6,156 text queries × 3,074 gallery images, 1,000 identities)
 * on the cpu and wasm backends, against one full-matrix `tf.topk(sim, 3074)` (a full sort of every
 * row, what a sort-based rank would need) on the same backend in the same run.
 * Run: `npx tsx bench/rank.ts`. The reference `utils/metrics.py` `rank()` takes 2.65 s here.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { rank, rankAsync } from '../src/eval/rank';

const Q = 6156;
const G = 3074;
const IDS = 1000;
const REFERENCE_S = 2.65;

function best(runs: number, fn: () => void): number {
  let min = Number.POSITIVE_INFINITY;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    fn();
    min = Math.min(min, performance.now() - t0);
  }
  return min;
}

async function bestAsync(runs: number, fn: () => Promise<void>): Promise<number> {
  let min = Number.POSITIVE_INFINITY;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    await fn();
    min = Math.min(min, performance.now() - t0);
  }
  return min;
}

const rows: string[][] = [];
for (const backend of ['cpu', 'wasm']) {
  if (!(await tf.setBackend(backend)) || tf.getBackend() !== backend) throw new Error(`backend ${backend} unavailable`);
  await tf.ready();
  const sim = tf.randomUniform([Q, G], -1, 1, 'float32', 7) as tf.Tensor2D;
  const qPids = Int32Array.from({ length: Q }, (_, i) => i % IDS);
  const gPids = Int32Array.from({ length: G }, (_, j) => j % IDS);
  const before = tf.memory().numTensors;

  const runs = 3;
  const t2i = best(runs, () => void rank(sim, qPids, gPids));
  const t2iAsync = await bestAsync(runs, async () => void (await rankAsync(sim, qPids, gPids)));
  const i2t = best(runs, () => void rank(sim, gPids, qPids, { transposed: true }));
  const i2tCopy = best(runs, () => {
    const simT = tf.transpose(sim);
    try {
      rank(simT, gPids, qPids);
    } finally {
      simT.dispose();
    }
  });
  const topk = best(backend === 'cpu' ? 1 : 2, () => {
    const { values, indices } = tf.topk(sim, G, true);
    indices.dataSync();
    tf.dispose([values, indices]);
  });
  if (tf.memory().numTensors !== before) throw new Error('rank bench leaked tensors');
  sim.dispose();

  const fmt = (ms: number) => `${(ms / 1000).toFixed(3)} s`;
  const row = (what: string, ms: number) => [
    backend,
    what,
    fmt(ms),
    fmt(topk),
    (ms / topk).toFixed(3),
    (ms / 1000 / REFERENCE_S).toFixed(3),
  ];
  rows.push(
    row('rank() t2i', t2i),
    row('rankAsync() t2i', t2iAsync),
    row('rank(sim, {transposed}) i2t', i2t),
    row('tf.transpose + rank() i2t', i2tCopy),
  );
}

const head = [
  'backend',
  'what',
  'rank (best of 3)',
  'topk k=3074 (same backend)',
  'ratio to topk',
  'ratio to reference 2.65 s',
];
const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
const line = (cells: string[]) => `| ${cells.map((x, c) => x.padEnd(widths[c])).join(' | ')} |`;
console.log(`rank() on a random ${Q} × ${G} similarity, ${IDS} identities\n`);
console.log(line(head));
console.log(line(widths.map((w) => '-'.repeat(w))));
for (const r of rows) console.log(line(r));
