import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll } from 'vitest';
import { printParityReport } from '../helpers/compare';

const backend = process.env.IRRA_TEST_BACKEND ?? 'cpu';
if (!(await tf.setBackend(backend)) || tf.getBackend() !== backend) {
  throw new Error(`test setup: could not select tfjs backend '${backend}' (active: ${tf.getBackend()})`);
}
await tf.ready();

afterAll(() => printParityReport());
