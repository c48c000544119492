// The Web Worker script of test/browser/train_web_workers.test.ts, written as a user writes theirs:
// import the backends the workers train on, then serveTrainWorker().
import '@tensorflow/tfjs-backend-cpu';
import './wasm_paths';
import { serveTrainWorker } from '../../src/train/index';

serveTrainWorker();
