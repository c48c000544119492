/**
 * Memory and time of ViT-B/16 IRRA training steps on tfjs-wasm (sdm + id + mlm, Adam):
 * the wasm heap (which only grows, so it is the peak including fragmentation), the bytes held by
 * tensors, and the step time, for one batch size and checkpointing setting per process (an
 * out-of-memory abort leaves the wasm module unusable).
 *
 * With --profile, the engine's byte counter is watched for its peak: the most bytes held by live
 * tensors at once (the heap's excess over it is allocator overhead and fragmentation; `tf.profile`
 * cannot be used for a step this large: it takes the max of its ~10^5 kernel records by spreading
 * them into Math.max, which overflows the call stack).
 *
 * With --json, a last line `RESULT {"batch", "seconds" (last step), "loss", "wasmHeapMB",
 * "tensorMB", "peakTensorMB"}` for bench/run.ts, which runs this in a child process.
 *
 * Adam keeps its state in JavaScript memory (`stateStorage: 'host'`) unless `--state backend`.
 *
 * Run: npx tsx bench/train_memory.ts [--batch 8] [--no_checkpoint] [--steps 2] [--no_adam]
 *   [--state host|backend] [--towers vision[,text,fusion]] [--profile] [--json]
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-wasm';
import { irraConfig } from '../src/config';
import { IRRA, totalLoss } from '../src/model';
import { buildOptimizer } from '../src/train';
import { flag, numberOption, option } from './args';
import { trainBatch } from './train_batch';

const BATCH = numberOption('batch', 8);
const STEPS = numberOption('steps', 2);
const CHECKPOINT = !flag('no_checkpoint');
const ADAM = !flag('no_adam');
const PROFILE = flag('profile');
const JSON_OUT = flag('json');
/**
 * Which stacks checkpoint their blocks when checkpointing is on. Default: the image tower only,
 * the fastest plan that fits batch 8 in the 4 GB heap (docs/performance.md).
 */
const TOWERS = option('towers', 'vision').split(',');
const STATE = option('state', 'host') as 'host' | 'backend';
const MB = 1024 * 1024;

async function main(): Promise<void> {
  await tf.setBackend('wasm');
  const heap = (): number => {
    const b = tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } };
    return Math.round(b.wasm.HEAPU8.buffer.byteLength / MB);
  };
  const tensors = (): number => Math.round(tf.memory().numBytes / MB);
  const config = irraConfig({ preset: 'ViT-B/16' });
  const plan = { vision: TOWERS.includes('vision'), text: TOWERS.includes('text'), fusion: TOWERS.includes('fusion') };
  const model = IRRA.create(config, { seed: 0, gradientCheckpointing: CHECKPOINT ? plan : false });
  console.log(
    `batch ${BATCH}, checkpointing ${CHECKPOINT ? TOWERS.join('+') : false}, adam ${ADAM}${ADAM ? ` (state on ${STATE})` : ''}`,
  );
  console.log(`model: tensors ${tensors()} MB, wasm heap ${heap()} MB`);
  const batch = trainBatch(config, BATCH);
  const named = model.namedParameters();
  const params = [...named.values()];
  const byVarName = new Map([...named].map(([n, v]) => [v.name, n]));
  const optimizer = ADAM ? buildOptimizer(model, { lr: 1e-5, stateStorage: STATE }) : null;
  let phase = 'forward';
  const lossFn = (): tf.Scalar => {
    phase = 'forward';
    const loss = tf.tidy(() => totalLoss(model.computeLosses(batch)));
    phase = 'backward';
    return loss;
  };
  let peakTensorMB: number | null = null;
  let peakBytes = 0;
  if (PROFILE) {
    const state = tf.engine().state as unknown as { numBytes: number };
    let bytes = state.numBytes;
    Object.defineProperty(state, 'numBytes', {
      get: () => bytes,
      set: (v: number) => {
        bytes = v;
        if (v > peakBytes) {
          // With TRACE_PEAK set: each new 128 MB high-water mark, and the engine scope it was in.
          if (process.env.TRACE_PEAK && Math.floor(v / (128 * MB)) > Math.floor(peakBytes / (128 * MB))) {
            const scope = (tf.engine().state as unknown as { activeScope?: { name?: string } }).activeScope?.name;
            console.log(`    live tensors ${Math.round(v / MB)} MB (${phase}, scope ${scope ?? '-'})`);
          }
          peakBytes = v;
        }
      },
    });
  }
  let last = { seconds: Number.NaN, loss: Number.NaN };
  for (let s = 0; s < STEPS; s++) {
    const t0 = performance.now();
    let loss = Number.NaN;
    const step = () => {
      const { value, grads } = tf.variableGrads(lossFn, params);
      loss = value.dataSync()[0];
      const backwardS = ((performance.now() - t0) / 1000).toFixed(1);
      console.log(`  after forward + backward (${backwardS} s): tensors ${tensors()} MB, wasm heap ${heap()} MB`);
      if (optimizer) {
        const u0 = performance.now();
        let lastHeap = heap();
        for (const [k, g] of Object.entries(grads)) {
          if (process.env.TRACE_HEAP === '2') console.log(`    updating ${byVarName.get(k)} [${g.shape}]`);
          optimizer.applyGradients(new Map([[byVarName.get(k) as string, g]]), { disposeGradients: true });
          if (process.env.TRACE_HEAP && heap() !== lastHeap) {
            lastHeap = heap();
            console.log(`    ${byVarName.get(k)} [${g.shape}]: tensors ${tensors()} MB, wasm heap ${lastHeap} MB`);
          }
        }
        const updateS = ((performance.now() - u0) / 1000).toFixed(1);
        console.log(`  after the Adam update (${updateS} s): tensors ${tensors()} MB, wasm heap ${heap()} MB`);
      }
      value.dispose();
      tf.dispose(grads);
    };
    let peak = '';
    if (PROFILE) {
      peakBytes = tf.memory().numBytes;
      step();
      peakTensorMB = Math.round(peakBytes / MB);
      peak = `, peak live tensors ${peakTensorMB} MB`;
    } else step();
    const sec = (performance.now() - t0) / 1000;
    last = { seconds: sec, loss };
    console.log(
      `step ${s}: loss ${loss.toFixed(4)}, ${sec.toFixed(1)} s, tensors ${tensors()} MB, wasm heap ${heap()} MB${peak}`,
    );
  }
  if (JSON_OUT) {
    const result = { batch: BATCH, ...last, wasmHeapMB: heap(), tensorMB: tensors(), peakTensorMB };
    console.log(`RESULT ${JSON.stringify(result)}`);
  }
  optimizer?.dispose();
  tf.dispose(Object.values(batch) as tf.Tensor[]);
  model.dispose();
}

main().catch((e: unknown) => {
  console.error(String((e as Error).message ?? e).slice(0, 300));
  process.exitCode = 1;
});
