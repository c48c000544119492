/**
 * The onnxruntime encoder engine: the model's towers exported to ONNX ({@link exportOnnxAsync})
 * and run by onnxruntime-node in Node or onnxruntime-web in browsers (WebGPU where the browser
 * offers it, else wasm, threaded on a cross-origin isolated page).
 */
import type { IRRAConfig } from '../../config';
import { EXPORT_ONNX_DEFAULTS, exportOnnxAsync, type OnnxPart } from '../../export/onnx';
import { ONNX_IO_NAMES } from '../../export/towers';
import type { IRRA } from '../../model/irra';
import type { EncoderEngine } from '../types';
import { checkIds, checkPixels } from './inputs';
import {
  defaultRuntimePackage,
  inNode,
  loadOnnxRuntime,
  type OnnxRuntimeModule,
  type OnnxRuntimePackage,
  type OrtSession,
  type OrtTensor,
} from './onnxruntime_loader';

/** Options of {@link createOnnxEngine}. */
export interface OnnxEngineOptions {
  /**
   * An onnxruntime module to use (`import * as ort from 'onnxruntime-web'`). Default: loaded
   * when the engine is created — `onnxruntime-node` in Node, `onnxruntime-web` in browsers.
   */
  runtime?: OnnxRuntimeModule;
  /**
   * Execution providers in order of preference. Default: Node `['cpu']`; browsers
   * `['webgpu', 'wasm']` when `navigator.gpu` gives an adapter, else `['wasm']`.
   */
  executionProviders?: string[];
  /**
   * Threads: Node's `intraOpNumThreads`, or onnxruntime-web's `env.wasm.numThreads` (threads need
   * a cross-origin isolated page). Default: onnxruntime's own choice (Node: one per physical
   * core; web: half the cores up to 4 when `crossOriginIsolated`, else 1).
   */
  threads?: number;
  /** The towers to build sessions for (a search that only encodes captions needs 'text'). Default both. */
  parts?: OnnxPart[];
  /** ONNX opset of the exported graphs. Default {@link EXPORT_ONNX_DEFAULTS}.opset (17). */
  opset?: number;
}

/** Defaults of {@link createOnnxEngine}. */
export const ONNX_ENGINE_DEFAULTS = {
  parts: ['image', 'text'] as readonly OnnxPart[],
  opset: EXPORT_ONNX_DEFAULTS.opset,
  nodeExecutionProviders: ['cpu'] as readonly string[],
  webExecutionProviders: ['webgpu', 'wasm'] as readonly string[],
} as const;

/** The onnxruntime engine: an {@link EncoderEngine} plus what it runs on. */
export interface OnnxEngine extends EncoderEngine {
  readonly kind: 'onnxruntime';
  /** The package it loaded (or `'user'` when given `options.runtime`). */
  readonly runtime: OnnxRuntimePackage | 'user';
  /** The execution providers asked for, in order of preference. */
  readonly executionProviders: readonly string[];
  /** The towers it has sessions for. */
  readonly parts: readonly OnnxPart[];
}

/** Whether this browser offers a WebGPU adapter. */
async function hasWebGpu(): Promise<boolean> {
  const gpu = (globalThis as { navigator?: { gpu?: { requestAdapter(): Promise<unknown> } } }).navigator?.gpu;
  if (!gpu) return false;
  try {
    return (await gpu.requestAdapter()) != null;
  } catch {
    return false;
  }
}

/** NHWC `[count, h, w, 3]` → a new NCHW `[count, 3, h, w]`. */
function toNchw(pixels: Float32Array, count: number, h: number, w: number): Float32Array {
  const plane = h * w;
  const out = new Float32Array(pixels.length);
  for (let b = 0; b < count; b++) {
    const base = b * plane * 3;
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < 3; c++) out[base + c * plane + p] = pixels[base + 3 * p + c];
    }
  }
  return out;
}

/** One tower's session; runs one at a time (onnxruntime-web sessions are not re-entrant). */
class TowerSession {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly runtime: OnnxRuntimeModule,
    private readonly session: OrtSession,
    private readonly names: { input: string; output: string },
  ) {}

  run(input: OrtTensor): Promise<Float32Array> {
    const next = this.queue.then(async () => {
      const out = await this.session.run({ [this.names.input]: input });
      const t = out[this.names.output];
      try {
        return new Float32Array(t.data as Float32Array);
      } finally {
        t.dispose?.();
        input.dispose?.();
      }
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  tensor(type: 'float32' | 'int64', data: Float32Array | BigInt64Array, dims: number[]): OrtTensor {
    return new this.runtime.Tensor(type, data, dims);
  }

  release(): Promise<void> {
    return this.queue.then(() => this.session.release());
  }
}

/** Session options: the providers, and Node's thread count. */
function sessionOptions(
  providers: readonly string[],
  threads: number | undefined,
  node: boolean,
): Record<string, unknown> {
  const options: Record<string, unknown> = { executionProviders: [...providers] };
  if (threads !== undefined && node) options.intraOpNumThreads = threads;
  return options;
}

function checkOptions(options: OnnxEngineOptions): void {
  const { threads, parts, executionProviders } = options;
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1)) {
    throw new Error(`createOnnxEngine: options.threads must be an integer ≥ 1, got ${threads}`);
  }
  if (parts !== undefined) {
    const bad = Array.isArray(parts) ? parts.find((p) => p !== 'image' && p !== 'text') : parts;
    if (!Array.isArray(parts) || parts.length === 0 || bad !== undefined) {
      throw new Error(
        `createOnnxEngine: options.parts must be a non-empty list of 'image' and 'text', got ${JSON.stringify(parts)}`,
      );
    }
  }
  if (executionProviders !== undefined && (!Array.isArray(executionProviders) || executionProviders.length === 0)) {
    throw new Error(
      `createOnnxEngine: options.executionProviders must be a non-empty list, got ${JSON.stringify(executionProviders)}`,
    );
  }
}

