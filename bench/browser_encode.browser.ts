import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import '@tensorflow/tfjs-backend-webgl';
import '@tensorflow/tfjs-backend-webgpu';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { commands } from 'vitest/browser';
import { irraConfig } from '../src/config';
import { IRRA, type IRRABatch } from '../src/model/irra';
import { ClipTokenizer } from '../src/tokenizer/clip_tokenizer';

// The encode time of token ids given as a tensor (read back with dataSync() to validate them and
// find the end-of-text positions) vs as the tokenizer's Int32Array (host memory, no read-back), in
// headless Chromium on SwiftShader: npm run bench:browser-encode (bench/browser.config.ts, BENCH_PAGE=encode).
// One page runs every backend in turn; within a backend the variants are interleaved, so their
// ratio is what to read, not the absolute times (2 shared cores, a software GPU).

declare module 'vitest/browser' {
  interface BrowserCommands {
    readClipVocabulary: () => Promise<string>;
    writeBenchResults: (json: string) => Promise<string>;
    benchLog: (line: string) => Promise<void>;
  }
}

/** Overrides from the environment (bench/browser.config.ts, BENCH_PAGE=encode): BENCH_BACKENDS, _WIDTH, _LAYERS, _BATCH, _REPS. */
declare const __BENCH_KNOBS__: {
  backends?: string[];
  width?: number;
  layers?: number;
  batch?: number;
  reps?: number;
};
const knobs = __BENCH_KNOBS__;
const width = knobs.width ?? 32;
const layers = knobs.layers ?? 1;

/** The model: the `tiny` preset with CLIP's text vocabulary and context, 32 wide, 1 block by default. */
const MODEL = {
  preset: 'tiny' as const,
  contextLength: 77,
  vocabSize: 49408,
  transformerWidth: width,
  transformerLayers: layers,
  embedDim: width,
  visionWidth: width,
  visionLayers: layers,
  imageSize: [32, 16] as [number, number],
  cmtDepth: 1,
  numClasses: 8,
};
const BATCH = knobs.batch ?? 32;
const WARMUP = 2;
const REPS = knobs.reps ?? 15;
const BURST_REPS = Math.ceil(REPS / 2);
const LOSS_REPS = Math.ceil(REPS / 2);
/** Calls issued back to back before awaiting them all (the pipelined measurement). */
const BURST = 4;
const BACKENDS = knobs.backends ?? ['wasm', 'webgl', 'webgpu'];

const CAPTIONS = [
  'a woman wearing a red jacket, black trousers and white sneakers, carrying a brown handbag',
  'the man has short black hair and wears a grey hoodie with blue jeans',
  'a young girl in a yellow dress with a pink backpack walking on the street',
  'this person is wearing a white shirt, dark shorts and is holding a phone in the right hand',
];
const ADJECTIVES = ['tall', 'short', 'slim', 'young', 'old', 'smiling', 'tired', 'busy'];
const captions = Array.from({ length: BATCH }, (_, i) => `a ${ADJECTIVES[i % 8]} ${CAPTIONS[i % 4]}`);

interface Stats {
  medianMs: number;
  p90Ms: number;
  samples: number;
}
const stats = (ms: number[]): Stats => {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] as number;
  const mid = s.length >> 1;
  const median = s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
  return { medianMs: +median.toFixed(2), p90Ms: +at(0.9).toFixed(2), samples: s.length };
};

/** Runs `make` (one call returning a tensor) and awaits its values; milliseconds per call. */
async function timeCalls(make: () => tf.Tensor, calls: number): Promise<number> {
  const t0 = performance.now();
  const outs = Array.from({ length: calls }, make);
  await Promise.all(outs.map((t) => t.data()));
  const ms = (performance.now() - t0) / calls;
  tf.dispose(outs);
  return ms;
}

/** Warm-up, then `reps` rounds of every variant in a rotating order; per-call statistics of each. */
async function interleaved(variants: Record<string, () => tf.Tensor>, reps: number, calls: number) {
  const names = Object.keys(variants);
  const times: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let w = 0; w < WARMUP; w++) for (const n of names) await timeCalls(variants[n] as () => tf.Tensor, calls);
  for (let r = 0; r < reps; r++) {
    for (let k = 0; k < names.length; k++) {
      const n = names[(r + k) % names.length] as string;
      (times[n] as number[]).push(await timeCalls(variants[n] as () => tf.Tensor, calls));
    }
    await commands.benchLog(
      `  ${tf.getBackend()} ×${calls} round ${r + 1}/${reps}: ${names.map((n) => `${n} ${(times[n] as number[]).at(-1)?.toFixed(1)} ms`).join(', ')}`,
    );
  }
  return Object.fromEntries(names.map((n) => [n, stats(times[n] as number[])]));
}

const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
};

const b64 = await commands.readClipVocabulary();
const tokenizer = ClipTokenizer.fromGzip(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)));
const ctx = MODEL.contextLength;
const ids = tokenizer.tokenizeToArray(captions, { contextLength: ctx });
// MLM inputs: every fourth word token masked, its label the original id.
const mlmIds = ids.slice();
const mlmLabels = new Int32Array(ids.length);
for (let i = 0; i < ids.length; i++) {
  const col = i % ctx;
  const id = ids[i] as number;
  if (col > 0 && col % 4 === 1 && id !== 0 && id !== tokenizer.eotId) {
    mlmIds[i] = tokenizer.maskId;
    mlmLabels[i] = id;
  }
}
const pids = Int32Array.from({ length: BATCH }, (_, i) => i % MODEL.numClasses);

setWasmPaths('/node_modules/@tensorflow/tfjs-backend-wasm/dist/');
const results: Record<string, unknown> = {};

