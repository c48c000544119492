import { copyFileSync } from 'node:fs';
import { defineConfig } from 'tsup';

/**
 * The library's entries, each with its types: the package root and the subpath exports
 * irra-tfjs/train, /weights, /synthpedes and /onnx (package.json "exports"). As entries they also
 * split the shared code into chunks a bundler can leave out when an app does not use them (the ONNX
 * writer and onnx-proto). CommonJS has no shared chunks (tsup splits ESM only), so package.json maps
 * `require` of /train, /weights and /onnx to index.cjs, which exports all of them: one copy of each class.
 */
const LIBRARY_ENTRIES = {
  index: 'src/index.ts',
  train: 'src/train/index.ts',
  weights: 'src/weights/index.ts',
  synthpedes: 'src/data/synthpedes.ts',
  onnx: 'src/export/index.ts',
};

export default defineConfig({
  // `cli` is the `irra-tfjs` command (package.json "bin"); src/cli/main.ts starts with its shebang line.
  // `gallery_worker` is the worker-thread script of encodeGalleryInWorkers (found beside index.*).
  // `train_worker` is the worker-thread script of data-parallel training (src/train/data_parallel.ts).
  entry: {
    ...LIBRARY_ENTRIES,
    cli: 'src/cli/main.ts',
    gallery_worker: 'src/eval/gallery_worker.ts',
    train_worker: 'src/train/train_worker.ts',
  },
  format: ['esm', 'cjs'],
  dts: { entry: LIBRARY_ENTRIES },
  sourcemap: true,
  clean: true,
  target: 'es2022',
  external: ['@tensorflow/tfjs-core', '@tensorflow/tfjs-layers'],
  // ClipTokenizer.load() reads the shipped CLIP vocabulary beside the bundle (NOTICE names its origin).
  onSuccess: async () => {
    copyFileSync('src/tokenizer/bpe_simple_vocab_16e6.txt.gz', 'dist/bpe_simple_vocab_16e6.txt.gz');
  },
});