/**
 * An {@link EncoderEngine} that runs `model`'s towers on onnxruntime: exports them to ONNX (the
 * weights as they are now; later changes to the model are not seen) and opens one session per
 * tower. Features equal `model.encodeImage` / `model.encodeText` to float32 rounding (measured
 * ≤ 2e-6 relative). `encodeImages` takes NHWC pixels (transposed to the graph's NCHW here),
 * `encodeTexts` int32 ids (widened to int64). The model stays the caller's; `dispose()` releases
 * the sessions only.
 *
 * onnxruntime is an optional peer dependency, loaded here: `onnxruntime-node` in Node,
 * `onnxruntime-web` in browsers (or pass `options.runtime`). In browsers the engine asks for
 * WebGPU when `navigator.gpu` gives an adapter, else wasm; onnxruntime-web needs its `.wasm`
 * files served (`ort.env.wasm.wasmPaths`) and uses threads only on a cross-origin isolated page.
 *
 * @example
 * ```ts
 * const engine = await createOnnxEngine(model);               // Node: onnxruntime-node
 * const feats = await engine.encodeTexts(ids, 2);             // Float32Array [2 * embedDim]
 * await engine.dispose();
 * ```
 * @throws Error when the runtime is not installed (saying `npm install onnxruntime-node` or
 *   `onnxruntime-web`), on bad options, or when no session can be created.
 */
export async function createOnnxEngine(model: IRRA, options: OnnxEngineOptions = {}): Promise<OnnxEngine> {
  checkOptions(options);
  const config: IRRAConfig = model.config;
  const parts = [...new Set(options.parts ?? ONNX_ENGINE_DEFAULTS.parts)];
  const node = inNode();
  const runtimeName: OnnxRuntimePackage | 'user' = options.runtime ? 'user' : defaultRuntimePackage();
  const runtime = options.runtime ?? (await loadOnnxRuntime(defaultRuntimePackage()));
  const providers =
    options.executionProviders ??
    (node
      ? [...ONNX_ENGINE_DEFAULTS.nodeExecutionProviders]
      : (await hasWebGpu())
        ? [...ONNX_ENGINE_DEFAULTS.webExecutionProviders]
        : ['wasm']);
  if (!node && options.threads !== undefined && runtime.env?.wasm) runtime.env.wasm.numThreads = options.threads;
  const sessions = new Map<OnnxPart, TowerSession>();
  try {
    for (const part of parts) {
      const bytes = await exportOnnxAsync(model, { part, opset: options.opset ?? ONNX_ENGINE_DEFAULTS.opset });
      const session = await runtime.InferenceSession.create(bytes, sessionOptions(providers, options.threads, node));
      sessions.set(part, new TowerSession(runtime, session, ONNX_IO_NAMES[part]));
    }
  } catch (e) {
    for (const s of sessions.values()) await s.release();
    throw e;
  }
  const [h, w] = config.imageSize;
  const tower = (part: OnnxPart, method: string): TowerSession => {
    const s = sessions.get(part);
    if (!s) {
      throw new Error(
        `onnxruntime engine.${method}: this engine was created without the ${part} tower (options.parts = ${JSON.stringify(parts)})`,
      );
    }
    return s;
  };
  let released = false;
  const live = (method: string): void => {
    if (released) throw new Error(`onnxruntime engine.${method}: the engine has been disposed`);
  };
  return {
    kind: 'onnxruntime',
    embedDim: config.embedDim,
    runtime: runtimeName,
    executionProviders: providers,
    parts,
    async encodeImages(pixels: Float32Array, count: number): Promise<Float32Array> {
      live('encodeImages');
      checkPixels('onnxruntime engine', pixels, count, config);
      const s = tower('image', 'encodeImages');
      if (count === 0) return new Float32Array(0);
      return s.run(s.tensor('float32', toNchw(pixels, count, h, w), [count, 3, h, w]));
    },
    async encodeTexts(ids: Int32Array, count: number): Promise<Float32Array> {
      live('encodeTexts');
      checkIds('onnxruntime engine', ids, count, config);
      const s = tower('text', 'encodeTexts');
      if (count === 0) return new Float32Array(0);
      const wide = BigInt64Array.from(ids, (v) => BigInt(v));
      return s.run(s.tensor('int64', wide, [count, config.contextLength]));
    },
    async dispose(): Promise<void> {
      if (released) return;
      released = true;
      for (const s of sessions.values()) await s.release();
    },
  };
}
