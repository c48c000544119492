/**
 * The JavaScript peer a user would pick for inference: the IRRA image and text towers as ONNX
 * graphs on onnxruntime-node, with the weights of OUR model (`IRRA.create(config, { seed: 0 })`),
 * checked against `model.encodeImage` / `model.encodeText` on tfjs-wasm before anything is timed.
 *
 * Measured in one run: images/s and captions/s at `encodeBatch`, and the GFLOP/s of a plain ONNX
 * MatMul `[imageTokens · batch, width] @ [width, 4 · width]` (the peer's own roofline, measured
 * before and after the towers, mean). rooflineRatio = (roofline seconds for the tower's dense
 * FLOPs) / (measured seconds), with the FLOP count of bench/encode.ts. Each timing: one warm-up,
 * then the median of `repeats`.
 *
 * onnxruntime-node is not a dependency of the project. Install it outside the repository:
 *   mkdir -p /work/ort-peer && cd /work/ort-peer && npm init -y >/dev/null \
 *     && ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node@1.30.0
 * and run with `IRRA_ORT_DIR=/work/ort-peer`.
 *
 * Run: IRRA_ORT_DIR=/work/ort-peer npx tsx bench/onnx_peer.ts [--tiny] [--batch 2] [--repeats 3]
 */
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-wasm';
import { type IRRAConfig, irraConfig } from '../src/config';
import { IRRA } from '../src/model';
import { flag, numberOption } from './args';
import { DataType, encodeModel, type InitializerSpec, type ModelSpec, type NodeSpec } from './onnx_writer';

type Shape4 = [number, number, number, number];

/** The part of onnxruntime-node's API used here (its types are not a dependency). */
interface OrtTensor {
  readonly data: unknown;
  readonly dims: readonly number[];
}
interface OrtSession {
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}
interface Ort {
  InferenceSession: { create(model: Uint8Array, options?: Record<string, unknown>): Promise<OrtSession> };
  Tensor: new (type: 'float32' | 'int32', data: Float32Array | Int32Array, dims: number[]) => OrtTensor;
}

/** One benchmark row, in bench/run.ts's shape. */
export interface OnnxPeerRow {
  backend: string;
  workload: string;
  value: number;
  unit: string;
  rooflineRatio: number;
  batch: number;
  matmulGflops?: number;
  note?: string;
}

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
  /** Largest accepted max|ORT − tfjs| / max|tfjs| of the features. */
  maxRelativeDifference: 1e-3,
  /** Seed of the model weights (as bench/encode.ts). */
  modelSeed: 0,
  /** Seed of the check's random images, ids and LayerNorm parameters. */
  inputSeed: 7,
  /** Length of one MatMul-roofline sample (a burst of calls; one call is a few ms). */
  matMulSampleSeconds: 0.25,
  /** onnxruntime-node version this was written against. */
  ortVersion: '1.30.0',
} as const;

const INSTALL_HINT =
  `onnxruntime-node is not installed (it is not a dependency of irra-tfjs). Install it outside the repository: ` +
  `mkdir -p /work/ort-peer && cd /work/ort-peer && npm init -y >/dev/null && ` +
  `ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node@${ONNX_PEER_DEFAULTS.ortVersion}; ` +
  `then run with IRRA_ORT_DIR=/work/ort-peer`;

/** onnxruntime-node by a plain import, else from `IRRA_ORT_DIR`; a skip reason when neither works. */
async function loadOrt(): Promise<{ ort: Ort } | { skipped: string }> {
  const name = 'onnxruntime-node';
  try {
    return { ort: (await import(name)) as Ort };
  } catch {
    // Not resolvable from the repository: try IRRA_ORT_DIR below.
  }
  const dir = process.env.IRRA_ORT_DIR;
  if (!dir) return { skipped: `${INSTALL_HINT} (IRRA_ORT_DIR is not set)` };
  try {
    return { ort: createRequire(path.join(dir, 'package.json'))(name) as Ort };
  } catch (e) {
    return { skipped: `${INSTALL_HINT} (IRRA_ORT_DIR=${dir}: ${(e as Error).message.split('\n')[0]})` };
  }
}

