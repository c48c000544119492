/**
 * Where the time of a training step goes, by kernel: `tf.profile` of one step of the demo's small
 * IRRA (width 64, 2 layers, 64×24 images, context 48, vocab 130, batch 32) on wasm, after warm-up.
 * Prints the kernels sorted by total time, with call counts and the matMul share.
 *
 * Run: npx tsx bench/profile_step.ts [--backend wasm] [--top 15]
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { IRRA, totalLoss } from '../src/model';
import { numberOption, option } from './args';
import { DEMO_SIZE_CONFIG, trainBatch } from './train_batch';

async function main(): Promise<void> {
  await tf.setBackend(option('backend', 'wasm'));
  const config = DEMO_SIZE_CONFIG;
  const model = IRRA.create(config, { seed: 0 });
  const batch = trainBatch(config, 32);
  const params = [...model.namedParameters().values()];
  const step = () => {
    const { value, grads } = tf.variableGrads(() => tf.tidy(() => totalLoss(model.computeLosses(batch))), params);
    value.dataSync();
    value.dispose();
    tf.dispose(grads);
  };
  for (let i = 0; i < 3; i++) step();
  const t0 = performance.now();
  const info = await tf.profile(step);
  const wall = performance.now() - t0;
  const byName = new Map<string, { ms: number; n: number }>();
  for (const k of info.kernels) {
    const e = byName.get(k.name) ?? { ms: 0, n: 0 };
    e.ms += k.kernelTimeMs as number;
    e.n += 1;
    byName.set(k.name, e);
  }
  const total = [...byName.values()].reduce((a, e) => a + e.ms, 0);
  console.log(`step (profiled) ${wall.toFixed(0)} ms wall, ${total.toFixed(0)} ms in ${info.kernels.length} kernels`);
  console.log('| kernel | calls | ms | share |\n|---|---|---|---|');
  const top = numberOption('top', 15);
  for (const [name, e] of [...byName].sort((a, b) => b[1].ms - a[1].ms).slice(0, top)) {
    console.log(`| ${name} | ${e.n} | ${e.ms.toFixed(1)} | ${((100 * e.ms) / total).toFixed(1)}% |`);
  }
  tf.dispose(Object.values(batch) as tf.Tensor[]);
  model.dispose();
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
