/**
 * Indexing throughput (issue 12 §6, issue 14 §2): `PersonSearch.addImages` on a ViT-B/16 with
 * random weights, from PNG files on disk (decode, Pillow resize, normalisation, encoding, L2
 * normalisation and the memory store all included), in images/s:
 *
 * - `tfjs-wasm, in-process`, `tfjs-wasm, 2 workers` (steady state: the worker pool is started and
 *   warmed by a first call, then a second call is timed);
 * - `onnxruntime-node` through `PersonSearch({ engine: 'onnxruntime' })`, and the same engine's
 *   bare `encodeImages` on preprocessed pixels in batches of the same size: the ratio is indexing
 *   throughput / bare throughput (goal ≥ 0.8).
 *
 * Run: npx tsx bench/indexing.ts [--images 16] [--workers 2] [--skip tfjs,workers,onnx] [--no_write]
 * Writes bench/indexing_results.json.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { PNG } from 'pngjs';
import { IRRA, irraConfig, PersonSearch } from '../src/index';
import { flag, numberOption, option } from './args';

/** One row of bench/indexing_results.json. */
interface IndexingRow {
  backend: string;
  workload: string;
  value: number;
  unit: string;
  images: number;
  ratio?: number;
  note?: string;
}

function writePngs(dir: string, count: number): string[] {
  const paths: string[] = [];
  let s = 7;
  for (let i = 0; i < count; i++) {
    const width = 100 + (i % 3) * 14;
    const height = 260 + (i % 4) * 30;
    const png = new PNG({ width, height });
    for (let p = 0; p < width * height * 4; p++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      png.data[p] = p % 4 === 3 ? 255 : s >>> 24;
    }
    const path = join(dir, `person_${i}.png`);
    writeFileSync(path, PNG.sync.write(png));
    paths.push(path);
  }
  return paths;
}

const tokenizer = (texts: string[]) => {
  const ids = new Int32Array(texts.length * 77);
  for (let r = 0; r < texts.length; r++) ids.set([49406, 320, 49407], r * 77);
  return ids;
};

async function timeIndexing(search: PersonSearch, paths: string[], workers: number): Promise<number> {
  const t0 = performance.now();
  await search.addImages(paths, { workers, ids: paths.map((p) => `${p}#${t0}`) });
  return paths.length / ((performance.now() - t0) / 1000);
}

async function main(): Promise<void> {
  const count = numberOption('images', 16);
  const workers = numberOption('workers', 2);
  const skip = new Set(option('skip', '').split(',').filter(Boolean));
  if (!(await tf.setBackend('wasm'))) throw new Error('bench/indexing: the wasm backend did not start');
  const dir = mkdtempSync(join(os.tmpdir(), 'irra-bench-index-'));
  const rows: IndexingRow[] = [];
  const model = IRRA.create(irraConfig({ preset: 'ViT-B/16', lossNames: ['sdm'] }), { seed: 1 });
  try {
    const paths = writePngs(dir, count);
    const warm = paths.slice(0, 2);
    if (!skip.has('tfjs')) {
      const search = await PersonSearch.create({ model, tokenizer, batchSize: 8 });
      await timeIndexing(search, warm, 1);
      const rate = await timeIndexing(search, paths, 1);
      rows.push({
        backend: 'wasm',
        workload: 'index ViT-B/16, tfjs-wasm in-process',
        value: rate,
        unit: 'images/s',
        images: count,
      });
      console.log(`tfjs-wasm in-process: ${rate.toFixed(3)} images/s`);
      await search.dispose();
    }
    if (!skip.has('workers')) {
      const search = await PersonSearch.create({ model, tokenizer, batchSize: 4 });
      await timeIndexing(search, warm, workers);
      const rate = await timeIndexing(search, paths, workers);
      rows.push({
        backend: 'wasm',
        workload: `index ViT-B/16, tfjs-wasm ${workers} workers (steady state)`,
        value: rate,
        unit: 'images/s',
        images: count,
      });
      console.log(`tfjs-wasm ${workers} workers: ${rate.toFixed(3)} images/s`);
      await search.dispose();
    }
    if (!skip.has('onnx')) {
      const search = await PersonSearch.create({ model, tokenizer, engine: 'onnxruntime', batchSize: 8 });
      await timeIndexing(search, warm, 1);
      const rate = await timeIndexing(search, paths, 1);
      const [h, w] = model.config.imageSize;
      const pixels = new Float32Array(8 * h * w * 3).map((_, i) => Math.sin(i) * 0.5);
      await search.engine.encodeImages(pixels, 8);
      const t0 = performance.now();
      let done = 0;
      while (done < count) {
        await search.engine.encodeImages(pixels, 8);
        done += 8;
      }
      const bare = done / ((performance.now() - t0) / 1000);
      rows.push(
        {
          backend: 'onnxruntime-node',
          workload: 'index ViT-B/16, onnxruntime engine',
          value: rate,
          unit: 'images/s',
          images: count,
          ratio: rate / bare,
        },
        {
          backend: 'onnxruntime-node',
          workload: 'bare image encoding, onnxruntime engine, batch 8',
          value: bare,
          unit: 'images/s',
          images: done,
        },
      );
      console.log(
        `onnxruntime indexing: ${rate.toFixed(3)} images/s; bare encoding ${bare.toFixed(3)} images/s; ratio ${(rate / bare).toFixed(2)}`,
      );
      await search.dispose();
    }
  } finally {
    model.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
  const load = os.loadavg()[0];
  for (const r of rows) r.note = `load average ${load.toFixed(1)} on ${os.cpus().length} cores`;
  if (!flag('no_write'))
    writeFileSync(new URL('./indexing_results.json', import.meta.url), `${JSON.stringify(rows, null, 2)}\n`);
}

await main();