/** Dense matMul FLOPs of one transformer pass over `tokens` tokens of width `w` (bench/encode.ts). */
function towerFlops(tokens: number, w: number, layers: number): number {
  const dense = 2 * tokens * w * (3 * w + w + 4 * w + 4 * w);
  const attention = 2 * 2 * tokens * tokens * w;
  return layers * (dense + attention);
}

/** Patch grid and token count of the image tower. */
function imageGeometry(c: IRRAConfig): { gy: number; gx: number; tokens: number } {
  const gy = Math.floor((c.imageSize[0] - c.visionPatchSize) / c.strideSize) + 1;
  const gx = Math.floor((c.imageSize[1] - c.visionPatchSize) / c.strideSize) + 1;
  return { gy, gx, tokens: gy * gx + 1 };
}

/** Dense FLOPs per image and per caption, counted as bench/encode.ts counts them. */
function modelFlops(c: IRRAConfig): { image: number; text: number } {
  const n = imageGeometry(c).tokens;
  return {
    image:
      2 * (n - 1) * 3 * c.visionPatchSize ** 2 * c.visionWidth +
      towerFlops(n, c.visionWidth, c.visionLayers) +
      2 * c.visionWidth * c.embedDim,
    text: towerFlops(c.contextLength, c.transformerWidth, c.transformerLayers) + 2 * c.transformerWidth * c.embedDim,
  };
}

/** A float32 parameter in the reference (PyTorch) layout, copied out of the model. */
interface Param {
  data: Float32Array;
  shape: number[];
}

/** Reads parameters of `model` one at a time (no full state-dict copy in the wasm heap). */
function paramReader(model: IRRA): (name: string) => Param {
  const vars = model.namedParameters();
  return (name) => {
    const v = vars.get(name);
    if (!v) throw new Error(`onnx_peer: the model has no parameter '${name}'`);
    const t = model.toReferenceLayout(name, v);
    const data = new Float32Array(t.dataSync() as Float32Array);
    const shape = t.shape.slice();
    t.dispose();
    return { data, shape };
  };
}

/** `[rows, cols]` → new `[cols, rows]`. */
function transpose2d(p: Param): Param {
  const [r, c] = p.shape;
  const out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = p.data[i * c + j];
  return { data: out, shape: [c, r] };
}

/** Accumulates the nodes and initializers of one graph, naming intermediate values. */
class GraphBuilder {
  readonly nodes: NodeSpec[] = [];
  readonly initializers: InitializerSpec[] = [];
  private count = 0;
  private readonly consts = new Map<string, string>();

  /** Adds an initializer; returns its name. */
  init(name: string, dims: number[], data: Float32Array | BigInt64Array): string {
    this.initializers.push({ name, dims, data });
    return name;
  }

  /** A shared int64 constant (shapes, indices); `dims` [] for a scalar. */
  int64(values: number[], dims: number[] = [values.length]): string {
    const k = `i64:${dims}:${values}`;
    let name = this.consts.get(k);
    if (!name) {
      name = this.init(`const_i64_${this.consts.size}`, dims, BigInt64Array.from(values.map(BigInt)));
      this.consts.set(k, name);
    }
    return name;
  }

  /** A shared float32 scalar constant. */
  scalar(value: number): string {
    const k = `f32:${value}`;
    let name = this.consts.get(k);
    if (!name) {
      name = this.init(`const_f32_${this.consts.size}`, [], Float32Array.of(value));
      this.consts.set(k, name);
    }
    return name;
  }

  /** Adds a one-output node; returns the output's name. */
  op(op: string, inputs: string[], attrs?: NodeSpec['attrs']): string {
    const out = `${op.toLowerCase()}_${this.count++}`;
    this.nodes.push({ op, inputs, outputs: [out], attrs });
    return out;
  }
}

/** Builds graph pieces from the model's parameters (reference names). */
class TowerBuilder {
  constructor(
    readonly g: GraphBuilder,
    private readonly read: (name: string) => Param,
  ) {}

  /** The parameter `name` as an initializer of its reference shape. */
  param(name: string): string {
    const p = this.read(name);
    return this.g.init(name, p.shape, p.data);
  }

  /** LayerNorm over the last axis, eps 1e-5, with `{prefix}.weight` / `{prefix}.bias`. */
  layerNorm(x: string, prefix: string): string {
    return this.g.op('LayerNormalization', [x, this.param(`${prefix}.weight`), this.param(`${prefix}.bias`)], {
      axis: { int: -1 },
      epsilon: { float: 1e-5 },
    });
  }

