/**
 * `npm run bench`: per backend available in Node (cpu, wasm; tfjs-node's 'tensorflow' when it can
 * be imported), a table of the ViT-B/16 IRRA workloads, each against the backend's roofline (a plain
 * 2-D matMul of the same FLOPs, measured in the same run right before and after the workload):
 *
 * - `matmul`: GFLOP/s of `[193 · B, 768] @ [768, 3072]` (the image tower's MLP shape), ratio 1.
 * - `image_encode`: images/s (384×128); ratio = roofline time of its matMul FLOPs / measured time.
 * - `text_encode`: captions/s (77 tokens); same ratio.
 * - `train_step`: seconds of one full step (sdm + id + mlm, Adam update, batch 8, gradient
 *   checkpointing of the image tower); ratio = roofline time of the step's *forward* FLOPs / step time, so the
 *   issue's goal "step ≤ 3.5× the forward roofline time" is ratio ≥ 0.286 (a perfect step, with a
 *   backward pass of twice the forward FLOPs, would be 0.33).
 * - `train_step_small`: the same for the demo's model (`npm run demo`: width 64, 2 layers, images
 *   64×24, context 48, vocab 130, batch 32), against a matMul of its own MLP shape.
 *
 * Memory per row: process RSS after the workload (it includes the wasm heap, which never shrinks),
 * the wasm heap size, and `tf.profile`'s peak of `tf.memory().numBytes` during the workload.
 * Writes `bench/results.json` (a list of `{ backend, workload, value, unit, rooflineRatio, ... }`)
 * and `bench/results.meta.json` (date, machine). onnxruntime-node, when it can be loaded (an
 * optional peer dependency; see bench/onnx_peer.ts), adds the peer's rows: the same towers exported
 * by `exportOnnx` with the same weights, checked against tfjs first, against ORT's own matMul
 * roofline (`--no_peer` leaves them out). The train step's Adam keeps its state in JavaScript memory
 * (`stateStorage: 'host'`), which lets batch 8 fit the 4 GB wasm heap. On wasm,
 * `image_encode_workers_1` / `_2`: images/s of `encodeGalleryInWorkers` with 1 and 2 worker
 * threads (each its own wasm backend and copy of the weights), steady state: a gallery of one image
 * per worker against one of `--worker_images` + 1 per worker (bench/worker_rate.ts).
 *
 * Run: npx tsx bench/run.ts [--backends wasm,cpu] [--repeats 3] [--encode_batch 2]
 *   [--train_batch 8] [--no_checkpoint] [--skip_train] [--worker_images 6] [--no_peer] [--no_write]
 */

import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { irraConfig } from '../src/config';
import { IRRA, type IRRABatch, totalLoss } from '../src/model';
import { buildOptimizer } from '../src/train';
import { benchArgs, flag, numberOption, option } from './args';
import { onnxPeerRows } from './onnx_peer';
import { imageFlops, imageTokens, matMulGflops, run, textFlops, trainForwardFlops } from './roofline';
import { median } from './stats';
import { captionIds, DEMO_SIZE_CONFIG, trainBatch } from './train_batch';
import { workerThroughput } from './worker_rate';

const REPEATS = numberOption('repeats', 3);
const ENCODE_BATCH = numberOption('encode_batch', 2);
const TRAIN_BATCH = numberOption('train_batch', 8);
const CHECKPOINT = !flag('no_checkpoint');
const SKIP_TRAIN = flag('skip_train');
const WRITE = !flag('no_write');
const BACKENDS = option('backends', 'wasm,cpu').split(',');
const WORKER_IMAGES = numberOption('worker_images', 6);

/** One row of bench/results.json. */
interface Result {
  backend: string;
  workload: string;
  value: number;
  unit: string;
  rooflineRatio: number;
  batch?: number;
  matmulGflops?: number;
  peakRssMB?: number;
  wasmHeapMB?: number;
  peakTensorMB?: number;
  note?: string;
}
const results: Result[] = [];
const notes: string[] = [];

