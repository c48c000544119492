import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The demo page (npm run demo:web): root web/, the exported model under web/public/model/
// (npm run demo:export), built to web/dist/. The page imports the library from ../src/index.
const root = dirname(fileURLToPath(import.meta.url));

// Cross-origin isolation (COOP + COEP), so that the wasm backend may use threads
// (SharedArrayBuffer). Every asset of the page is same-origin, so require-corp blocks nothing.
// Static hosts need the same two headers: docs/demo.md gives the lines for Netlify and nginx.
const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

export default defineConfig({
  root,
  base: './',
  publicDir: 'public',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 4096,
    // Not Vite 8's default (oxc): it drops the `typeof _scriptDir !== "undefined"` guard inside
    // tfjs-backend-wasm's threaded module factory, whose source text tfjs hands to its pthread
    // workers (Function.toString), so on a cross-origin isolated page every worker died with
    // "ReferenceError: e is not defined" and the wasm backend never initialised. esbuild's
    // minifier keeps the guard (checked by web/test/open_your_own.test.ts on wasm).
    minify: 'esbuild',
  },
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
  server: { fs: { allow: [dirname(root)] }, headers: ISOLATION_HEADERS },
  preview: { headers: ISOLATION_HEADERS },
});
