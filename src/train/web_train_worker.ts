/**
 * The browser side of data-parallel training: the script of each Web Worker of a
 * {@link DataParallelGroup} started with `createWorker`.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { TrainWorkerInit, TrainWorkerReply, TrainWorkerStep } from './data_parallel';
import { serveTrainSteps } from './train_worker_loop';

/** The parts of a dedicated worker's global scope that {@link serveTrainWorker} uses. */
interface WorkerScope {
  postMessage(message: unknown, transfer?: ArrayBuffer[]): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  removeEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
}

/**
 * Makes the calling Web Worker a training worker of a {@link DataParallelGroup}: call it once, at
 * the top level of your worker module, after importing the tfjs backend(s) the workers use (a
 * browser cannot import them by name at run time). The worker then waits for the group's `init`
 * message, builds a replica of the model on `DataParallelOptions.backend` and serves training steps
 * until the group terminates it.
 *
 * On wasm each worker runs one thread (the flag `WASM_HAS_MULTITHREAD_SUPPORT` is set to false in
 * the worker): the parallelism is one worker per core, not threads inside each worker.
 *
 * @throws Error when not called in a dedicated Web Worker (e.g. on a page's main thread).
 * @example
 * ```ts
 * // train_worker.ts, started with new Worker(new URL('./train_worker.ts', import.meta.url), { type: 'module' })
 * import '@tensorflow/tfjs-backend-wasm';
 * import { serveTrainWorker } from 'irra-tfjs/train';
 * serveTrainWorker();
 * ```
 */
export function serveTrainWorker(): void {
  const scope = globalThis as unknown as Partial<WorkerScope> & { WorkerGlobalScope?: abstract new () => unknown };
  const inWorker = typeof scope.WorkerGlobalScope === 'function' && globalThis instanceof scope.WorkerGlobalScope;
  if (!inWorker || typeof scope.postMessage !== 'function' || typeof scope.addEventListener !== 'function') {
    throw new Error('serveTrainWorker: call it inside a dedicated Web Worker (the script passed to createWorker)');
  }
  const worker = scope as WorkerScope;
  const post = (m: TrainWorkerReply, transfer: ArrayBuffer[] = []) => worker.postMessage(m, transfer);
  const onInit = (event: { data: unknown }) => {
    const init = event.data as Partial<TrainWorkerInit> | null;
    if (init?.kind !== 'init' || !init.data) {
      post({ kind: 'error', message: `expected an 'init' message first, got ${JSON.stringify(init)?.slice(0, 80)}` });
      return;
    }
    worker.removeEventListener('message', onInit);
    if (init.data.backend === 'wasm') {
      try {
        tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
      } catch {
        // Not registered: tfjs-backend-wasm was not imported; selecting 'wasm' will say so.
      }
    }
    void serveTrainSteps(init.data, {
      post,
      onStep: (handler) => worker.addEventListener('message', (e) => handler(e.data as TrainWorkerStep)),
    });
  };
  worker.addEventListener('message', onInit);
}
