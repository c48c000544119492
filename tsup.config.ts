import { copyFileSync } from 'node:fs';
import { defineConfig } from 'tsup';

export default defineConfig({
  // `cli` is the `irra-tfjs` command (package.json "bin"); src/cli/main.ts starts with its shebang line.
  // `gallery_worker` is the worker-thread script of encodeGalleryInWorkers (found beside index.*).
  // `train_worker` is the worker-thread script of data-parallel training (src/train/data_parallel.ts).
  entry: {
    index: 'src/index.ts',
    cli: 'src/cli/main.ts',
    gallery_worker: 'src/eval/gallery_worker.ts',
    train_worker: 'src/train/train_worker.ts',
  },
  format: ['esm', 'cjs'],
  dts: { entry: { index: 'src/index.ts' } },
  sourcemap: true,
  clean: true,
  target: 'es2022',
  external: ['@tensorflow/tfjs-core', '@tensorflow/tfjs-layers'],
  // ClipTokenizer.load() reads the shipped CLIP vocabulary beside the bundle (NOTICE names its origin).
  onSuccess: async () => {
    copyFileSync('src/tokenizer/bpe_simple_vocab_16e6.txt.gz', 'dist/bpe_simple_vocab_16e6.txt.gz');
  },
});
