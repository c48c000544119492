/**
 * Encoding throughput of the 'ViT-B/16' IRRA preset: images/s (384×128) and captions/s (77 tokens)
 * on tfjs-wasm, and one image on the cpu backend, each against a plain 2-D matMul workload of the
 * same FLOPs on the same backend, measured in the same run before and after the model (the "matMul
 * roofline", the tower's MLP shape `[tokens · batch, width] @ [width, 4 · width]`):
 * ratio = (matMul seconds for the model's FLOPs) / (model seconds).
 *
 * Run: npx tsx bench/encode.ts [--repeats N] [--batch B] [--skip_cpu]
 * The model's FLOPs count every dense matMul (patch embedding, q/k/v, attention products,
 * out_proj, MLP, projections) as 2·m·k·n; element-wise work is not counted.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { irraConfig } from '../src/config';
import { IRRA } from '../src/model';
import { flag, numberOption } from './args';
import { imageFlops, imageTokens, matMulGflops, run, seconds, textFlops } from './roofline';

const REPEATS = numberOption('repeats', 3);
const BATCH = numberOption('batch', 2);
const SKIP_CPU = flag('skip_cpu');

const config = irraConfig({ preset: 'ViT-B/16' });

const imageTokenCount = imageTokens(config);
const imageFlopsPerItem = imageFlops(config, false);
const textFlopsPerItem = textFlops(config, false);

interface Row {
  backend: string;
  workload: string;
  batch: number;
  secondsPerItem: number;
  gflops: number;
  roofline: number;
}
const rows: Row[] = [];

function captionIds(batch: number): tf.Tensor2D {
  const ids = new Int32Array(batch * config.contextLength);
  for (let b = 0; b < batch; b++) {
    const len = 12 + ((b * 7) % 40);
    ids[b * config.contextLength] = 49406;
    for (let i = 1; i < len; i++) ids[b * config.contextLength + i] = 300 + ((b * 131 + i * 17) % 40000);
    ids[b * config.contextLength + len] = 49407;
  }
  return tf.tensor2d(ids, [batch, config.contextLength], 'int32');
}

async function runBackend(backend: 'wasm' | 'cpu', model: IRRA): Promise<void> {
  if (!(await tf.setBackend(backend)) || tf.getBackend() !== backend) throw new Error(`bench: no ${backend} backend`);
  await tf.ready();
  const batch = backend === 'wasm' ? BATCH : 1;
  const repeats = backend === 'wasm' ? REPEATS : 1;
  const roofRepeats = backend === 'wasm' ? 5 : 1;
  const imageRoof = [matMulGflops(imageTokenCount * batch, config.visionWidth, roofRepeats)];
  const textRoof = [
    backend === 'wasm' ? matMulGflops(config.contextLength * batch, config.transformerWidth, roofRepeats) : Number.NaN,
  ];
  const images = tf.randomNormal(
    [batch, config.imageSize[0], config.imageSize[1], 3],
    0,
    1,
    'float32',
    1,
  ) as tf.Tensor4D;
  const sImg =
    seconds(
      run(() => model.encodeImage(images)),
      repeats,
    ) / batch;
  images.dispose();
  let sTxt = Number.NaN;
  if (backend === 'wasm') {
    const ids = captionIds(batch);
    sTxt =
      seconds(
        run(() => model.encodeText(ids)),
        repeats,
      ) / batch;
    ids.dispose();
  }
  imageRoof.push(matMulGflops(imageTokenCount * batch, config.visionWidth, roofRepeats));
  if (backend === 'wasm')
    textRoof.push(matMulGflops(config.contextLength * batch, config.transformerWidth, roofRepeats));
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  rows.push({
    backend,
    workload: 'image 384×128',
    batch,
    secondsPerItem: sImg,
    gflops: imageFlopsPerItem / sImg / 1e9,
    roofline: mean(imageRoof),
  });
  if (backend === 'wasm') {
    rows.push({
      backend,
      workload: 'caption 77 tokens',
      batch,
      secondsPerItem: sTxt,
      gflops: textFlopsPerItem / sTxt / 1e9,
      roofline: mean(textRoof),
    });
  }
}

async function main(): Promise<void> {
  await tf.setBackend('wasm');
  const t0 = performance.now();
  const model = IRRA.create(config, { seed: 0 });
  console.log(
    `built ViT-B/16 IRRA (${model.countParams().toLocaleString()} parameters) in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  console.log(
    `FLOPs per image ${(imageFlopsPerItem / 1e9).toFixed(2)} G, per caption ${(textFlopsPerItem / 1e9).toFixed(2)} G`,
  );
  await runBackend('wasm', model);
  if (!SKIP_CPU) {
    const state = model.stateDict();
    await tf.setBackend('cpu');
    const cpuModel = IRRA.create(config, { seed: 0 });
    cpuModel.loadStateDict(state);
    for (const t of state.values()) t.dispose();
    await runBackend('cpu', cpuModel);
    cpuModel.dispose();
  }
  console.log('\n| backend | workload | batch | s/item | items/s | GFLOP/s | matMul GFLOP/s | ratio to roofline |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(
      `| ${r.backend} | ${r.workload} | ${r.batch} | ${r.secondsPerItem.toFixed(3)} | ${(1 / r.secondsPerItem).toFixed(2)} | ${r.gflops.toFixed(1)} | ${r.roofline.toFixed(1)} | ${(r.gflops / r.roofline).toFixed(2)} |`,
    );
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