const MB = 1024 * 1024;
const rssMB = (): number => Math.round(process.memoryUsage().rss / MB);
function wasmHeapMB(): number | undefined {
  if (tf.getBackend() !== 'wasm') return undefined;
  const b = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  const heap = b.wasm?.HEAPU8;
  return heap ? Math.round(heap.buffer.byteLength / MB) : undefined;
}

/** What bench/train_memory.ts reports from a child process. */
interface TrainChild {
  batch: number;
  seconds: number;
  loss: number;
  wasmHeapMB: number;
  peakTensorMB: number | null;
}

/**
 * One ViT-B/16 training run of 2 steps (the second timed) at `batch` in a child process (an
 * out-of-memory abort of the wasm module would end this process).
 */
function trainInChild(batch: number): TrainChild | { error: string } {
  const script = new URL('./train_memory.ts', import.meta.url).pathname;
  const childArgs = ['--import', 'tsx', script, '--batch', String(batch), '--steps', '2', '--json'];
  if (!CHECKPOINT) childArgs.push('--no_checkpoint');
  const r = spawnSync(process.execPath, childArgs, { encoding: 'utf8', maxBuffer: 64 * MB });
  const line = r.stdout.split('\n').find((x) => x.startsWith('RESULT '));
  if (!line) {
    const tail = `${r.stdout}\n${r.stderr}`
      .split('\n')
      .map((x) => x.slice(0, 160))
      .filter((x) => /abort|memory|error/i.test(x))
      .slice(-2)
      .join(' | ');
    return { error: tail || `exit code ${r.status}` };
  }
  return JSON.parse(line.slice('RESULT '.length)) as TrainChild;
}

/**
 * Measures `work` (`repeats` calls) between roofline samples: one before every call and one after
 * the last. Each call's ratio is (its FLOPs at the mean of the samples around it) / (its time);
 * the reported ratio is the median of those, so that a burst of the VM's other load, which slows
 * a call and the samples next to it alike, cancels (medians of times and of rooflines taken
 * separately let a burst that hit only the calls, or only the samples, move a ratio far off).
 * Also: the median time, the median roofline, and tf.profile's peak tensor bytes (its run doubles
 * as the first warm-up call).
 */
async function measured(
  work: { once: () => void; repeats: number; warmup: number; flops: number },
  roof: { rows: number; width: number; repeats: number },
): Promise<{ s: number; roofGflops: number; ratio: number; peakTensorMB: number }> {
  const profile = await tf.profile(() => work.once());
  for (let i = 1; i < work.warmup; i++) work.once();
  const times: number[] = [];
  const roofs: number[] = [matMulGflops(roof.rows, roof.width, roof.repeats)];
  const ratios: number[] = [];
  for (let i = 0; i < work.repeats; i++) {
    const t0 = performance.now();
    work.once();
    const s = (performance.now() - t0) / 1000;
    times.push(s);
    roofs.push(matMulGflops(roof.rows, roof.width, roof.repeats));
    const around = (roofs[i] + roofs[i + 1]) / 2;
    ratios.push(work.flops / (around * 1e9) / s);
  }
  return {
    s: median(times),
    roofGflops: median(roofs),
    ratio: median(ratios),
    peakTensorMB: Math.round(profile.peakBytes / MB),
  };
}

/** One training step: summed losses, their gradients, an Adam update. */
function trainStepper(model: IRRA, batch: IRRABatch): { once: () => void; dispose: () => void } {
  const optimizer = buildOptimizer(model, { lr: 1e-5 });
  return {
    once: () => {
      optimizer.minimize(() => tf.tidy(() => totalLoss(model.computeLosses(batch))));
    },
    dispose: () => optimizer.dispose(),
  };
}

