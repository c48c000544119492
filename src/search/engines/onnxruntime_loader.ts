/**
 * Loads onnxruntime, an optional peer dependency, only when an engine asks for it:
 * `onnxruntime-node` in Node (through a computed specifier, so that no bundler tries to pack the
 * native module), `onnxruntime-web` in browsers (through a plain specifier, so that bundlers find
 * and pack it when it is installed; Vite turns a missing optional peer into a module that throws
 * when loaded, which surfaces here as the install hint).
 */

/** An onnxruntime tensor, as far as the engine uses it. */
export interface OrtTensor {
  readonly data: unknown;
  readonly dims: readonly number[];
  /** Frees GPU or native memory (onnxruntime-web). */
  dispose?(): void;
}

/** An onnxruntime inference session, as far as the engine uses it. */
export interface OrtSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}

/**
 * The part of the onnxruntime JavaScript API (`onnxruntime-node`, `onnxruntime-web`; both
 * re-export `onnxruntime-common`) that the engine uses: `import * as ort from 'onnxruntime-web'`
 * is one.
 */
export interface OnnxRuntimeModule {
  InferenceSession: { create(model: Uint8Array, options?: Record<string, unknown>): Promise<OrtSession> };
  Tensor: new (type: 'float32' | 'int64', data: Float32Array | BigInt64Array, dims: readonly number[]) => OrtTensor;
  /** onnxruntime-web's settings (`env.wasm.numThreads`, `env.wasm.wasmPaths`); absent in Node. */
  env?: { wasm?: { numThreads?: number } };
}

/** Which onnxruntime package a JavaScript environment uses. */
export type OnnxRuntimePackage = 'onnxruntime-node' | 'onnxruntime-web';

/** True in Node (and Deno/Bun's Node layer), false in browsers and web workers. */
export function inNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === 'string';
}

/** The package this environment loads by default: onnxruntime-node in Node, else onnxruntime-web. */
export function defaultRuntimePackage(): OnnxRuntimePackage {
  return inNode() ? 'onnxruntime-node' : 'onnxruntime-web';
}

/** Node's onnxruntime, by a computed specifier (bundlers leave it alone). */
async function importNode(): Promise<unknown> {
  const specifier = 'onnxruntime-node';
  return import(/* @vite-ignore */ /* webpackIgnore: true */ specifier);
}

/** onnxruntime-web, by a plain specifier (bundlers pack it). */
async function importWeb(): Promise<unknown> {
  return import('onnxruntime-web');
}

/** The module object, whether the import gave it as the namespace or as its default export. */
function asRuntime(mod: unknown): OnnxRuntimeModule | null {
  for (const m of [mod, (mod as { default?: unknown } | null)?.default]) {
    const r = m as Partial<OnnxRuntimeModule> | null | undefined;
    if (r && typeof r.InferenceSession?.create === 'function' && typeof r.Tensor === 'function') {
      return r as OnnxRuntimeModule;
    }
  }
  return null;
}

/**
 * Imports onnxruntime `pkg` (default: {@link defaultRuntimePackage}).
 * @throws Error saying what to install (`npm install <pkg>`) when it cannot be loaded.
 */
export async function loadOnnxRuntime(pkg: OnnxRuntimePackage = defaultRuntimePackage()): Promise<OnnxRuntimeModule> {
  let mod: unknown;
  try {
    mod = await (pkg === 'onnxruntime-node' ? importNode() : importWeb());
  } catch (e) {
    const why = String((e as Error)?.message ?? e).split('\n')[0];
    throw new Error(
      `the onnxruntime engine needs ${pkg}, an optional peer dependency of irra-tfjs that could not be loaded (${why}); install it: npm install ${pkg}`,
    );
  }
  const runtime = asRuntime(mod);
  if (!runtime) throw new Error(`${pkg} loaded, but it has no InferenceSession / Tensor: is it onnxruntime?`);
  return runtime;
}
