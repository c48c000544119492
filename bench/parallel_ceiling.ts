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
 * `pair_16 / alone_16` is what running side by side costs each thread. Controls:
 * - `matmul_alone`, `matmul_pair`: the same for a plain `[768, 64] × [64, 768]` matMul loop, pure
 *   compute with no per-kernel bookkeeping;
 * - `process_alone_16`, `process_pair_16`: the batch-16 pass in two child processes instead of two
 *   threads of one process (no V8 platform threads, allocator or address space in common), to tell
 *   a cost of sharing the process from a cost of sharing the machine;
 * - `--batches 8,4`: `alone_N` and `pair_N` for smaller batches, where more of each pass is
 *   per-kernel bookkeeping and less is arithmetic.
 *
 * Every thread and process is started and warmed up (3 passes) before the first round, so that
 * start-up and the wasm compiler's tier-up stay out of the figures (an earlier version spawned a
 * fresh process per measurement and measured them in). Each figure is a median over `--steps`
 * passes; the configurations are interleaved over `--rounds` rounds, because this VM's speed
 * drifts, and the summary takes the median of the rounds.
 *
 * Run: npx tsx bench/parallel_ceiling.ts [--steps 5] [--rounds 8] [--batches 8,4] [--json]
 */
import { type ChildProcess, fork } from 'node:child_process';
import * as workerThreads from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-wasm';
import { IRRA, totalLoss } from '../src/model';
import { startNodeWorker } from '../src/util/node_workers';
import { flag, integersOption, numberOption } from './args';
import { median } from './stats';
import { DEMO_SIZE_CONFIG, trainBatch } from './train_batch';

/** What one thread or process runs: a forward + backward pass at `batch`, or (batch 0) 20 plain matMuls. */
interface PassJob {
  batch: number;
}

/** Builds `job`'s workload on the wasm backend and warms it up (3 passes); returns one pass. */
async function buildPass(job: PassJob): Promise<() => void> {
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
  return pass;
}

/** In a worker thread or child process: builds the workload, then answers each `steps` message with the median milliseconds. */
async function serve(
  job: PassJob,
  reply: (ms: number | 'ready') => void,
  onSteps: (f: (steps: number) => void) => void,
) {
  const pass = await buildPass(job);
  onSteps((steps) => {
    const times: number[] = [];
    for (let i = 0; i < steps; i++) {
      const t0 = performance.now();
      pass();
      times.push(performance.now() - t0);
    }
    reply(median(times));
  });
  reply('ready');
}

/** A started, warmed-up thread or process. */
interface Runner {
  /** Runs `steps` passes; resolves to their median seconds. */
  passes(steps: number): Promise<number>;
  close(): Promise<unknown>;
}

/** A runner over a message channel that answers 'ready' once, then one median (ms) per request. */
function runner(channel: {
  once(event: 'message' | 'error', f: (m: unknown) => void): unknown;
  send(steps: number): void;
  close(): Promise<unknown>;
}): Promise<Runner> {
  return new Promise((resolve, reject) => {
    channel.once('error', reject);
    channel.once('message', () =>
      resolve({
        passes: (steps) =>
          new Promise((done) => {
            channel.once('message', (ms) => done((ms as number) / 1000));
            channel.send(steps);
          }),
        close: channel.close,
      }),
    );
  });
}

/** Starts this file as a worker thread running `job` (from the sources, as the library starts its own). */
function startThread(job: PassJob): Promise<Runner> {
  const worker = startNodeWorker(workerThreads, { name: 'parallel_ceiling', source: import.meta.url }, job);
  return runner({
    once: (event, f) => worker.once(event, f),
    send: (steps) => worker.postMessage(steps),
    close: () => worker.terminate(),
  });
}

/** Starts this file as a child process (through tsx's loader) running `job`. */
function startProcess(job: PassJob): Promise<Runner> {
  const child: ChildProcess = fork(new URL(import.meta.url), ['--child', JSON.stringify(job)], {
    execArgv: ['--import', 'tsx'],
  });
  return runner({
    // A child that exits before it is ready fails the start instead of leaving it waiting.
    once: (event, f) =>
      event === 'error'
        ? child.once('error', f).once('exit', (code) => f(new Error(`parallel_ceiling: child exited (${code})`)))
        : child.once(event, f),
    send: (steps) => child.send(steps),
    close: () => new Promise((done) => child.once('exit', done).kill()),
  });
}

