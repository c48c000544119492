/**
 * The JavaScript peer a user would pick for inference: the IRRA image and text towers exported
 * with `exportOnnx` (src/export/onnx.ts) and run by onnxruntime-node, with the weights of OUR model
 * (`IRRA.create(config, { seed: 0 })`), checked against `model.encodeImage` / `model.encodeText`
 * on tfjs-wasm before anything is timed.
 *
 * Measured in one run: images/s and captions/s at `encodeBatch`, and the GFLOP/s of a plain ONNX
 * MatMul `[imageTokens · batch, width] @ [width, 4 · width]` (the peer's own roofline, measured
 * before and after the towers, mean). rooflineRatio = (roofline seconds for the tower's dense
 * FLOPs) / (measured seconds), with the FLOP count of bench/roofline.ts. Each timing: one warm-up,
 * then the median of `repeats`.
 *
 * onnxruntime-node is an optional peer dependency of irra-tfjs (a devDependency here); without it
 * the rows are skipped with the install hint.
 *
 * Run: npx tsx bench/onnx_peer.ts [--tiny] [--batch 2] [--repeats 3]
 */
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-wasm';
import { type IRRAConfig, irraConfig } from '../src/config';
import { ElemType, GraphBuilder } from '../src/export/graph_builder';
import { exportOnnx } from '../src/export/onnx';
import { IRRA } from '../src/model';
import {
  loadOnnxRuntime,
  type OnnxRuntimeModule,
  type OrtSession,
  type OrtTensor,
} from '../src/search/engines/onnxruntime_loader';
import { mulberry32 } from '../src/util/random';
import { flag, numberOption } from './args';
import { imageFlops, imageTokens, textFlops } from './roofline';
import type { BenchRow } from './rows';

/** Options of {@link onnxPeerRows}. */
export interface OnnxPeerOptions {
  /** Images / captions per session run. */
  encodeBatch: number;
  /** Timed runs per measurement (after one warm-up); the median is reported. */
  repeats: number;
  /** Model preset: 'ViT-B/16' (default, the paper's model) or 'tiny' (a seconds-long self-check). */
  preset?: 'ViT-B/16' | 'tiny';
}

/** Defaults of this benchmark. */
export const ONNX_PEER_DEFAULTS = {
  encodeBatch: 2,
  repeats: 3,
  preset: 'ViT-B/16',
  /** Largest accepted max|ORT − tfjs| / max|tfjs| of the features (the bound of issue 14's tests). */
  maxRelativeDifference: 1e-5,
  /** Seed of the model weights (as bench/encode.ts). */
  modelSeed: 0,
  /** Seed of the check's random images, ids and LayerNorm parameters. */
  inputSeed: 7,
  /** Length of one MatMul-roofline sample (a burst of calls; one call is a few ms). */
  matMulSampleSeconds: 0.25,
} as const;

