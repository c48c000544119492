import * as tf from '@tensorflow/tfjs-core';
import { concatBytes } from '../util/bytes';
import { nodeFs, nodePath } from '../util/node';
import type { StateDictSource } from './checkpoint';
import { float32ToHalfBits } from './dtypes';

/** Defaults of the tfjs-format save/load. */
export const TFJS_IO_DEFAULTS = {
  /** `format` field written into the artifacts / `model.json`. */
  format: 'irra-tfjs-weights',
  /** Largest weight file {@link fileSystemHandler} writes (the tfjs converter's shard size: 4 MiB). */
  shardBytes: 4 * 1024 * 1024,
  /** Store float32 weights as float16 (lossy: ~3 significant digits, halves the size). */
  float16: false,
} as const;

/** Options of {@link saveWeights}. */
export interface SaveWeightsOptions {
  /**
   * Store float32 tensors as float16 (tfjs `quantization: {dtype: 'float16'}`; decoded back to
   * float32 on load). Lossy: relative error up to 2^-11, values beyond ±65504 become ±Infinity.
   * Default false (bit-exact).
   */
  float16?: boolean;
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1 };
const QBYTES: Record<string, number> = { float16: 2, uint16: 2, uint8: 1 };

function collect(
  source: StateDictSource | Map<string, tf.Tensor>,
  arg: string,
): { map: Map<string, tf.Tensor>; owned: boolean } {
  if (source instanceof Map) return { map: source, owned: false };
  if (source === null || typeof source !== 'object' || typeof (source as StateDictSource).stateDict !== 'function') {
    throw new Error(`${arg}: expected a model with stateDict() or a Map<string, tf.Tensor>`);
  }
  return { map: source.stateDict(), owned: true };
}

/** Builds tfjs model artifacts (weights only) for name → tensor; float16 on request. */
export async function encodeWeightArtifacts(
  map: Map<string, tf.Tensor>,
  options: SaveWeightsOptions = {},
): Promise<tf.io.ModelArtifacts> {
  for (const [name, t] of map) {
    if (!(t instanceof tf.Tensor) || t.isDisposed) throw new Error(`saveWeights: '${name}' is not a live tf.Tensor`);
    if (!Object.hasOwn(BYTES, t.dtype))
      throw new Error(`saveWeights: '${name}' has dtype ${t.dtype}; expected float32, int32 or bool`);
  }
  let weightSpecs: tf.io.WeightsManifestEntry[];
  let weightData: ArrayBuffer;
  if (options.float16 ?? TFJS_IO_DEFAULTS.float16) {
    weightSpecs = [];
    const parts: Uint8Array[] = [];
    for (const [name, t] of map) {
      const values = await t.data();
      if (t.dtype === 'float32') {
        const h = new Uint16Array(values.length);
        for (let i = 0; i < values.length; i++) h[i] = float32ToHalfBits(values[i] as number);
        parts.push(new Uint8Array(h.buffer));
        weightSpecs.push({ name, shape: t.shape, dtype: 'float32', quantization: { dtype: 'float16' } });
      } else {
        const typed = t.dtype === 'bool' ? Uint8Array.from(values as Uint8Array) : (values as Int32Array);
        parts.push(new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength));
        weightSpecs.push({ name, shape: t.shape, dtype: t.dtype as 'int32' | 'bool' });
      }
    }
    weightData = concatBytes(parts).buffer;
  } else {
    const named: tf.NamedTensorMap = {};
    for (const [name, t] of map) named[name] = t;
    const enc = await tf.io.encodeWeights(named);
    weightSpecs = enc.specs;
    weightData = enc.data;
  }
  return {
    weightSpecs,
    weightData,
    format: TFJS_IO_DEFAULTS.format,
    generatedBy: 'irra-tfjs',
    convertedBy: null,
  };
}