  /**
   * torch Linear `y = x Wᵀ + b` with `W` = `{prefix}.weight` and `b` = `{prefix}.bias` (or the
   * given names); the weight is transposed once, here, to `[in, out]`.
   */
  linear(x: string, prefix: string, weight = `${prefix}.weight`, bias = `${prefix}.bias`): string {
    const w = transpose2d(this.read(weight));
    const wt = this.g.init(`${weight}_t`, w.shape, w.data);
    return this.g.op('Add', [this.g.op('MatMul', [x, wt]), this.param(bias)]);
  }

  /**
   * One residual attention block on `x` `[B, L, E]`: `x + attn(ln_1(x))`, then
   * `x + c_proj(QuickGELU(c_fc(ln_2(x))))`; `mask` `[L, L]` is added to the attention scores.
   */
  block(x: string, prefix: string, dims: { b: number; l: number; e: number; heads: number }, mask?: string): string {
    const { b, l, e, heads } = dims;
    const d = e / heads;
    const g = this.g;
    const attn = `${prefix}.attn`;
    const qkv = this.linear(
      this.layerNorm(x, `${prefix}.ln_1`),
      attn,
      `${attn}.in_proj_weight`,
      `${attn}.in_proj_bias`,
    );
    const split = g.op('Transpose', [g.op('Reshape', [qkv, g.int64([b, l, 3, heads, d])])], {
      perm: { ints: [2, 0, 3, 1, 4] },
    });
    const part = (i: number) => g.op('Gather', [split, g.int64([i], [])], { axis: { int: 0 } });
    const q = g.op('Mul', [part(0), g.scalar(1 / Math.sqrt(d))]);
    const kT = g.op('Transpose', [part(1)], { perm: { ints: [0, 1, 3, 2] } });
    let scores = g.op('MatMul', [q, kT]);
    if (mask) scores = g.op('Add', [scores, mask]);
    const probs = g.op('Softmax', [scores], { axis: { int: -1 } });
    const heads4 = g.op('MatMul', [probs, part(2)]);
    const merged = g.op('Reshape', [g.op('Transpose', [heads4], { perm: { ints: [0, 2, 1, 3] } }), g.int64([b, l, e])]);
    const h = g.op('Add', [x, this.linear(merged, `${prefix}.attn.out_proj`)]);
    const fc = this.linear(this.layerNorm(h, `${prefix}.ln_2`), `${prefix}.mlp.c_fc`);
    const act = g.op('Mul', [fc, g.op('Sigmoid', [g.op('Mul', [fc, g.scalar(1.702)])])]);
    return g.op('Add', [h, this.linear(act, `${prefix}.mlp.c_proj`)]);
  }
}

/** The image tower: NHWC float32 `images` `[B, H, W, 3]` → `features` `[B, embedDim]`. */
function imageGraph(c: IRRAConfig, batch: number, read: (name: string) => Param): ModelSpec {
  const g = new GraphBuilder();
  const t = new TowerBuilder(g, read);
  const pre = 'base_model.visual';
  const w = c.visionWidth;
  const { gy, gx, tokens } = imageGeometry(c);
  const nchw = g.op('Transpose', ['images'], { perm: { ints: [0, 3, 1, 2] } });
  const conv = g.op('Conv', [nchw, t.param(`${pre}.conv1.weight`)], {
    kernel_shape: { ints: [c.visionPatchSize, c.visionPatchSize] },
    strides: { ints: [c.strideSize, c.strideSize] },
  });
  const patches = g.op('Transpose', [g.op('Reshape', [conv, g.int64([batch, w, gy * gx])])], {
    perm: { ints: [0, 2, 1] },
  });
  const cls = read(`${pre}.class_embedding`).data;
  const clsBatch = new Float32Array(batch * w);
  for (let i = 0; i < batch; i++) clsBatch.set(cls, i * w);
  const clsName = g.init(`${pre}.class_embedding_batch`, [batch, 1, w], clsBatch);
  let x = g.op('Add', [
    g.op('Concat', [clsName, patches], { axis: { int: 1 } }),
    t.param(`${pre}.positional_embedding`),
  ]);
  x = t.layerNorm(x, `${pre}.ln_pre`);
  for (let i = 0; i < c.visionLayers; i++) {
    x = t.block(x, `${pre}.transformer.resblocks.${i}`, { b: batch, l: tokens, e: w, heads: c.visionHeads });
  }
  const first = g.op('Gather', [x, g.int64([0], [])], { axis: { int: 1 } });
  const out = g.op('MatMul', [t.layerNorm(first, `${pre}.ln_post`), t.param(`${pre}.proj`)]);
  g.nodes.push({ op: 'Identity', inputs: [out], outputs: ['features'] });
  return {
    nodes: g.nodes,
    initializers: g.initializers,
    inputs: [{ name: 'images', elemType: DataType.FLOAT, dims: [batch, c.imageSize[0], c.imageSize[1], 3] }],
    outputs: [{ name: 'features', elemType: DataType.FLOAT, dims: [batch, c.embedDim] }],
    name: 'irra_image_tower',
  };
}

