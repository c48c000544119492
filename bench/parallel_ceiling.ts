/**
 * How much two cores of this machine give the demo-size training step when nothing is shared:
 * the ceiling of data-parallel training (bench/train_workers.ts), measured without it.
 *
 * Each measurement runs the demo-size forward + backward pass (`tf.variableGrads` of the summed
 * losses, bench/train_batch.ts's DEMO_SIZE_CONFIG, wasm) in child processes that share nothing,
 * and reports each child's median step time:
 * - `alone_32`: one process, batch 32 (what one worker does per step);
 * - `alone_16`: one process, batch 16 (half the batch, the other core idle);
 * - `pair_16`: two processes at once, batch 16 each (the two halves of a 2-worker step, with no
 *   coordinator, exchange or summation).
 * `alone_32 / pair_16` is the best a 2-worker step can be against one worker on this machine;
 * `pair_16 / alone_16` shows what running side by side costs each process (shared caches, memory
 * bandwidth, the VM's cores). The same for a plain `[768, 64] × [64, 768]` matMul loop
 * (`matmul_alone`, `matmul_pair`) is the control: pure compute, no per-kernel bookkeeping.
 * The configurations are interleaved over `--rounds` rounds and each figure is the median of the
 * rounds (this VM's speed drifts).
 *
 * Run: npx tsx bench/parallel_ceiling.ts [--steps 10] [--rounds 3] [--json]
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-wasm';
import { IRRA, totalLoss } from '../src/model';
import { flag, numberOption } from './args';
import { median } from './stats';
import { DEMO_SIZE_CONFIG, trainBatch } from './train_batch';

const STEPS = numberOption('steps', 10);
const ROUNDS = numberOption('rounds', 3);
const CHILD_BATCH = numberOption('child_batch', 0);
const CHILD_MATMUL = flag('child_matmul');

/** In a child: median seconds of `steps` forward + backward passes at `batch` (after one warm-up). */
async function childSteps(batch: number, steps: number): Promise<number> {
  if (!(await tf.setBackend('wasm'))) throw new Error('parallel_ceiling: the wasm backend did not load');
  const model = IRRA.create(DEMO_SIZE_CONFIG, { seed: 0 });
  const b = trainBatch(DEMO_SIZE_CONFIG, batch);
  const params = [...model.namedParameters().values()];
  const times: number[] = [];
  for (let i = 0; i <= steps; i++) {
    const t0 = performance.now();
    const { value, grads } = tf.variableGrads(() => tf.tidy(() => totalLoss(model.computeLosses(b))), params);
    value.dataSync();
    tf.dispose([value, ...Object.values(grads)]);
    if (i > 0) times.push((performance.now() - t0) / 1000);
  }
  return median(times);
}

/** In a child: median seconds of 20 plain `[768, 64] × [64, 768]` matMuls, `steps` times. */
async function childMatMul(steps: number): Promise<number> {
  if (!(await tf.setBackend('wasm'))) throw new Error('parallel_ceiling: the wasm backend did not load');
  const a = tf.randomNormal([768, 64]);
  const b = tf.randomNormal([64, 768]);
  const times: number[] = [];
  for (let i = 0; i <= steps; i++) {
    const t0 = performance.now();
    for (let k = 0; k < 20; k++) tf.matMul(a, b).dispose();
    if (i > 0) times.push((performance.now() - t0) / 1000);
  }
  return median(times);
}

/** Runs one child per entry at once (a batch size, or 0 for the matMul loop); resolves to each child's median seconds. */
function children(batches: number[]): Promise<number[]> {
  const self = fileURLToPath(import.meta.url);
  return Promise.all(
    batches.map(
      (batch) =>
        new Promise<number>((resolve, reject) => {
          const child = spawn(
            process.execPath,
            [
              '--import',
              'tsx',
              self,
              ...(batch > 0 ? ['--child_batch', String(batch)] : ['--child_matmul']),
              '--steps',
              String(STEPS),
            ],
            { stdio: ['ignore', 'pipe', 'inherit'] },
          );
          let out = '';
          child.stdout.on('data', (d) => {
            out += d;
          });
          child.on('error', reject);
          child.on('exit', (code) => {
            const m = /^seconds (\S+)$/m.exec(out);
            if (code !== 0 || !m) reject(new Error(`parallel_ceiling: child (batch ${batch}) exited with ${code}`));
            else resolve(Number(m[1]));
          });
        }),
    ),
  );
}

if (CHILD_BATCH > 0) console.log(`seconds ${await childSteps(CHILD_BATCH, STEPS)}`);
else if (CHILD_MATMUL) console.log(`seconds ${await childMatMul(STEPS)}`);
else {
  const runs: Record<string, number[]> = { alone_32: [], alone_16: [], pair_16: [], matmul_alone: [], matmul_pair: [] };
  for (let r = 0; r < ROUNDS; r++) {
    runs.alone_32.push(...(await children([32])));
    runs.alone_16.push(...(await children([16])));
    runs.pair_16.push(Math.max(...(await children([16, 16]))));
    runs.matmul_alone.push(...(await children([0])));
    runs.matmul_pair.push(Math.max(...(await children([0, 0]))));
  }
  const m = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, median(v)])) as Record<string, number>;
  const result = {
    date: new Date().toISOString().slice(0, 10),
    steps: STEPS,
    rounds: ROUNDS,
    runs,
    medians: m,
    ceiling: m.alone_32 / m.pair_16,
    sideBySideCost: m.pair_16 / m.alone_16,
    matmulSideBySideCost: m.matmul_pair / m.matmul_alone,
    halfBatch: m.alone_32 / m.alone_16,
  };
  if (flag('json')) console.log(JSON.stringify(result, null, 2));
  else {
    console.log(
      `medians of ${ROUNDS} rounds: batch 32 alone ${m.alone_32.toFixed(3)} s; batch 16 alone ${m.alone_16.toFixed(3)} s; two batch-16 at once (slower of the two) ${m.pair_16.toFixed(3)} s; matMul loop alone ${m.matmul_alone.toFixed(3)} s, two at once ${m.matmul_pair.toFixed(3)} s`,
    );
    console.log(
      `ceiling of a 2-worker step vs 1 worker: ${result.ceiling.toFixed(2)}×; side by side costs each step ${result.sideBySideCost.toFixed(2)}×, each matMul loop ${result.matmulSideBySideCost.toFixed(2)}×; half the batch alone is ${result.halfBatch.toFixed(2)}× faster`,
    );
  }
}