/** Checks that `specs` describe exactly `byteLength` bytes, before anything is decoded. */
function checkSpecs(specs: unknown, byteLength: number): tf.io.WeightsManifestEntry[] {
  if (!Array.isArray(specs)) throw new Error('loadWeights: the artifacts have no weightSpecs array');
  let total = 0;
  for (const s of specs as tf.io.WeightsManifestEntry[]) {
    const shape = s?.shape;
    if (
      typeof s?.name !== 'string' ||
      !Array.isArray(shape) ||
      !shape.every((d) => Number.isSafeInteger(d) && d >= 0)
    ) {
      throw new Error(`loadWeights: invalid weight spec ${JSON.stringify(s)}`);
    }
    const per = s.quantization ? QBYTES[s.quantization.dtype] : BYTES[s.dtype];
    if (per === undefined || (s.quantization && s.dtype !== 'float32')) {
      throw new Error(
        `loadWeights: weight '${s.name}' has unsupported dtype ${s.dtype}${s.quantization ? ` / quantization ${s.quantization.dtype}` : ''}`,
      );
    }
    if (s.quantization && s.quantization.dtype !== 'float16') {
      throw new Error(
        `loadWeights: weight '${s.name}' uses ${s.quantization.dtype} quantization; only float16 is supported`,
      );
    }
    total += shape.reduce((a: number, b: number) => a * b, 1) * per;
  }
  if (total !== byteLength) {
    throw new Error(`loadWeights: weight specs describe ${total} bytes but the weight data holds ${byteLength}`);
  }
  return specs as tf.io.WeightsManifestEntry[];
}

/** Turns weights-only artifacts into name → new tensor (the caller owns them). */
export function decodeWeightArtifacts(artifacts: tf.io.ModelArtifacts): Map<string, tf.Tensor> {
  if (artifacts == null || artifacts.weightData == null)
    throw new Error('loadWeights: the artifacts hold no weightData');
  const data = tf.io.CompositeArrayBuffer.join(artifacts.weightData);
  const specs = checkSpecs(artifacts.weightSpecs, data.byteLength);
  const named = tf.io.decodeWeights(data, specs);
  return new Map(specs.map((s) => [s.name, named[s.name]]));
}

/**
 * Node only: an IOHandler that saves to / loads from a directory holding `model.json` (a weights
 * manifest) and the weights split into `group1-shard{i}of{n}.bin` files of at most `shardBytes`
 * (default {@link TFJS_IO_DEFAULTS}.shardBytes) — the layout the tfjs converter writes, so the
 * directory can be served as is and loaded with `loadWeights('https://.../model.json')`.
 */
export function fileSystemHandler(dir: string, shardBytes: number = TFJS_IO_DEFAULTS.shardBytes): tf.io.IOHandler {
  if (typeof dir !== 'string' || dir === '') {
    throw new Error(`fileSystemHandler(dir): expected a directory path, got ${JSON.stringify(dir)}`);
  }
  if (!Number.isSafeInteger(shardBytes) || shardBytes < 1) {
    throw new Error(`fileSystemHandler(shardBytes): expected a positive integer, got ${shardBytes}`);
  }
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      const fs = await nodeFs();
      const path = await nodePath();
      await fs.mkdir(dir, { recursive: true });
      const data =
        artifacts.weightData == null ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
      const n = Math.max(1, Math.ceil(data.byteLength / shardBytes));
      const paths: string[] = [];
      for (let i = 0; i < n; i++) {
        const file = `group1-shard${i + 1}of${n}.bin`;
        paths.push(file);
        const len = Math.min(shardBytes, data.byteLength - i * shardBytes);
        await fs.writeFile(path.join(dir, file), new Uint8Array(data, i * shardBytes, len));
      }
      const manifest = {
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy,
        modelTopology: artifacts.modelTopology ?? null,
        weightsManifest: [{ paths, weights: artifacts.weightSpecs ?? [] }],
      };
      await fs.writeFile(path.join(dir, 'model.json'), JSON.stringify(manifest));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON({ ...artifacts, weightData: data }) };
    },
    async load(): Promise<tf.io.ModelArtifacts> {
      const fs = await nodeFs();
      const path = await nodePath();
      let json: tf.io.ModelJSON;
      try {
        json = JSON.parse(await fs.readFile(path.join(dir, 'model.json'), 'utf8'));
      } catch (e) {
        throw new Error(`loadWeights: cannot read ${path.join(dir, 'model.json')} (${(e as Error).message})`);
      }
      if (!Array.isArray(json?.weightsManifest))
        throw new Error(`loadWeights: ${path.join(dir, 'model.json')} has no weightsManifest`);
      const specs: tf.io.WeightsManifestEntry[] = [];
      const buffers: Uint8Array[] = [];
      for (const group of json.weightsManifest) {
        if (!Array.isArray(group?.paths) || !Array.isArray(group?.weights)) {
          throw new Error('loadWeights: a weightsManifest group lacks paths or weights');
        }
        specs.push(...group.weights);
        for (const p of group.paths) {
          if (typeof p !== 'string' || path.isAbsolute(p) || p.split(/[\\/]/).includes('..')) {
            throw new Error(`loadWeights: weight path ${JSON.stringify(p)} must be relative and inside ${dir}`);
          }
          buffers.push(await fs.readFile(path.join(dir, p)));
        }
      }
      const data = concatBytes(buffers);
      return {
        modelTopology: json.modelTopology ?? undefined,
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy,
        weightSpecs: specs,
        weightData: data.buffer,
      };
    },
  };
}

