/**
 * Starting this library's Node `worker_threads` scripts (gallery encoding, data-parallel
 * training) the same way from the TypeScript sources (tests, tsx) and from the built package.
 */

/** The `node:worker_threads` module. */
export type WorkerThreads = typeof import('node:worker_threads');
/** A Node worker thread. */
export type NodeWorker = InstanceType<WorkerThreads['Worker']>;

/** `node:worker_threads` via a computed specifier, so that browser bundlers leave it alone. */
export async function workerThreads(): Promise<WorkerThreads> {
  const specifier = 'node:worker_threads';
  return (await import(/* @vite-ignore */ /* webpackIgnore: true */ specifier)) as WorkerThreads;
}

/** Where a worker script lives: its built entry name and its source path relative to this file. */
export interface WorkerScript {
  /** The tsup entry name (`dist/<name>.js` / `.cjs`, beside the bundle that starts it). */
  name: string;
  /** The TypeScript source, relative to `src/util/` (e.g. `'../eval/gallery_worker.ts'`). */
  source: string;
}

/**
 * Starts `script` in a new worker thread with `workerData`: from the built package, the
 * `<name>.js`/`.cjs` entry beside the running bundle; from the TypeScript sources, the `.ts` file
 * through tsx's loader. The caller owns the worker (terminate it).
 */
export function startNodeWorker(wt: WorkerThreads, script: WorkerScript, workerData: unknown): NodeWorker {
  const here: string = typeof __filename === 'string' ? `file://${__filename}` : (import.meta as { url: string }).url;
  if (here.endsWith('.ts')) {
    const url = new URL(script.source, here).href;
    const code = `import('tsx/esm/api').then(({ tsImport }) => tsImport(${JSON.stringify(url)}, ${JSON.stringify(url)}))`;
    return new wt.Worker(code, { eval: true, workerData });
  }
  const ext = here.endsWith('.cjs') ? '.cjs' : '.js';
  return new wt.Worker(new URL(`./${script.name}${ext}`, here), { workerData });
}

/** The number of logical cores in Node (`os.availableParallelism()`), 1 elsewhere. */
export async function nodeCoreCount(): Promise<number> {
  if (typeof process === 'undefined' || !process.versions?.node) return 1;
  const specifier = 'node:os';
  const os = (await import(/* @vite-ignore */ /* webpackIgnore: true */ specifier)) as typeof import('node:os');
  return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}