function push(r: Result): void {
  r.peakRssMB = rssMB();
  const heap = wasmHeapMB();
  if (heap !== undefined) r.wasmHeapMB = heap;
  results.push(r);
  const ratio = Number.isFinite(r.rooflineRatio) ? r.rooflineRatio.toFixed(2) : '—';
  console.log(
    `  ${r.workload}: ${r.value.toPrecision(3)} ${r.unit}, roofline ratio ${ratio}` +
      (r.peakTensorMB !== undefined ? `, peak tensors ${r.peakTensorMB} MB` : '') +
      `, RSS ${r.peakRssMB} MB` +
      (r.wasmHeapMB !== undefined ? `, wasm heap ${r.wasmHeapMB} MB` : ''),
  );
}

const B16 = irraConfig({ preset: 'ViT-B/16' });
const SMALL = DEMO_SIZE_CONFIG;
const SMALL_BATCH = 32;

/** How hard each workload is measured on `backend`: the cpu backend gets one short pass. */
interface BenchPlan {
  backend: string;
  slow: boolean;
  encodeBatch: number;
  repeats: number;
  warmup: number;
  roofRepeats: number;
}

function benchPlan(backend: string): BenchPlan {
  const slow = backend === 'cpu';
  return {
    backend,
    slow,
    encodeBatch: slow ? 1 : ENCODE_BATCH,
    repeats: slow ? 1 : REPEATS,
    warmup: slow ? 0 : 1,
    roofRepeats: slow ? 1 : 5,
  };
}

/** Activates `backend`; false (with a note) when it is not available. */
async function activateBackend(backend: string): Promise<boolean> {
  if (!(await tf.setBackend(backend)) || tf.getBackend() !== backend) {
    notes.push(`${backend}: tf.setBackend failed, skipped`);
    console.log(`${backend}: not available, skipped`);
    return false;
  }
  await tf.ready();
  return true;
}