function isHandler(x: unknown): x is tf.io.IOHandler {
  return typeof x === 'object' && x !== null && ('save' in x || 'load' in x);
}

function handlerFor(dest: string | tf.io.IOHandler, kind: 'save' | 'load', arg: string): tf.io.IOHandler {
  if (isHandler(dest)) {
    if (typeof dest[kind] !== 'function') throw new Error(`${arg}: the IOHandler has no ${kind}()`);
    return dest;
  }
  if (typeof dest !== 'string')
    throw new Error(`${arg}: expected a URL string or a tf.io.IOHandler, got ${typeof dest}`);
  if (dest.startsWith('file://')) return fileSystemHandler(dest.slice('file://'.length));
  const routed = kind === 'save' ? tf.io.getSaveHandlers(dest) : tf.io.getLoadHandlers(dest);
  if (routed.length > 0) return routed[0];
  if (tf.io.isHTTPScheme(dest)) return tf.io.http(dest);
  throw new Error(
    `${arg}: no tf.io handler for ${JSON.stringify(dest)} (use file:// in Node, indexeddb://, localstorage://, downloads:// or http(s):// in browsers, or pass an IOHandler)`,
  );
}

/**
 * Saves weights in the TensorFlow.js format through a `tf.io` handler: names preserved, float32
 * bit-exact (or float16 shards with `{ float16: true }`, lossy).
 *
 * @param source a model (anything with `stateDict()`: its reference names and PyTorch layout;
 * the tensors it hands out are disposed here) or a Map of name → tensor (left as it is).
 * @param destination `file://dir` (Node: `dir/model.json` + 4 MiB weight shards), `indexeddb://key`,
 * `localstorage://key`, `downloads://name`, `http(s)://url` (POST), or any `tf.io.IOHandler`
 * (e.g. `tf.io.withSaveHandler(...)`).
 * @returns the handler's SaveResult.
 * @example
 * await saveWeights(model, 'indexeddb://irra-vit-b16');
 */
export async function saveWeights(
  source: StateDictSource | Map<string, tf.Tensor>,
  destination: string | tf.io.IOHandler,
  options: SaveWeightsOptions = {},
): Promise<tf.io.SaveResult> {
  const handler = handlerFor(destination, 'save', 'saveWeights(destination)');
  const { map, owned } = collect(source, 'saveWeights(source)');
  try {
    const artifacts = await encodeWeightArtifacts(map, options);
    return await (handler.save as (a: tf.io.ModelArtifacts) => Promise<tf.io.SaveResult>)(artifacts);
  } finally {
    if (owned) for (const t of map.values()) t.dispose();
  }
}

/**
 * Loads weights saved by {@link saveWeights} (or any weights-only tfjs artifacts) through a
 * `tf.io` handler; float16-quantized weights come back as float32.
 *
 * @param source `file://dir`, `indexeddb://key`, `localstorage://key`, `http(s)://.../model.json`
 * or any `tf.io.IOHandler` (e.g. `tf.io.fromMemory(...)`).
 * @returns a new Map of name → tensor in saved order; the caller owns the tensors.
 * @throws Error when the weight specs do not match the weight data's size.
 * @example
 * model.loadStateDict(await loadWeights('indexeddb://irra-vit-b16'));
 */
export async function loadWeights(source: string | tf.io.IOHandler): Promise<Map<string, tf.Tensor>> {
  const handler = handlerFor(source, 'load', 'loadWeights(source)');
  const artifacts = await (handler.load as () => Promise<tf.io.ModelArtifacts>)();
  return decodeWeightArtifacts(artifacts);
}
