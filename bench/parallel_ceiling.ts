/**
 * How much two cores of this machine give the demo-size training step when nothing is
 * coordinated: the ceiling of data-parallel training (bench/train_workers.ts), measured without it.
 *
 * Worker threads that share nothing (each its own tfjs-wasm backend and model) run the demo-size
 * forward + backward pass (`tf.variableGrads` of the summed losses, bench/train_batch.ts's
 * DEMO_SIZE_CONFIG), as a {@link DataParallelGroup} worker does, minus the exchange:
 * - `alone_32`: one thread, batch 32 (what one worker does per step);
 * - `alone_16`: one thread, batch 16 (half the batch, the other core idle);
 * - `pair_16`: two threads at once, batch 16 each (the two halves of a 2-worker step, with no
 *   coordinator, exchange or summation); the slower of the two counts.
 * `alone_32 / pair_16` is the best a 2-worker step can be against one worker on this machine;
 * `pair_16 / alone_16` is what running side by side costs each thread. The same for a plain
 * `[768, 64] × [64, 768]` matMul loop (`matmul_alone`, `matmul_pair`) is the control: pure
 * compute, no per-kernel bookkeeping.
 *
 * Every thread is started and warmed up (3 passes) before the first round, so that start-up and
 * the wasm compiler's tier-up stay out of the figures (an earlier version spawned a fresh process
 * per measurement and measured them in). Each figure is a thread's median over `--steps` passes;
 * the configurations are interleaved over `--rounds` rounds, because this VM's speed drifts, and
 * the summary takes the median of the rounds.
 *
 * Run: npx tsx bench/parallel_ceiling.ts [--steps 5] [--rounds 8] [--json]
 */
import * as workerThreads from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-wasm';
import { IRRA, totalLoss } from '../src/model';
import { type NodeWorker, startNodeWorker } from '../src/util/node_workers';
import { flag, numberOption } from './args';
import { median } from './stats';
import { DEMO_SIZE_CONFIG, trainBatch } from './train_batch';

/** What one thread runs: a forward + backward pass at `batch`, or (batch 0) 20 plain matMuls. */
interface ThreadJob {
  batch: number;
}

/** In a thread: builds its workload, warms it up, then answers each `steps` message with the median milliseconds. */
async function serveThread(job: ThreadJob): Promise<void> {
  if (!(await tf.setBackend('wasm'))) throw new Error('parallel_ceiling: the wasm backend did not load');
  let pass: () => void;
  if (job.batch > 0) {
    const model = IRRA.create(DEMO_SIZE_CONFIG, { seed: 0 });
    const b = trainBatch(DEMO_SIZE_CONFIG, job.batch);
    const params = [...model.namedParameters().values()];
    pass = () => {
      const { value, grads } = tf.variableGrads(() => tf.tidy(() => totalLoss(model.computeLosses(b))), params);
      value.dataSync();
      tf.dispose([value, ...Object.values(grads)]);
    };
  } else {
    const a = tf.randomNormal([768, 64]);
    const b = tf.randomNormal([64, 768]);
    pass = () => {
      for (let k = 0; k < 20; k++) tf.matMul(a, b).dispose();
    };
  }
  for (let i = 0; i < 3; i++) pass();
  const port = workerThreads.parentPort as NonNullable<typeof workerThreads.parentPort>;
  port.on('message', (steps: number) => {
    const times: number[] = [];
    for (let i = 0; i < steps; i++) {
      const t0 = performance.now();
      pass();
      times.push(performance.now() - t0);
    }
    port.postMessage(median(times));
  });
  port.postMessage('ready');
}

/** Starts this file as a worker thread running `job` (from the sources, as the library starts its own); resolves once it is warm. */
function startThread(job: ThreadJob): Promise<NodeWorker> {
  const worker = startNodeWorker(workerThreads, { name: 'parallel_ceiling', source: import.meta.url }, job);
  return new Promise((resolve, reject) => {
    worker.once('message', () => resolve(worker));
    worker.once('error', reject);
  });
}

/** Asks each thread for `steps` passes at once; resolves to each one's median seconds. */
function passes(threads: NodeWorker[], steps: number): Promise<number[]> {
  return Promise.all(
    threads.map(
      (w) =>
        new Promise<number>((resolve) => {
          w.once('message', (ms: number) => resolve(ms / 1000));
          w.postMessage(steps);
        }),
    ),
  );
}

async function main(): Promise<void> {
  const steps = numberOption('steps', 5);
  const rounds = numberOption('rounds', 8);
  const full = await startThread({ batch: 32 });
  const halfA = await startThread({ batch: 16 });
  const halfB = await startThread({ batch: 16 });
  const matmulA = await startThread({ batch: 0 });
  const matmulB = await startThread({ batch: 0 });
  const runs: Record<string, number[]> = { alone_32: [], alone_16: [], pair_16: [], matmul_alone: [], matmul_pair: [] };
  for (let r = 0; r < rounds; r++) {
    runs.alone_32.push(...(await passes([full], steps)));
    runs.alone_16.push(...(await passes([halfA], steps)));
    runs.pair_16.push(Math.max(...(await passes([halfA, halfB], steps))));
    runs.matmul_alone.push(...(await passes([matmulA], steps)));
    runs.matmul_pair.push(Math.max(...(await passes([matmulA, matmulB], steps))));
    if (!flag('json')) {
      console.log(
        `round ${r + 1}: batch 32 alone ${runs.alone_32[r].toFixed(3)} s, batch 16 alone ${runs.alone_16[r].toFixed(3)} s, ` +
          `two batch 16 at once ${runs.pair_16[r].toFixed(3)} s (ceiling ${(runs.alone_32[r] / runs.pair_16[r]).toFixed(2)}×)`,
      );
    }
  }
  await Promise.all([full, halfA, halfB, matmulA, matmulB].map((w) => w.terminate()));
  const m = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, median(v)])) as Record<string, number>;
  const result = {
    date: new Date().toISOString().slice(0, 10),
    steps,
    rounds,
    runs,
    medians: m,
    ceiling: m.alone_32 / m.pair_16,
    ceilingPerRound: runs.alone_32.map((t, r) => t / runs.pair_16[r]),
    sideBySideCost: m.pair_16 / m.alone_16,
    matmulSideBySideCost: m.matmul_pair / m.matmul_alone,
    halfBatch: m.alone_32 / m.alone_16,
  };
  if (flag('json')) {
    console.log(JSON.stringify(result, null, 2));
    return;
  }
  console.log(
    `medians of ${rounds} rounds: batch 32 alone ${m.alone_32.toFixed(3)} s; batch 16 alone ${m.alone_16.toFixed(3)} s; ` +
      `two batch-16 at once (slower of the two) ${m.pair_16.toFixed(3)} s; matMul loop alone ${m.matmul_alone.toFixed(3)} s, ` +
      `two at once ${m.matmul_pair.toFixed(3)} s`,
  );
  console.log(
    `ceiling of a 2-worker step vs 1 worker: ${result.ceiling.toFixed(2)}×; side by side costs each pass ` +
      `${result.sideBySideCost.toFixed(2)}×, each matMul loop ${result.matmulSideBySideCost.toFixed(2)}×; ` +
      `half the batch alone is ${result.halfBatch.toFixed(2)}× faster`,
  );
}

if (workerThreads.isMainThread) await main();
else await serveThread(workerThreads.workerData as ThreadJob);