for (const backend of BACKENDS) {
  describe(backend, () => {
    let model: IRRA;
    let images: tf.Tensor4D;
    let reused: tf.Tensor2D | null;
    let before = 0;
    const idsTensor = () => tf.tensor2d(ids, [BATCH, ctx], 'int32');
    const found: Record<string, unknown> = {};
    results[backend] = found;
    const ratio = (s: Record<string, Stats>, n: string) =>
      s[n] ? +((s[n] as Stats).medianMs / (s.int32array as Stats).medianMs).toFixed(3) : null;
    const encode: Record<string, () => tf.Tensor> = {
      tensor: () => {
        const t = idsTensor();
        const f = model.encodeText(t);
        t.dispose();
        return f;
      },
      int32array: () => model.encodeText(ids),
      tensorReused: () => model.encodeText(reused as tf.Tensor2D),
    };
    const encodeVariants = () =>
      reused ? encode : { tensor: encode.tensor as () => tf.Tensor, int32array: encode.int32array as () => tf.Tensor };

    beforeAll(async () => {
      if (!(await tf.setBackend(backend)) || tf.getBackend() !== backend) {
        throw new Error(`could not select tfjs backend '${backend}' (active: ${tf.getBackend()})`);
      }
      await tf.ready();
      before = tf.memory().numTensors;
      model = IRRA.create(irraConfig(MODEL), { seed: 0 });
      images = tf.randomNormal([BATCH, ...MODEL.imageSize, 3], 0, 1, 'float32', 0) as tf.Tensor4D;
      // One ids tensor reused by every call: after its first use it lives on the GPU, so dataSync()
      // downloads it. Not on webgpu, where that read returns zeros and loses the device in this
      // Chromium (docs/backends.md, "webgpu").
      reused = backend === 'webgpu' ? null : idsTensor();
      if (!reused) found.tensorReused = 'skipped: dataSync() of a GPU-resident tensor loses the device';
    });

    afterAll(() => {
      tf.dispose([images, ...(reused ? [reused] : [])]);
      model.dispose();
      found.tensorsLeft = tf.memory().numTensors - before;
      console.log(backend, JSON.stringify(found));
    });

    it('the same features from tensor ids and Int32Array ids', async () => {
      const a = (encode.tensor as () => tf.Tensor)();
      const b = model.encodeText(ids);
      found.featureMaxAbsDiff = maxAbsDiff(await a.data(), await b.data());
      tf.dispose([a, b]);
    });

    it('encodeText, one call awaited at a time', async () => {
      const s = await interleaved(encodeVariants(), REPS, 1);
      Object.assign(found, {
        encodeText: s,
        encodeTextRatioTensorToInt32Array: ratio(s, 'tensor'),
        encodeTextRatioReusedTensorToInt32Array: ratio(s, 'tensorReused'),
      });
    });

    it(`encodeText, ${BURST} calls issued before awaiting them`, async () => {
      const s = await interleaved(encodeVariants(), BURST_REPS, BURST);
      Object.assign(found, {
        [`encodeTextBurst${BURST}`]: s,
        burstRatioTensorToInt32Array: ratio(s, 'tensor'),
        burstRatioReusedTensorToInt32Array: ratio(s, 'tensorReused'),
      });
    });

    it('computeLosses (forward, sdm+id+mlm), fresh tensors vs Int32Arrays', async () => {
      const lossOf = (batch: IRRABatch<tf.Tensor2D | Int32Array, tf.Tensor1D | Int32Array>) => {
        const out = model.computeLosses(batch);
        const total = tf.tidy(() =>
          tf.addN((['sdm_loss', 'id_loss', 'mlm_loss'] as const).map((k) => out[k] as tf.Scalar)),
        );
        tf.dispose(Object.values(out) as tf.Tensor[]);
        return total;
      };
      const s = await interleaved(
        {
          tensor: () => {
            const batch = {
              images,
              captionIds: idsTensor(),
              mlmIds: tf.tensor2d(mlmIds, [BATCH, ctx], 'int32'),
              mlmLabels: tf.tensor2d(mlmLabels, [BATCH, ctx], 'int32'),
              pids: tf.tensor1d(pids, 'int32'),
            };
            const total = lossOf(batch);
            tf.dispose([batch.captionIds, batch.mlmIds, batch.mlmLabels, batch.pids]);
            return total;
          },
          int32array: () => lossOf({ images, captionIds: ids, mlmIds, mlmLabels, pids }),
        },
        LOSS_REPS,
        1,
      );
      Object.assign(found, { computeLosses: s, computeLossesRatioTensorToInt32Array: ratio(s, 'tensor') });
    });
  });
}

afterAll(async () => {
  const meta = {
    what: 'IRRA.encodeText / computeLosses with token ids as an int32 tensor vs the tokenizer Int32Array',
    browser: navigator.userAgent,
    gpu: 'SwiftShader (software) through --use-angle=swiftshader --enable-unsafe-webgpu',
    hardwareConcurrency: navigator.hardwareConcurrency,
    model: MODEL,
    batch: BATCH,
    warmup: WARMUP,
    reps: { encodeText: REPS, burst: BURST_REPS, computeLosses: LOSS_REPS },
    burst: BURST,
    timing: 'per call, from the call to the end of `await out.data()`; median and p90 over reps; variants interleaved',
    variants: {
      tensor: 'a fresh tf.tensor2d of the ids per call (as tokenizer.tokenize() gives), disposed after the call',
      tensorReused: 'one ids tensor reused by every call (GPU-resident after its first use)',
      int32array: 'the Int32Array of tokenizer.tokenizeToArray()',
    },
  };
  await commands.writeBenchResults(`${JSON.stringify({ ...meta, backends: results }, null, 2)}\n`);
});