/** Runs every runner's passes at once; resolves to the slowest one's median seconds. */
async function slowest(runners: Runner[], steps: number): Promise<number> {
  return Math.max(...(await Promise.all(runners.map((r) => r.passes(steps)))));
}

async function main(): Promise<void> {
  const steps = numberOption('steps', 5);
  const rounds = numberOption('rounds', 8);
  const batches = integersOption('batches', []);
  const full = await startThread({ batch: 32 });
  const halfA = await startThread({ batch: 16 });
  const halfB = await startThread({ batch: 16 });
  const matmulA = await startThread({ batch: 0 });
  const matmulB = await startThread({ batch: 0 });
  const processA = await startProcess({ batch: 16 });
  const processB = await startProcess({ batch: 16 });
  const small = new Map<number, [Runner, Runner]>();
  for (const b of batches) small.set(b, [await startThread({ batch: b }), await startThread({ batch: b })]);
  const runs: Record<string, number[]> = {
    alone_32: [],
    alone_16: [],
    pair_16: [],
    matmul_alone: [],
    matmul_pair: [],
    process_alone_16: [],
    process_pair_16: [],
    ...Object.fromEntries(
      batches.flatMap((b) => [
        [`alone_${b}`, []],
        [`pair_${b}`, []],
      ]),
    ),
  };
  for (let r = 0; r < rounds; r++) {
    runs.alone_32.push(await full.passes(steps));
    runs.alone_16.push(await halfA.passes(steps));
    runs.pair_16.push(await slowest([halfA, halfB], steps));
    runs.matmul_alone.push(await matmulA.passes(steps));
    runs.matmul_pair.push(await slowest([matmulA, matmulB], steps));
    runs.process_alone_16.push(await processA.passes(steps));
    runs.process_pair_16.push(await slowest([processA, processB], steps));
    for (const [b, pair] of small) {
      runs[`alone_${b}`].push(await pair[0].passes(steps));
      runs[`pair_${b}`].push(await slowest(pair, steps));
    }
    if (!flag('json')) {
      console.log(
        `round ${r + 1}: batch 32 alone ${runs.alone_32[r].toFixed(3)} s, batch 16 alone ${runs.alone_16[r].toFixed(3)} s, ` +
          `two batch 16 at once ${runs.pair_16[r].toFixed(3)} s (ceiling ${(runs.alone_32[r] / runs.pair_16[r]).toFixed(2)}×)`,
      );
    }
  }
  const all = [full, halfA, halfB, matmulA, matmulB, processA, processB, ...[...small.values()].flat()];
  await Promise.all(all.map((w) => w.close()));
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
    processSideBySideCost: m.process_pair_16 / m.process_alone_16,
    sideBySideCostByBatch: Object.fromEntries([16, ...batches].map((b) => [b, m[`pair_${b}`] / m[`alone_${b}`]])),
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
  console.log(
    `in two processes instead of two threads, side by side costs each batch-16 pass ${result.processSideBySideCost.toFixed(2)}× ` +
      `(alone ${m.process_alone_16.toFixed(3)} s, two at once ${m.process_pair_16.toFixed(3)} s); side by side by batch: ` +
      Object.entries(result.sideBySideCostByBatch)
        .map(([b, c]) => `${b}: ${c.toFixed(2)}×`)
        .join(', '),
  );
}

const childAt = process.argv.indexOf('--child');
if (childAt >= 0) {
  await serve(
    JSON.parse(process.argv[childAt + 1]) as PassJob,
    (m) => process.send?.(m),
    (f) => process.on('message', (steps) => f(steps as number)),
  );
} else if (!workerThreads.isMainThread) {
  const port = workerThreads.parentPort as NonNullable<typeof workerThreads.parentPort>;
  await serve(
    workerThreads.workerData as PassJob,
    (m) => port.postMessage(m),
    (f) => port.on('message', f),
  );
} else await main();