/** The text tower: int32 `ids` `[B, contextLength]` → `features` `[B, embedDim]` at argmax(ids). */
function textGraph(c: IRRAConfig, batch: number, read: (name: string) => Param): ModelSpec {
  const g = new GraphBuilder();
  const t = new TowerBuilder(g, read);
  const pre = 'base_model';
  const w = c.transformerWidth;
  const l = c.contextLength;
  const mask = new Float32Array(l * l);
  for (let i = 0; i < l; i++) for (let j = i + 1; j < l; j++) mask[i * l + j] = Number.NEGATIVE_INFINITY;
  const maskName = g.init('causal_mask', [l, l], mask);
  const embedded = g.op('Gather', [t.param(`${pre}.token_embedding.weight`), 'ids'], { axis: { int: 0 } });
  let x = g.op('Add', [embedded, t.param(`${pre}.positional_embedding`)]);
  for (let i = 0; i < c.transformerLayers; i++) {
    x = t.block(x, `${pre}.transformer.resblocks.${i}`, { b: batch, l, e: w, heads: c.transformerHeads }, maskName);
  }
  const eot = g.op('ArgMax', ['ids'], { axis: { int: 1 }, keepdims: { int: 1 } });
  const index = g.op('Expand', [g.op('Reshape', [eot, g.int64([batch, 1, 1])]), g.int64([batch, 1, w])]);
  const pooled = g.op('Reshape', [g.op('GatherElements', [x, index], { axis: { int: 1 } }), g.int64([batch, w])]);
  const out = g.op('MatMul', [t.layerNorm(pooled, `${pre}.ln_final`), t.param(`${pre}.text_projection`)]);
  g.nodes.push({ op: 'Identity', inputs: [out], outputs: ['features'] });
  return {
    nodes: g.nodes,
    initializers: g.initializers,
    inputs: [{ name: 'ids', elemType: DataType.INT32, dims: [batch, l] }],
    outputs: [{ name: 'features', elemType: DataType.FLOAT, dims: [batch, c.embedDim] }],
    name: 'irra_text_tower',
  };
}