/** onnxruntime-node's version, from its package.json (for the notes). */
function ortVersion(): string {
  try {
    const require = createRequire(import.meta.url);
    return (require('onnxruntime-node/package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** A plain MatMul `a [rows, k] @ b [k, n]` with `b` a constant, as the model's weights are. */
function matMulGraph(rows: number, k: number, n: number, seed: number): Uint8Array {
  const g = new GraphBuilder();
  const b = tf.tidy(() => tf.randomNormal([k, n], 0, 1, 'float32', seed).dataSync() as Float32Array);
  const a = g.input({ name: 'a', elemType: ElemType.float32, dims: [rows, k] });
  g.op('MatMul', [a, g.init('b', [k, n], new Float32Array(b))], {}, 'c');
  g.output({ name: 'c', elemType: ElemType.float32, dims: [rows, n] });
  return g.serialize({ opset: 17, name: 'matmul', producer: 'irra-tfjs bench' });
}

/** A timing: seconds per call and the process's CPU-seconds per wall-second while timed. */
interface Timing {
  seconds: number;
  cpuPerWall: number;
}

/**
 * Seconds per `fn()` call: one warm-up, then the median of `repeats` samples. A sample is one
 * call, or a burst of back-to-back calls lasting about `minSampleSeconds` (for calls of a few ms,
 * whose single timings are dominated by noise), divided by the calls. Also reports the process's
 * CPU time per wall time over the samples (≈ the number of busy threads).
 */
async function timeIt(fn: () => Promise<unknown>, repeats: number, minSampleSeconds = 0): Promise<Timing> {
  const w0 = performance.now();
  await fn();
  const warm = (performance.now() - w0) / 1000;
  const calls = Math.max(1, Math.ceil(minSampleSeconds / Math.max(warm, 1e-6)));
  const times: number[] = [];
  const cpu0 = process.cpuUsage();
  const t00 = performance.now();
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    for (let k = 0; k < calls; k++) await fn();
    times.push((performance.now() - t0) / 1000 / calls);
  }
  const cpu = process.cpuUsage(cpu0);
  const wall = (performance.now() - t00) / 1000;
  times.sort((a, b) => a - b);
  return { seconds: times[Math.floor(times.length / 2)], cpuPerWall: (cpu.user + cpu.system) / 1e6 / wall };
}

/** Max |a − b| and that divided by max |b| (the reference's scale). */
function difference(a: Float32Array, b: Float32Array): { maxAbs: number; relative: number } {
  let maxAbs = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  if (a.length !== b.length || !Number.isFinite(maxAbs)) return { maxAbs: Number.NaN, relative: Number.NaN };
  return { maxAbs, relative: maxAbs / scale };
}

/** Random ids below the end-of-text id, the end-of-text id at a random position, zeros after it. */
function randomIds(c: IRRAConfig, batch: number, seed: number): Int32Array {
  const rand = mulberry32(seed);
  const l = c.contextLength;
  const ids = new Int32Array(batch * l);
  for (let b = 0; b < batch; b++) {
    const eotAt = 1 + Math.floor(rand() * (l - 1));
    for (let i = 0; i < eotAt; i++) ids[b * l + i] = Math.floor(rand() * (c.vocabSize - 1));
    ids[b * l + eotAt] = c.vocabSize - 1;
  }
  return ids;
}

/**
 * Gives every LayerNorm of the two towers non-trivial parameters (γ = 1 + 0.1·N, β = 0.1·N), so
 * that the check also catches a swapped or missing LayerNorm weight (their init is 1 and 0).
 */
function perturbLayerNorms(model: IRRA, seed: number): void {
  let i = 0;
  for (const [name, v] of model.namedParameters()) {
    if (!name.startsWith('base_model.') || !/\.ln_[^.]+\.(weight|bias)$/.test(name)) continue;
    const noise = tf.randomNormal(v.shape, 0, 0.1, 'float32', seed + i++);
    const next = name.endsWith('.weight') ? tf.add(noise, 1) : noise;
    v.assign(next as tf.Tensor);
    tf.dispose([noise, next]);
  }
}

/**
 * The onnxruntime-node peer rows: `matmul` (GFLOP/s, ratio 1), `image_encode` (images/s) and
 * `text_encode` (captions/s) at `opts.encodeBatch`, with the towers' ratio to the MatMul
 * roofline. Before timing, checks ORT's features against `encodeImage` / `encodeText` on
 * tfjs-wasm and throws if the relative difference exceeds 1e-5. Returns `skipped` (and no rows)
 * when onnxruntime-node cannot be loaded. Switches tfjs to wasm for the check and restores the
 * previous backend afterwards.
 */
export async function onnxPeerRows(
  opts: OnnxPeerOptions,
): Promise<{ rows: BenchRow[]; skipped?: string; check?: string }> {
  let ort: OnnxRuntimeModule;
  try {
    ort = await loadOnnxRuntime('onnxruntime-node');
  } catch (e) {
    return { rows: [], skipped: (e as Error).message };
  }
  const version = ortVersion();
  const batch = opts.encodeBatch;
  const repeats = opts.repeats;
  const config = irraConfig({ preset: opts.preset ?? ONNX_PEER_DEFAULTS.preset });
  const sessionOptions: Record<string, unknown> = {};
  const previous = tf.getBackend();
  if (!(await tf.setBackend('wasm')) || tf.getBackend() !== 'wasm') {
    throw new Error('onnx_peer: the tfjs wasm backend is needed for the correctness check and did not start');
  }
  const sessions: OrtSession[] = [];
  try {
    const seed = ONNX_PEER_DEFAULTS.inputSeed;
    const [h, w] = config.imageSize;
    const imageShape: [number, number, number, number] = [batch, 3, h, w];
    const imagesData = tf.tidy(() => tf.randomNormal(imageShape, 0, 1, 'float32', seed).dataSync() as Float32Array);
    const ids = randomIds(config, batch, seed);
    const imageFeed = { pixel_values: new ort.Tensor('float32', imagesData, imageShape) };
    const textFeed = {
      input_ids: new ort.Tensor(
        'int64',
        BigInt64Array.from(ids, (v) => BigInt(v)),
        [batch, config.contextLength],
      ),
    };

    const model = IRRA.create(config, { seed: ONNX_PEER_DEFAULTS.modelSeed });
    let tfImage: Float32Array;
    let tfText: Float32Array;
    try {
      perturbLayerNorms(model, seed);
      for (const part of ['image', 'text'] as const) {
        sessions.push(await ort.InferenceSession.create(exportOnnx(model, { part }), sessionOptions));
      }
      tfImage = tf.tidy(() => {
        const nhwc = tf.transpose(tf.tensor4d(imagesData, imageShape), [0, 2, 3, 1]) as tf.Tensor4D;
        return model.encodeImage(nhwc).dataSync() as Float32Array;
      });
      tfText = tf.tidy(
        () => model.encodeText(tf.tensor2d(ids, [batch, config.contextLength], 'int32')).dataSync() as Float32Array,
      );
    } finally {
      model.dispose();
    }
    const [imageSession, textSession] = sessions;
    const features = async (session: OrtSession, feed: Record<string, OrtTensor>, output: string) =>
      (await session.run(feed))[output].data as Float32Array;
    const di = difference(await features(imageSession, imageFeed, 'image_embeds'), tfImage);
    const dt = difference(await features(textSession, textFeed, 'text_embeds'), tfText);
    const imageCheck = `image features max|Δ| ${di.maxAbs.toExponential(2)}, relative ${di.relative.toExponential(2)}`;
    const textCheck = `text features max|Δ| ${dt.maxAbs.toExponential(2)}, relative ${dt.relative.toExponential(2)}`;
    const check = `ORT vs tfjs-wasm (batch ${batch}): ${imageCheck}; ${textCheck} (relative = max|Δ| / max|tfjs|)`;
    console.log(check);
    const limit = ONNX_PEER_DEFAULTS.maxRelativeDifference;
    if (!(di.relative <= limit) || !(dt.relative <= limit)) {
      throw new Error(`onnx_peer: the ONNX towers do not match the tfjs model (limit ${limit}): ${check}`);
    }

    const tokens = imageTokens(config);
    const rows = tokens * batch;
    const width = config.visionWidth;
    const mmSession = await ort.InferenceSession.create(matMulGraph(rows, width, 4 * width, seed), {
      ...sessionOptions,
    });
    sessions.push(mmSession);
    const a = new Float32Array(rows * width);
    const rand = mulberry32(seed + 1);
    for (let i = 0; i < a.length; i++) a[i] = rand() * 2 - 1;
    const mmFeed = { a: new ort.Tensor('float32', a, [rows, width]) };
    const mmFlops = 2 * rows * width * 4 * width;
    const mmSample = ONNX_PEER_DEFAULTS.matMulSampleSeconds;
    const mmBefore = await timeIt(() => mmSession.run(mmFeed), repeats, mmSample);
    const image = await timeIt(() => imageSession.run(imageFeed), repeats);
    const text = await timeIt(() => textSession.run(textFeed), repeats);
    const mmAfter = await timeIt(() => mmSession.run(mmFeed), repeats, mmSample);
    const gflops = (t: Timing) => mmFlops / t.seconds / 1e9;
    const mm = (gflops(mmBefore) + gflops(mmAfter)) / 2;
    const sImage = image.seconds;
    const sText = text.seconds;
    const flops = { image: imageFlops(config, false), text: textFlops(config, false) };
    const cpu = (t: Timing) => `${t.cpuPerWall.toFixed(2)} CPU-s per wall-s while timed`;
    const threads =
      `onnxruntime-node ${version}, session options ${JSON.stringify(sessionOptions)} ` +
      `(all ORT defaults: intra-op threads = ORT's default of one per physical core, graph optimization 'all'); ` +
      `os.availableParallelism() = ${os.availableParallelism()}`;
    const shape = `MatMul [${tokens}·${batch}, ${width}] @ [${width}, ${4 * width}]`;
    return {
      check,
      rows: [
        {
          backend: 'onnxruntime-node',
          workload: 'matmul',
          value: mm,
          unit: 'GFLOP/s',
          rooflineRatio: 1,
          batch,
          matmulGflops: mm,
          note: `${shape}, constant right operand, each sample a ~${mmSample} s burst of calls, mean of before (${gflops(mmBefore).toFixed(1)}) and after (${gflops(mmAfter).toFixed(1)}) the towers, ${cpu(mmBefore)}; ${threads}`,
        },
        {
          backend: 'onnxruntime-node',
          workload: 'image_encode',
          value: batch / sImage,
          unit: 'images/s',
          rooflineRatio: (flops.image * batch) / (mm * 1e9) / sImage,
          batch,
          matmulGflops: mm,
          note: `${config.imageSize[0]}×${config.imageSize[1]} ${config.visionLayers}-layer tower exported by exportOnnx (our weights), checked against tfjs (${imageCheck}); roofline = the ${shape}; ${cpu(image)}; ${threads}`,
        },
        {
          backend: 'onnxruntime-node',
          workload: 'text_encode',
          value: batch / sText,
          unit: 'captions/s',
          rooflineRatio: (flops.text * batch) / (mm * 1e9) / sText,
          batch,
          matmulGflops: mm,
          note: `${config.contextLength}-token ${config.transformerLayers}-layer causal tower exported by exportOnnx (our weights), checked against tfjs (${textCheck}); roofline = the image-shaped ${shape}; ${cpu(text)}; ${threads}`,
        },
      ],
    };
  } finally {
    for (const s of sessions) await s.release();
    if (previous && previous !== 'wasm') await tf.setBackend(previous);
  }
}

async function main(): Promise<void> {
  const preset = flag('tiny') ? 'tiny' : 'ViT-B/16';
  const t0 = performance.now();
  const result = await onnxPeerRows({
    encodeBatch: numberOption('batch', ONNX_PEER_DEFAULTS.encodeBatch),
    repeats: numberOption('repeats', ONNX_PEER_DEFAULTS.repeats),
    preset,
  });
  if (result.skipped) {
    console.log(`onnxruntime-node peer skipped: ${result.skipped}`);
    return;
  }
  console.log(`\npreset ${preset}, ${((performance.now() - t0) / 1000).toFixed(1)} s in all\n`);
  console.log('| backend | workload | batch | value | unit | matMul GFLOP/s | ratio to roofline |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of result.rows) {
    console.log(
      `| ${r.backend} | ${r.workload} | ${r.batch} | ${r.value.toFixed(2)} | ${r.unit} | ${(r.matmulGflops ?? Number.NaN).toFixed(1)} | ${r.rooflineRatio.toFixed(2)} |`,
    );
  }
  for (const r of result.rows) console.log(`\n${r.workload}: ${r.note}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  });
}
