import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';
import '@tensorflow/tfjs-backend-webgpu';
import { afterAll, inject } from 'vitest';
import { commands } from 'vitest/browser';
import { printParityReport } from '../helpers/compare';
import { setSharedReader } from '../helpers/fixtures';
import { configureFastCheckSeed } from './fast_check_seed';

configureFastCheckSeed(undefined);

declare module 'vitest' {
  export interface ProvidedContext {
    backend: string;
  }
}
declare module 'vitest/browser' {
  interface BrowserCommands {
    readShared: (relativePath: string) => Promise<string>;
  }
}

// Files the browser suites read; fetched once, before any test, so fixture access stays synchronous.
const SHARED_FILES = [
  'fixtures/losses.json',
  'fixtures/losses.safetensors',
  'fixtures/metrics.json',
  'fixtures/metrics.safetensors',
  'fixtures/models.json',
  'fixtures/tiny_a.safetensors',
  'fixtures/tiny_overlap.safetensors',
  'fixtures/tokenizer.json',
  'clip/bpe_simple_vocab_16e6.txt.gz',
];
const cache = new Map<string, Uint8Array>();
for (const rel of SHARED_FILES) {
  const b64 = await commands.readShared(rel);
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  cache.set(rel, bytes);
}
setSharedReader((rel) => {
  const b = cache.get(rel);
  if (!b) throw new Error(`browser tests: shared file '${rel}' was not preloaded (add it to test/setup/browser.ts)`);
  return b;
});

const backend = inject('backend');
if (!(await tf.setBackend(backend)) || tf.getBackend() !== backend) {
  throw new Error(`browser test setup: could not select tfjs backend '${backend}' (active: ${tf.getBackend()})`);
}
await tf.ready();

afterAll(() => printParityReport());
