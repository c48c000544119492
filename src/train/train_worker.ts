/**
 * The Node `worker_threads` script of {@link DataParallelGroup} (the tsup entry `train_worker`):
 * reads its {@link TrainWorkerData} from `workerData` and serves steps over `parentPort`
 * (`serveTrainSteps`, train_worker_loop.ts).
 */
import { workerThreads } from '../util/node_workers';
import type { TrainWorkerData, TrainWorkerReply, TrainWorkerStep } from './data_parallel';
import { serveTrainSteps } from './train_worker_loop';

async function start(): Promise<void> {
  const wt = await workerThreads();
  const port = wt.parentPort;
  if (!port) throw new Error('train_worker: must run in a worker thread');
  await serveTrainSteps(wt.workerData as TrainWorkerData, {
    post: (m: TrainWorkerReply, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer),
    onStep: (handler) => port.on('message', (m: TrainWorkerStep) => handler(m)),
  });
}

void start();