/** The `matmul` roofline row, then `image_encode` and `text_encode` of the ViT-B/16 model; returns the roofline GFLOP/s. */
async function benchEncode(model: IRRA, p: BenchPlan): Promise<number> {
  const { backend, slow, encodeBatch: eb, repeats, warmup, roofRepeats } = p;
  const nImg = imageTokens(B16);
  const roof = matMulGflops(nImg * eb, B16.visionWidth, roofRepeats);
  push({ backend, workload: 'matmul', value: roof, unit: 'GFLOP/s', rooflineRatio: 1, batch: eb });

  const images = tf.randomNormal([eb, 384, 128, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
  const fImg = imageFlops(B16, false) * eb;
  const img = await measured(
    { once: run(() => model.encodeImage(images)), repeats: slow ? repeats : Math.max(repeats, 5), warmup, flops: fImg },
    { rows: nImg * eb, width: B16.visionWidth, repeats: roofRepeats },
  );
  images.dispose();
  push({
    backend,
    workload: 'image_encode',
    value: eb / img.s,
    unit: 'images/s',
    rooflineRatio: img.ratio,
    batch: eb,
    matmulGflops: img.roofGflops,
    peakTensorMB: img.peakTensorMB,
  });

  const caps = captionIds(B16, eb, 0);
  const fTxt = textFlops(B16, false) * eb;
  const txt = await measured(
    // Text calls are shorter than image calls: more samples, for the same confidence.
    { once: run(() => model.encodeText(caps)), repeats: slow ? repeats : Math.max(repeats, 7), warmup, flops: fTxt },
    { rows: B16.contextLength * eb, width: B16.transformerWidth, repeats: roofRepeats },
  );
  caps.dispose();
  push({
    backend,
    workload: 'text_encode',
    value: eb / txt.s,
    unit: 'captions/s',
    rooflineRatio: txt.ratio,
    batch: eb,
    matmulGflops: txt.roofGflops,
    peakTensorMB: txt.peakTensorMB,
  });
  return roof;
}

/**
 * The ViT-B/16 `train_step` row, in a child process, halving the batch from `--train_batch` until
 * a step fits; on the cpu backend only a note of what a step would cost at the roofline.
 */
function benchTrainStep(p: BenchPlan, roof: number): void {
  const { backend, slow } = p;
  if (SKIP_TRAIN) {
    notes.push(`${backend}: train_step skipped (--skip_train)`);
    return;
  }
  if (slow) {
    const fwd = trainForwardFlops(B16, TRAIN_BATCH) * TRAIN_BATCH;
    const minutes = (3.5 * fwd) / (roof * 1e9) / 60;
    const why = `${backend}: train_step skipped: ~${minutes.toFixed(0)} min per step at ${roof.toFixed(2)} GFLOP/s (${(fwd / 1e9).toFixed(0)} GFLOP forward, batch ${TRAIN_BATCH})`;
    notes.push(why);
    console.log(`  ${why}`);
    return;
  }
  const nImg = imageTokens(B16);
  const before = matMulGflops(nImg * TRAIN_BATCH, B16.visionWidth, 3);
  let step: TrainChild | null = null;
  for (let tb = TRAIN_BATCH; tb >= 1 && !step; tb = Math.floor(tb / 2)) {
    const r = trainInChild(tb);
    if ('error' in r) {
      const why = `${backend}: train_step at batch ${tb} does not fit / failed: ${r.error}`;
      notes.push(why);
      console.log(`  ${why}`);
    } else step = r;
  }
  const after = matMulGflops(nImg * TRAIN_BATCH, B16.visionWidth, 3);
  if (!step) return;
  const roofGflops = (before + after) / 2;
  const fwd = trainForwardFlops(B16, step.batch) * step.batch;
  push({
    backend,
    workload: 'train_step',
    value: step.seconds,
    unit: 's/step',
    rooflineRatio: fwd / (roofGflops * 1e9) / step.seconds,
    batch: step.batch,
    matmulGflops: roofGflops,
    peakTensorMB: step.peakTensorMB ?? undefined,
    note: `${CHECKPOINT ? 'gradient checkpointing of the image tower' : 'gradient checkpointing off'}; Adam, state in JS memory; child process; wasm heap ${step.wasmHeapMB} MB`,
  });
  const last = results[results.length - 1];
  last.wasmHeapMB = step.wasmHeapMB;
}

/** `image_encode_workers_1` and `_2`: steady-state images/s of 1 and 2 worker threads (not on cpu). */
async function benchWorkers(model: IRRA, p: BenchPlan, roof: number): Promise<void> {
  if (p.slow || WORKER_IMAGES <= 0) return;
  const perWorkers: number[] = [];
  for (const workers of [1, 2]) {
    const r = await workerThroughput(model, workers, WORKER_IMAGES, p.backend);
    perWorkers.push(r.steady);
    push({
      backend: p.backend,
      workload: `image_encode_workers_${workers}`,
      value: r.steady,
      unit: 'images/s',
      rooflineRatio: (imageFlops(B16, false) * r.steady) / (roof * 1e9),
      batch: 1,
      matmulGflops: roof,
      note: `${workers} worker thread(s), steady state (${r.longImages} vs ${r.shortImages} images); with start-up ${r.withStartUp.toFixed(3)} images/s, start-up ${r.startUp.toFixed(1)} s; ratio against one thread's matMul roofline`,
    });
  }
  console.log(`  2 workers / 1 worker (steady state): ${(perWorkers[1] / perWorkers[0]).toFixed(2)}x`);
}

/** `train_step_small`: a training step of the small model, in this process. */
async function benchSmallTrainStep(p: BenchPlan): Promise<void> {
  const small = IRRA.create(SMALL, { seed: 0 });
  const sBatch = trainBatch(SMALL, SMALL_BATCH);
  const sStepper = trainStepper(small, sBatch);
  const sFwd = trainForwardFlops(SMALL, SMALL_BATCH) * SMALL_BATCH;
  const sStep = await measured(
    { once: sStepper.once, repeats: p.slow ? 1 : 5, warmup: 2, flops: sFwd },
    { rows: imageTokens(SMALL) * SMALL_BATCH, width: SMALL.visionWidth, repeats: 20 },
  );
  sStepper.dispose();
  tf.dispose(Object.values(sBatch) as tf.Tensor[]);
  small.dispose();
  push({
    backend: p.backend,
    workload: 'train_step_small',
    value: sStep.s,
    unit: 's/step',
    rooflineRatio: sStep.ratio,
    batch: SMALL_BATCH,
    matmulGflops: sStep.roofGflops,
    peakTensorMB: sStep.peakTensorMB,
  });
}

/** Every workload of one backend, in order: encoders, train step, worker threads, small train step. */
async function benchBackend(backend: string): Promise<void> {
  if (!(await activateBackend(backend))) return;
  console.log(`\n== ${backend} ==`);
  const plan = benchPlan(backend);
  const model = IRRA.create(B16, { seed: 0 });
  try {
    const roof = await benchEncode(model, plan);
    benchTrainStep(plan, roof);
    await benchWorkers(model, plan, roof);
  } finally {
    model.dispose();
  }
  await benchSmallTrainStep(plan);
}

async function optionalPeers(): Promise<string[]> {
  const available: string[] = [];
  const tfjsNode = '@tensorflow/tfjs-node';
  try {
    await import(tfjsNode);
    available.push('tensorflow');
  } catch {
    const why = `tensorflow (${tfjsNode}): not importable here (its install downloads libtensorflow), no row`;
    notes.push(why);
    console.log(why);
  }
  return available;
}

/** The optional onnxruntime-node comparison rows (bench/onnx_peer.ts), after every tfjs backend. */
async function onnxPeer(): Promise<void> {
  console.log('\n## onnxruntime-node (optional peer, not a dependency)');
  let peer: Awaited<ReturnType<typeof onnxPeerRows>>;
  try {
    peer = await onnxPeerRows({ encodeBatch: ENCODE_BATCH, repeats: REPEATS });
  } catch (e) {
    // A failed peer (its correctness check, say) must not lose the tfjs rows measured before it.
    const why = `onnxruntime-node: failed, no rows: ${String((e as Error).message ?? e).slice(0, 300)}`;
    notes.push(why);
    console.log(`  ${why}`);
    return;
  }
  if (peer.skipped) {
    notes.push(`onnxruntime-node: ${peer.skipped}`);
    console.log(`  ${peer.skipped}`);
    return;
  }
  if (peer.check) notes.push(`onnxruntime-node: ${peer.check}`);
  for (const row of peer.rows) push({ ...row });
}

async function main(): Promise<void> {
  const t0 = performance.now();
  console.log(
    `IRRA bench: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, tfjs ${tf.version_core}, load ${os
      .loadavg()
      .map((v) => v.toFixed(1))
      .join(' ')}`,
  );
  const peers = await optionalPeers();
  for (const backend of [...BACKENDS, ...peers]) await benchBackend(backend);
  if (!flag('no_peer')) await onnxPeer();

  console.log(
    '\n| backend | workload | batch | value | unit | matMul GFLOP/s | roofline ratio | peak tensors MB | RSS MB | wasm heap MB |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const r of results) {
    console.log(
      `| ${r.backend} | ${r.workload} | ${r.batch ?? ''} | ${r.value.toPrecision(3)} | ${r.unit} | ${(r.matmulGflops ?? r.value).toFixed(1)} | ${r.rooflineRatio.toFixed(2)} | ${r.peakTensorMB ?? ''} | ${r.peakRssMB} | ${r.wasmHeapMB ?? ''} |`,
    );
  }
  for (const n of notes) console.log(`note: ${n}`);
  const wall = (performance.now() - t0) / 1000;
  console.log(`total ${wall.toFixed(0)} s`);
  if (WRITE) {
    writeFileSync(new URL('./results.json', import.meta.url), `${JSON.stringify(results, null, 2)}\n`);
    const meta = {
      date: new Date().toISOString(),
      machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 1024 ** 3)} GB`,
      loadAverage: os.loadavg(),
      node: process.version,
      tfjs: tf.version_core,
      args: benchArgs,
      notes,
      wallSeconds: Math.round(wall),
    };
    writeFileSync(new URL('./results.meta.json', import.meta.url), `${JSON.stringify(meta, null, 2)}\n`);
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
