/**
 * Where the time of a ViT-B/16 training step goes, by kernel, on one residual block of the image
 * tower at the training shape (batch 8: 8 × 193 tokens, width 768, 12 heads; heads = width / 64): `tf.profile` of the
 * forward pass alone and of forward + backward (gradients of the block's weights and input), with
 * and without gradient checkpointing, after warm-up. A whole ViT-B/16 step is too large for
 * tf.profile (bench/train_memory.ts says why); the 24 blocks of the two towers are most of it.
 * Prints each kernel's share, and the pass's time against a plain matMul of the same FLOPs.
 *
 * `--text` profiles a text-tower block instead (77 tokens, width 512, 8 heads, causal).
 *
 * Run: npx tsx bench/profile_block.ts [--batch 8] [--top 14] [--checkpoint] [--text] [--forward_only]
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-wasm';
import { Transformer } from '../src/layers';
import { flag, numberOption } from './args';
import { matMulGflops, seconds, towerFlops } from './roofline';

const BATCH = numberOption('batch', 8);
const TOP = numberOption('top', 14);
const TEXT = flag('text');
const WIDTH = TEXT ? 512 : 768;
const TOKENS = TEXT ? 77 : 193;
const HEADS = WIDTH / 64;

function table(kernels: { name: string; kernelTimeMs: number | { error: string } }[]): number {
  const byName = new Map<string, { ms: number; n: number }>();
  for (const k of kernels) {
    const e = byName.get(k.name) ?? { ms: 0, n: 0 };
    e.ms += k.kernelTimeMs as number;
    e.n += 1;
    byName.set(k.name, e);
  }
  const total = [...byName.values()].reduce((a, e) => a + e.ms, 0);
  console.log('| kernel | calls | ms | share |\n|---|---|---|---|');
  for (const [name, e] of [...byName].sort((a, b) => b[1].ms - a[1].ms).slice(0, TOP)) {
    console.log(`| ${name} | ${e.n} | ${e.ms.toFixed(1)} | ${((100 * e.ms) / total).toFixed(1)}% |`);
  }
  return total;
}

async function main(): Promise<void> {
  await tf.setBackend('wasm');
  const t = new Transformer({ width: WIDTH, layers: 1, heads: HEADS, causal: TEXT, seed: 0 });
  t.build([null, null, WIDTH]);
  t.gradientCheckpointing = flag('checkpoint');
  const rows = BATCH * TOKENS;
  const x = tf.randomNormal([rows, WIDTH], 0, 1, 'float32', 1) as tf.Tensor2D;
  const weights = t.trainableWeights.map((w) => w.read() as tf.Variable);
  const forward = () => tf.tidy(() => tf.sum(t.forwardFlat(x, BATCH, TOKENS))) as tf.Scalar;
  const fwd = () => forward().dispose();
  const fwdBwd = () => {
    const { value, grads } = tf.variableGrads(forward, weights);
    value.dataSync();
    value.dispose();
    tf.dispose(grads);
  };
  // One block: q/k/v + out projection (4·w²), MLP (8·w²) per token, and the two attention products.
  const flops = BATCH * towerFlops(TOKENS, WIDTH, 1);
  const median = (f: () => void): number => seconds(f, 3) * 1000;
  const gflops = matMulGflops(rows, WIDTH, 3);
  const roofMs = (flops / (gflops * 1e9)) * 1000;
  console.log(
    `batch ${BATCH}, checkpointing ${t.gradientCheckpointing}: matMul ${gflops.toFixed(1)} GFLOP/s; block forward FLOPs ${(flops / 1e9).toFixed(1)} G = ${roofMs.toFixed(0)} ms at the roofline`,
  );
  const passes: [string, () => void][] = [['forward', fwd]];
  if (!flag('forward_only')) passes.push(['forward + backward', fwdBwd]);
  for (const [label, f] of passes) {
    const ms = median(f);
    const info = await tf.profile(f);
    console.log(`\n${label}: ${ms.toFixed(0)} ms (${(ms / roofMs).toFixed(2)}× the forward roofline time)`);
    const total = table(info.kernels as never);
    console.log(`(kernel time ${total.toFixed(0)} ms in ${info.kernels.length} kernels)`);
  }
  tf.dispose([x, ...weights]);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
