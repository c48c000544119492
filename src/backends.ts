/**
 * Choosing a TensorFlow.js backend without making any backend package a requirement.
 *
 * The library runs on whatever backend tfjs has active. `selectBackend` is a convenience for
 * applications: it loads the backend packages that are installed (dynamic imports, so a missing
 * package is a reported failure, not a crash), activates the first backend that works and says
 * why each earlier one did not.
 */
import * as tf from '@tensorflow/tfjs-core';

/** Defaults of this module, used by the code and quoted in docs/backends.md. */
export const BACKENDS_DEFAULTS = {
  /** Order tried by `selectBackend()` when no list is given: native TensorFlow, then wasm, then cpu. */
  preferred: ['tensorflow', 'wasm', 'cpu'] as readonly string[],
} as const;

/**
 * The packages that register each backend, in the order they are tried. `tensorflow` is the
 * native backend of `@tensorflow/tfjs-node` and of its CUDA build `@tensorflow/tfjs-node-gpu`.
 */
export const BACKEND_PACKAGES: Readonly<Record<string, readonly string[]>> = {
  tensorflow: ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu'],
  wasm: ['@tensorflow/tfjs-backend-wasm'],
  cpu: ['@tensorflow/tfjs-backend-cpu'],
  webgl: ['@tensorflow/tfjs-backend-webgl'],
  webgpu: ['@tensorflow/tfjs-backend-webgpu'],
};

/**
 * Imports a package by a name held in a variable, so that bundlers (tsup/esbuild, Vite) neither
 * bundle nor require it: the import happens, or fails, when the application runs.
 */
const importOptional = (specifier: string): Promise<unknown> => import(/* @vite-ignore */ specifier);

const errorText = (e: unknown): string => {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0] ?? msg;
};

/** Registers backend `name` by importing its package(s); returns why it failed, or null. */
async function registerBackend(name: string): Promise<string | null> {
  if (tf.findBackendFactory(name)) return null;
  const packages = BACKEND_PACKAGES[name];
  if (!packages) {
    return `no backend '${name}' is registered and no package is known for it (known: ${Object.keys(BACKEND_PACKAGES).join(', ')})`;
  }
  const failures: string[] = [];
  for (const pkg of packages) {
    try {
      await importOptional(pkg);
    } catch (e) {
      failures.push(`could not import '${pkg}' (${errorText(e)})`);
      continue;
    }
    if (tf.findBackendFactory(name)) return null;
    failures.push(
      `'${pkg}' was imported but registered no '${name}' backend in this copy of @tensorflow/tfjs-core ` +
        `(version ${tf.version_core}); install versions of '${pkg}' and @tensorflow/tfjs-core that share one tfjs-core`,
    );
  }
  return failures.join('; ');
}

/**
 * Activates the first backend of `preferred` that works and returns its name.
 *
 * For each name, in order: if no backend of that name is registered, its package is imported
 * dynamically (`tensorflow`: `@tensorflow/tfjs-node`, then `@tensorflow/tfjs-node-gpu`; `wasm`:
 * `@tensorflow/tfjs-backend-wasm`; `cpu`: `@tensorflow/tfjs-backend-cpu`; `webgl`, `webgpu`: their
 * `@tensorflow/tfjs-backend-*` package); then `tf.setBackend(name)` must return true and
 * `tf.getBackend()` must equal `name`. In a browser, bare package names cannot be imported at run
 * time: import the backend packages you want in your bundle, and this function selects among them.
 *
 * @param preferred backend names, most wanted first (default `BACKENDS_DEFAULTS.preferred`:
 *   `['tensorflow', 'wasm', 'cpu']`).
 * @returns the name of the backend now active.
 * @throws Error listing every backend tried and why each failed, when none works, or when
 *   `preferred` is not a non-empty array of non-empty strings.
 * @example
 * ```ts
 * import { selectBackend, describeBackend } from 'irra-tfjs';
 * const name = await selectBackend(); // 'tensorflow' with tfjs-node installed, else 'wasm' or 'cpu'
 * console.log(await describeBackend()); // e.g. { name: 'wasm', threads: 1, simd: true }
 * ```
 */
export async function selectBackend(preferred: readonly string[] = BACKENDS_DEFAULTS.preferred): Promise<string> {
  if (!Array.isArray(preferred) || preferred.length === 0 || !preferred.every((p) => typeof p === 'string' && p)) {
    throw new Error(
      `selectBackend: expected preferred to be a non-empty array of backend names, got ${JSON.stringify(preferred)}`,
    );
  }
  const tried: string[] = [];
  for (const name of preferred) {
    const notRegistered = await registerBackend(name);
    if (notRegistered) {
      tried.push(`${name}: ${notRegistered}`);
      continue;
    }
    let ok: boolean;
    try {
      ok = await tf.setBackend(name);
    } catch (e) {
      tried.push(`${name}: tf.setBackend('${name}') threw (${errorText(e)})`);
      continue;
    }
    if (ok && tf.getBackend() === name) {
      await tf.ready();
      return name;
    }
    tried.push(
      `${name}: the backend failed to initialize (tf.setBackend returned ${ok}, active backend: ${tf.getBackend() ?? 'none'})`,
    );
  }
  throw new Error(
    `selectBackend: none of the backends [${preferred.join(', ')}] could be used:\n  ${tried.join('\n  ')}`,
  );
}

/** What `describeBackend()` reports about the active backend. */
export interface BackendDescription {
  /** Name of the active backend (`tf.getBackend()`). */
  name: string;
  /** wasm only: threads XNNPACK actually uses (`getThreadsCount()`), whatever was requested. */
  threads?: number;
  /** wasm only: whether the SIMD build of the module is in use (flag `WASM_HAS_SIMD_SUPPORT`). */
  simd?: boolean;
  /**
   * wasm only: whether tfjs considers multithreading possible here (`WASM_HAS_MULTITHREAD_SUPPORT`;
   * always false in Node with tfjs 4.22, and false in browsers without cross-origin isolation).
   */
  multithreadSupported?: boolean;
}

interface WasmBackendInternals {
  wasm?: { tfjs?: { getThreadsCount?: () => number } };
}

async function wasmThreads(): Promise<number | undefined> {
  try {
    const mod = (await importOptional('@tensorflow/tfjs-backend-wasm')) as { getThreadsCount?: () => number };
    if (typeof mod.getThreadsCount === 'function') return mod.getThreadsCount();
  } catch {
    // Not importable by name (a browser bundle): read the count from the backend instance below.
  }
  const internals = tf.backend() as unknown as WasmBackendInternals;
  return internals.wasm?.tfjs?.getThreadsCount?.();
}

/**
 * Describes the active backend: its name and, on wasm, the threads actually in use and whether
 * SIMD and multithreading are available. Initializes the active backend if needed.
 *
 * @example
 * ```ts
 * await selectBackend(['wasm']);
 * const { threads } = await describeBackend(); // 1 in Node with tfjs 4.22 (see docs/backends.md)
 * ```
 */
export async function describeBackend(): Promise<BackendDescription> {
  await tf.ready();
  const name = tf.getBackend();
  if (name !== 'wasm') return { name };
  const [simd, multithreadSupported] = await Promise.all([
    tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'),
    tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT'),
  ]);
  return {
    name,
    threads: await wasmThreads(),
    simd: Boolean(simd),
    multithreadSupported: Boolean(multithreadSupported),
  };
}
