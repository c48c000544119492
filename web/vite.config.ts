import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The demo page (npm run demo:web): root web/, the exported model under web/public/model/
// (npm run demo:export), built to web/dist/. The page imports the library from ../src/index.
const root = dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  root,
  base: './',
  publicDir: 'public',
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 4096 },
  optimizeDeps: {
    include: [
      '@tensorflow/tfjs-core',
      '@tensorflow/tfjs-layers',
      '@tensorflow/tfjs-backend-webgl',
      '@tensorflow/tfjs-backend-webgpu',
      '@tensorflow/tfjs-backend-wasm',
      'fflate',
    ],
  },
  server: { fs: { allow: [dirname(root)] } },
});
