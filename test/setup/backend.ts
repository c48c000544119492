import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { afterAll } from 'vitest';
import { printParityReport } from '../helpers/compare';
import { setSharedReader } from '../helpers/fixtures';
import { configureFastCheckSeed } from './fast_check_seed';

configureFastCheckSeed(process.env.FC_SEED);

const shared = process.env.IRRA_SHARED ?? resolve(dirname(fileURLToPath(import.meta.url)), '../../../shared');
if (!existsSync(join(shared, 'fixtures'))) {
  throw new Error(
    `fixtures not found: expected ${join(shared, 'fixtures')} (set IRRA_SHARED to the folder holding fixtures/ and clip/)`,
  );
}
setSharedReader((rel) => new Uint8Array(readFileSync(join(shared, rel))), shared);

const backend = process.env.IRRA_TEST_BACKEND ?? 'cpu';
if (!(await tf.setBackend(backend)) || tf.getBackend() !== backend) {
  throw new Error(`test setup: could not select tfjs backend '${backend}' (active: ${tf.getBackend()})`);
}
await tf.ready();

afterAll(() => printParityReport());