/** A plain MatMul `a [rows, k] @ b [k, n]` with `b` a constant, as the model's weights are. */
function matMulGraph(rows: number, k: number, n: number, seed: number): ModelSpec {
  const b = tf.tidy(() => tf.randomNormal([k, n], 0, 1, 'float32', seed).dataSync() as Float32Array);
  return {
    nodes: [{ op: 'MatMul', inputs: ['a', 'b'], outputs: ['c'] }],
    initializers: [{ name: 'b', dims: [k, n], data: new Float32Array(b) }],
    inputs: [{ name: 'a', elemType: DataType.FLOAT, dims: [rows, k] }],
    outputs: [{ name: 'c', elemType: DataType.FLOAT, dims: [rows, n] }],
    name: 'matmul',
  };
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

/** Deterministic 32-bit PRNG (mulberry32) in [0, 1). */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let r = Math.imul(s ^ (s >>> 15), 1 | s);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random ids below the end-of-text id, the end-of-text id at a random position, zeros after it. */
function randomIds(c: IRRAConfig, batch: number, seed: number): Int32Array {
  const rand = prng(seed);
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
 * tfjs-wasm and throws if the relative difference exceeds 1e-3. Returns `skipped` (and no rows)
 * when onnxruntime-node cannot be loaded. Switches tfjs to wasm for the check and restores the
 * previous backend afterwards.
 */
export async function onnxPeerRows(
  opts: OnnxPeerOptions,
): Promise<{ rows: OnnxPeerRow[]; skipped?: string; check?: string }> {
  const loaded = await loadOrt();
  if ('skipped' in loaded) return { rows: [], skipped: loaded.skipped };
  const { ort } = loaded;
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
    const imageShape = [batch, config.imageSize[0], config.imageSize[1], 3];
    const images = tf.randomNormal(imageShape, 0, 1, 'float32', seed);
    const imagesData = new Float32Array(images.dataSync() as Float32Array);
    images.dispose();
    const ids = randomIds(config, batch, seed);
    const imageFeed = { images: new ort.Tensor('float32', imagesData, imageShape) };
    const textFeed = { ids: new ort.Tensor('int32', ids, [batch, config.contextLength]) };

    const model = IRRA.create(config, { seed: ONNX_PEER_DEFAULTS.modelSeed });
    let tfImage: Float32Array;
    let tfText: Float32Array;
    try {
      perturbLayerNorms(model, seed);
      const read = paramReader(model);
      sessions.push(await ort.InferenceSession.create(encodeModel(imageGraph(config, batch, read)), sessionOptions));
      sessions.push(await ort.InferenceSession.create(encodeModel(textGraph(config, batch, read)), sessionOptions));
      tfImage = tf.tidy(
        () => model.encodeImage(tf.tensor4d(imagesData, imageShape as Shape4)).dataSync() as Float32Array,
      );
      tfText = tf.tidy(
        () => model.encodeText(tf.tensor2d(ids, [batch, config.contextLength], 'int32')).dataSync() as Float32Array,
      );
    } finally {
      model.dispose();
    }
    const [imageSession, textSession] = sessions;
    const di = difference((await imageSession.run(imageFeed)).features.data as Float32Array, tfImage);
    const dt = difference((await textSession.run(textFeed)).features.data as Float32Array, tfText);
    const imageCheck = `image features max|Δ| ${di.maxAbs.toExponential(2)}, relative ${di.relative.toExponential(2)}`;
    const textCheck = `text features max|Δ| ${dt.maxAbs.toExponential(2)}, relative ${dt.relative.toExponential(2)}`;
    const check = `ORT vs tfjs-wasm (batch ${batch}): ${imageCheck}; ${textCheck} (relative = max|Δ| / max|tfjs|)`;
    console.log(check);
    const limit = ONNX_PEER_DEFAULTS.maxRelativeDifference;
    if (!(di.relative <= limit) || !(dt.relative <= limit)) {
      throw new Error(`onnx_peer: the ONNX towers do not match the tfjs model (limit ${limit}): ${check}`);
    }

    const { tokens } = imageGeometry(config);
    const rows = tokens * batch;
    const width = config.visionWidth;
    const mmSession = await ort.InferenceSession.create(encodeModel(matMulGraph(rows, width, 4 * width, seed)), {
      ...sessionOptions,
    });
    sessions.push(mmSession);
    const a = new Float32Array(rows * width);
    const rand = prng(seed + 1);
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
    const flops = modelFlops(config);
    const cpu = (t: Timing) => `${t.cpuPerWall.toFixed(2)} CPU-s per wall-s while timed`;
    const threads =
      `onnxruntime-node ${ONNX_PEER_DEFAULTS.ortVersion}, session options ${JSON.stringify(sessionOptions)} ` +
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
          note: `${config.imageSize[0]}×${config.imageSize[1]} ${config.visionLayers}-layer tower as an ONNX graph of our weights, checked against tfjs (${imageCheck}); roofline = the ${shape}; ${cpu(image)}; ${threads}`,
        },
        {
          backend: 'onnxruntime-node',
          workload: 'text_encode',
          value: batch / sText,
          unit: 'captions/s',
          rooflineRatio: (flops.text * batch) / (mm * 1e9) / sText,
          batch,
          matmulGflops: mm,
          note: `${config.contextLength}-token ${config.transformerLayers}-layer causal tower as an ONNX graph of our weights, checked against tfjs (${textCheck}); roofline = the image-shaped ${shape}; ${cpu(text)}; ${threads}`,
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
