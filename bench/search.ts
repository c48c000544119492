/**
 * Gallery search benchmarks (issue 12 §6, issue 14 §3), on synthetic 512-d L2-normalised features:
 *
 * - `memory`: `memoryStore()` search latency per query on tfjs-wasm, batches of 1 and 16 queries,
 *   over 10k, 100k and 1M rows; ratio = the time of the same plain `tf.matMul`s
 *   (`[q, 512] @ [512, chunk]` over the store's resident chunks, measured right before and after
 *   each search in the same run) / the search time. 1 = search costs no more than its matMuls.
 * - `lance`: LanceDB with `--lance_rows` (1M) clustered vectors and planted nearest neighbours:
 *   build seconds (insert, IVF-PQ index), recall@10 against LanceDB's exact (flat) search, p50/p95
 *   latency per query for a few nprobes / refineFactor settings. Goal: recall@10 ≥ 0.95 at p50 ≤ 20 ms.
 *
 * Run: npx tsx bench/search.ts [--part memory|lance|all] [--sizes 10000,100000,1000000]
 *   [--layouts transposed,rows] [--lance_rows 1000000] [--queries 200] [--lance_dir DIR] [--no_write]
 *   [--settings NPROBES:REFINE,…] [--partitions 256] [--sub_vectors 64] [--reindex] [--exact_queries 10]
 * `--lance_dir` keeps the table: a later run with the same `--lance_rows` searches it again without
 * inserting (the rows are regenerated for the exact top-10 only); `--reindex` rebuilds its index with
 * `--partitions` / `--sub_vectors` (without it, those two only label the rows of the kept index).
 * Writes bench/search_results.json (rows of bench/results.json's shape; a run of one part keeps the
 * other part's rows).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import { lanceStore } from '../src/search/stores/lancedb';
import { MEMORY_STORE_DEFAULTS, type MemoryStoreLayout, memoryStore } from '../src/search/stores/memory';
import type { GalleryStore } from '../src/search/types';
import { mulberry32 } from '../src/util/random';
import { flag, integersOption, numberOption, option } from './args';

/** One row of bench/search_results.json (the shape of bench/results.json's rows). */
export interface SearchBenchRow {
  backend: string;
  workload: string;
  value: number;
  unit: string;
  rooflineRatio?: number;
  batch?: number;
  rows?: number;
  matmulGflops?: number;
  recallAt10?: number;
  p50Ms?: number;
  p95Ms?: number;
  nprobes?: number;
  refineFactor?: number;
  note?: string;
}

/** Options of {@link searchBenchRows}. */
export interface SearchBenchOptions {
  /** Which part: 'memory', 'lance' or 'all'. */
  part: 'memory' | 'lance' | 'all';
  /** Gallery sizes of the memory-store part. */
  sizes: number[];
  /** Chunk layouts of the memory-store part. */
  layouts: MemoryStoreLayout[];
  /** Rows of the LanceDB part. */
  lanceRows: number;
  /** Queries of the LanceDB part (latency and recall over all of them). */
  queries: number;
  /** Folder for the LanceDB table (a temporary folder, removed afterwards, when unset). */
  lanceDir?: string;
  /** Progress lines. */
  log: (line: string) => void;
}

const DIM = 512;
const CLUSTERS = 1000;
const SPREAD = 0.6;
const PLANT_NOISE = 0.15;

const median = (xs: number[]): number => quantile(xs, 0.5);
function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const at = (s.length - 1) * q;
  const lo = Math.floor(at);
  return s[lo] + (s[Math.min(s.length - 1, lo + 1)] - s[lo]) * (at - lo);
}

/** Unit-variance-ish uniform noise from a seeded stream. */
function fill(out: Float32Array, offset: number, next: () => number, scale: number): void {
  for (let c = 0; c < DIM; c++) out[offset + c] += (next() - 0.5) * scale;
}

function normalise(out: Float32Array, offset: number): void {
  let s = 0;
  for (let c = 0; c < DIM; c++) s += out[offset + c] * out[offset + c];
  const inv = 1 / Math.sqrt(s);
  for (let c = 0; c < DIM; c++) out[offset + c] *= inv;
}

/**
 * The synthetic gallery: row i = normalise(centre[i's cluster] + SPREAD · noise(i)), every row
 * reproducible from its index alone (no copy of the gallery is kept).
 */
class Gallery {
  private readonly centres = new Float32Array(CLUSTERS * DIM);
  constructor(readonly seed: number) {
    const next = mulberry32(seed);
    for (let k = 0; k < CLUSTERS; k++) {
      fill(this.centres, k * DIM, next, 2);
      normalise(this.centres, k * DIM);
    }
  }

  /** Rows `from … from + n - 1`, row-major. */
  rows(from: number, n: number): Float32Array {
    const out = new Float32Array(n * DIM);
    for (let r = 0; r < n; r++) {
      const i = from + r;
      const next = mulberry32((this.seed * 7919) ^ (i + 1));
      const k = Math.floor(next() * CLUSTERS);
      out.set(this.centres.subarray(k * DIM, (k + 1) * DIM), r * DIM);
      // noise scaled so that its norm is SPREAD (uniform in ±0.5 has variance 1/12)
      fill(out, r * DIM, next, SPREAD * Math.sqrt(12 / DIM));
      normalise(out, r * DIM);
    }
    return out;
  }

  /** Queries with a planted nearest neighbour each: a gallery row plus small noise. */
  plantedQueries(count: number, galleryRows: number): { queries: Float32Array; planted: number[] } {
    const next = mulberry32(this.seed + 101);
    const queries = new Float32Array(count * DIM);
    const planted: number[] = [];
    for (let q = 0; q < count; q++) {
      const j = Math.floor(next() * galleryRows);
      planted.push(j);
      queries.set(this.rows(j, 1), q * DIM);
      fill(queries, q * DIM, next, PLANT_NOISE * Math.sqrt(12 / DIM));
      normalise(queries, q * DIM);
    }
    return { queries, planted };
  }
}

async function fillStore(
  store: GalleryStore,
  gallery: Gallery,
  n: number,
  batch: number,
  log: (s: string) => void,
  onBlock?: (from: number, rows: Float32Array) => Promise<void>,
) {
  const t0 = performance.now();
  let waited = 0;
  for (let from = 0; from < n; from += batch) {
    const m = Math.min(batch, n - from);
    const rows = gallery.rows(from, m);
    await store.add(
      Array.from({ length: m }, (_, r) => `img/${from + r}.jpg`),
      rows,
    );
    if (onBlock) {
      const w0 = performance.now();
      await onBlock(from, rows);
      waited += performance.now() - w0;
    }
    if ((from / batch) % 8 === 7)
      log(`  added ${from + m} / ${n} rows (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  }
  return (performance.now() - t0 - waited) / 1000;
}

/**
 * Exact top-10 of every query over the gallery, block by block as the rows are generated: each
 * block is searched exactly by a temporary memoryStore (tfjs-wasm) and the lists are merged, ties
 * to the earlier row. Returns the callback and the result lists.
 */
function exactTruth(
  queries: Float32Array,
  count: number,
): { onBlock: (from: number, rows: Float32Array) => Promise<void>; top: Array<Array<{ id: string; score: number }>> } {
  const top: Array<Array<{ id: string; score: number }>> = Array.from({ length: count }, () => []);
  const onBlock = async (from: number, rows: Float32Array) => {
    const store = memoryStore();
    try {
      const m = rows.length / DIM;
      await store.add(
        Array.from({ length: m }, (_, r) => `img/${from + r}.jpg`),
        rows,
      );
      const hits = await store.search(queries, count, { k: 10 });
      hits.forEach((list, q) => {
        top[q] = [...top[q], ...list.map((h) => ({ id: h.id, score: h.score }))]
          .sort((a, b) => b.score - a.score)
          .slice(0, 10);
      });
    } finally {
      await store.close();
    }
  };
  return { onBlock, top };
}

/** Seconds of the plain matMuls a search over `n` rows does: `[q, DIM] @ [DIM, chunk]` per chunk. */
function matmulSeconds(chunks: tf.Tensor2D[], q: tf.Tensor2D): number {
  const t0 = performance.now();
  for (const c of chunks) {
    const y = tf.matMul(q, c);
    y.dataSync();
    y.dispose();
  }
  return (performance.now() - t0) / 1000;
}

function wasmHeapMB(): number | undefined {
  const b = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } };
  const heap = b.wasm?.HEAPU8;
  return heap ? Math.round(heap.buffer.byteLength / 2 ** 20) : undefined;
}

async function memoryRows(opts: SearchBenchOptions): Promise<SearchBenchRow[]> {
  if (!(await tf.setBackend('wasm')) || tf.getBackend() !== 'wasm')
    throw new Error('bench/search: wasm backend unavailable');
  await tf.ready();
  const out: SearchBenchRow[] = [];
  const gallery = new Gallery(1);
  const chunkRows = MEMORY_STORE_DEFAULTS.chunkRows;
  for (const n of opts.sizes) {
    for (const layout of opts.layouts) {
      const workload = `memory_search_${n}_${layout}`;
      // XNNPACK keeps a packed copy of each transposed chunk: twice the gallery on the heap.
      const heapNeed = (layout === 'transposed' ? 2 : 1) * n * DIM * 4;
      if (heapNeed > 3.6 * 2 ** 30) {
        const note = `layout '${layout}' needs ~${(heapNeed / 2 ** 30).toFixed(1)} GiB of wasm heap for ${n} rows (chunks plus XNNPACK's packed copies), over the 4 GiB heap: not run`;
        opts.log(`  ${workload}: ${note}`);
        out.push({ backend: 'wasm', workload, value: Number.NaN, unit: 'ms/query', rows: n, note });
        continue;
      }
      const store = memoryStore({ layout });
      let addSeconds: number;
      try {
        addSeconds = await fillStore(store, gallery, n, chunkRows, opts.log);
      } catch (e) {
        await store.close();
        const note = `memoryStore with ${n} rows does not fit: ${(e as Error).message}`;
        opts.log(note);
        out.push({ backend: 'wasm', workload, value: Number.NaN, unit: 'ms/query', rows: n, note });
        continue;
      }
      // Same-shaped operands for the plain matMul: one chunk tensor per store chunk (full chunks and
      // the remainder), allocated only for the roofline and freed after.
      const sizes = Array.from({ length: Math.ceil(n / chunkRows) }, (_, i) => Math.min(chunkRows, n - i * chunkRows));
      for (const q of [1, 16]) {
        const { queries } = gallery.plantedQueries(q, n);
        await store.search(queries, q, { k: 10 });
        const qT = tf.tensor2d(queries, [q, DIM]);
        const repeats = n >= 1_000_000 ? 3 : 7;
        const searchS: number[] = [];
        const rooflineS: number[] = [];
        // The roofline reuses one chunk-shaped tensor per distinct size (a plain matMul's time does
        // not depend on the values), so that 1M rows do not need a second 2 GiB copy.
        const shapes = [...new Set(sizes)].map(
          (s) => tf.randomUniform([DIM, s], -0.05, 0.05, 'float32', 3) as tf.Tensor2D,
        );
        const bySize = new Map(shapes.map((t) => [t.shape[1], t]));
        const chunkTensors = sizes.map((s) => bySize.get(s) as tf.Tensor2D);
        for (let r = 0; r < repeats; r++) {
          const before = matmulSeconds(chunkTensors, qT);
          const t0 = performance.now();
          await store.search(queries, q, { k: 10 });
          searchS.push((performance.now() - t0) / 1000);
          rooflineS.push((before + matmulSeconds(chunkTensors, qT)) / 2);
        }
        tf.dispose([qT, ...shapes]);
        const s = median(searchS);
        const roof = median(rooflineS);
        const flops = 2 * q * n * DIM;
        const row: SearchBenchRow = {
          backend: 'wasm',
          workload: `${workload}_q${q}`,
          value: (s * 1000) / q,
          unit: 'ms/query',
          rooflineRatio: roof / s,
          batch: q,
          rows: n,
          matmulGflops: flops / roof / 1e9,
          note: `k=10, chunkRows ${chunkRows}, layout '${layout}'; search ${(s * 1000).toFixed(1)} ms per batch (${(flops / s / 1e9).toFixed(2)} GFLOP/s), plain matMuls ${(roof * 1000).toFixed(1)} ms; median of ${repeats}; add ${addSeconds.toFixed(1)} s; wasm heap ${wasmHeapMB()} MB`,
        };
        opts.log(
          `  ${row.workload}: ${row.value.toFixed(2)} ms/query, ratio ${row.rooflineRatio?.toFixed(3)} — ${row.note}`,
        );
        out.push(row);
      }
      await store.close();
    }
  }
  return out;
}

interface LanceSetting {
  nprobes: number;
  refineFactor: number;
}

async function lanceRows(opts: SearchBenchOptions): Promise<SearchBenchRow[]> {
  if (!(await tf.setBackend('wasm')) || tf.getBackend() !== 'wasm')
    throw new Error('bench/search: wasm backend unavailable');
  await tf.ready();
  const n = opts.lanceRows;
  const dir = opts.lanceDir ?? mkdtempSync(join(os.tmpdir(), 'irra-lance-bench-'));
  const gallery = new Gallery(2);
  const out: SearchBenchRow[] = [];
  const { queries, planted } = gallery.plantedQueries(opts.queries, n);
  const truth = exactTruth(queries, opts.queries);
  const table = `bench_${n}`;
  try {
    const store = await lanceStore(dir, { indexMinRows: null, table });
    const stored = await store.count();
    if (stored > 0 && (opts.lanceDir === undefined || stored !== n)) {
      throw new Error(`bench/search: ${dir} already holds table ${table} with ${stored} rows, expected none or ${n}`);
    }
    const numPartitions = numberOption('partitions', 256);
    const numSubVectors = numberOption('sub_vectors', 64);
    // A kept table (--lance_dir) of the same size is searched again: the rows are regenerated only
    // for the exact top-10, and the index is rebuilt only with --reindex (or when it has none).
    let insertS: number | undefined;
    if (stored === n) {
      opts.log(`lance: reusing the ${n} rows in ${dir}; exact top-10 of ${opts.queries} queries`);
      for (let from = 0; from < n; from += 32_768)
        await truth.onBlock(from, gallery.rows(from, Math.min(32_768, n - from)));
    } else {
      opts.log(`lance: inserting ${n} rows into ${dir} (exact top-10 of ${opts.queries} queries on the way)`);
      insertS = await fillStore(store, gallery, n, 32_768, opts.log, truth.onBlock);
      opts.log(`lance: inserted in ${insertS.toFixed(1)} s (row generation included)`);
    }
    if (insertS !== undefined || flag('reindex') || !(await store.hasIndex())) {
      opts.log('lance: building the IVF-PQ index');
      const indexT0 = performance.now();
      await store.createIndex({ numPartitions, numSubVectors });
      const indexS = (performance.now() - indexT0) / 1000;
      opts.log(
        `lance: index (${numPartitions} partitions, ${numSubVectors} sub-vectors, 8 bits, dot) in ${indexS.toFixed(1)} s`,
      );
      const index = `IVF-PQ index ${indexS.toFixed(1)} s (${numPartitions} partitions, ${numSubVectors} sub-vectors × 8 bits, dot, LanceDB's default 50 k-means iterations and 256 samples per partition), load average ${os.loadavg()[0].toFixed(1)} on 2 cores`;
      out.push({
        backend: 'lancedb',
        workload: `lance_build_${n}_p${numPartitions}_sv${numSubVectors}`,
        value: (insertS ?? 0) + indexS,
        unit: 's',
        rows: n,
        note:
          insertS === undefined
            ? `index rebuilt on the kept table: ${index}`
            : `insert ${insertS.toFixed(1)} s (batches of 32768 generated in JS, one commit each) + ${index}`,
      });
    } else {
      opts.log(`lance: searching the kept index (labelled ${numPartitions} partitions, ${numSubVectors} sub-vectors)`);
    }
    const truthIds = truth.top.map((l) => l.map((h) => h.id));
    const plantedTop1 = truthIds.filter((t, q) => t[0] === `img/${planted[q]}.jpg`).length / opts.queries;

    // LanceDB's own exact (flat) search on a few queries: its latency, and agreement with the truth.
    const exact = await lanceStore(dir, { indexMinRows: null, table, exact: true });
    const exactMs: number[] = [];
    let agree = 0;
    const few = Math.min(opts.queries, numberOption('exact_queries', 10));
    for (let q = 0; q < few; q++) {
      const t0 = performance.now();
      const [hits] = await exact.search(queries.subarray(q * DIM, (q + 1) * DIM), 1, { k: 10 });
      exactMs.push(performance.now() - t0);
      const t = new Set(truthIds[q]);
      agree += hits.filter((h) => t.has(h.id)).length;
    }
    await exact.close();
    out.push({
      backend: 'lancedb',
      workload: `lance_exact_${n}`,
      value: median(exactMs),
      unit: 'ms/query',
      rows: n,
      recallAt10: agree / (10 * few),
      p50Ms: median(exactMs),
      p95Ms: quantile(exactMs, 0.95),
      note: `LanceDB flat search (bypassVectorIndex) on ${few} queries; recall@10 = its agreement with the exact top-10 computed by memoryStore on tfjs-wasm; the planted neighbour is first for ${(plantedTop1 * 100).toFixed(1)}% of ${opts.queries} queries`,
    });
    opts.log(`lance: exact p50 ${median(exactMs).toFixed(1)} ms, agreement with the wasm truth ${agree / (10 * few)}`);

    const settings: LanceSetting[] = option('settings', '8:5,8:10,16:10,16:20,32:20')
      .split(',')
      .map((x) => {
        const [nprobes, refineFactor, extra] = x.split(':').map(Number);
        if (!Number.isInteger(nprobes) || !Number.isInteger(refineFactor) || extra !== undefined) {
          throw new Error(`bench: --settings: expected NPROBES:REFINE pairs of integers joined by ',', got '${x}'`);
        }
        return { nprobes, refineFactor };
      });
    for (const s of settings) {
      const ms: number[] = [];
      let found = 0;
      await store.search(queries.subarray(0, DIM), 1, { k: 10, ...s });
      for (let q = 0; q < opts.queries; q++) {
        const t0 = performance.now();
        const [hits] = await store.search(queries.subarray(q * DIM, (q + 1) * DIM), 1, { k: 10, ...s });
        ms.push(performance.now() - t0);
        const t = new Set(truthIds[q]);
        found += hits.filter((h) => t.has(h.id)).length;
      }
      const recall = found / (10 * opts.queries);
      const row: SearchBenchRow = {
        backend: 'lancedb',
        workload: `lance_ivfpq_${n}_p${numPartitions}_sv${numSubVectors}_np${s.nprobes}_rf${s.refineFactor}`,
        value: median(ms),
        unit: 'ms/query',
        rows: n,
        recallAt10: recall,
        p50Ms: median(ms),
        p95Ms: quantile(ms, 0.95),
        nprobes: s.nprobes,
        refineFactor: s.refineFactor,
        note: `${opts.queries} single queries, one at a time, load average ${os.loadavg()[0].toFixed(1)} on 2 cores; goal recall@10 ≥ 0.95 at p50 ≤ 20 ms: ${recall >= 0.95 && median(ms) <= 20 ? 'met' : 'not met'}`,
      };
      opts.log(
        `  ${row.workload}: recall@10 ${recall.toFixed(3)}, p50 ${row.p50Ms?.toFixed(1)} ms, p95 ${row.p95Ms?.toFixed(1)} ms`,
      );
      out.push(row);
    }
    await store.close();
  } finally {
    if (opts.lanceDir === undefined) rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

/** Runs the chosen parts and returns their rows. */
export async function searchBenchRows(opts: SearchBenchOptions): Promise<SearchBenchRow[]> {
  const rows: SearchBenchRow[] = [];
  if (opts.part !== 'lance') rows.push(...(await memoryRows(opts)));
  if (opts.part !== 'memory') rows.push(...(await lanceRows(opts)));
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const part = option('part', 'all') as SearchBenchOptions['part'];
  const started = Date.now();
  const rows = await searchBenchRows({
    part,
    sizes: integersOption('sizes', [10000, 100000, 1000000]),
    layouts: option('layouts', 'transposed,rows').split(',') as MemoryStoreLayout[],
    lanceRows: numberOption('lance_rows', 1_000_000),
    queries: numberOption('queries', 200),
    lanceDir: option('lance_dir', '') || undefined,
    log: (line) => console.log(line),
  });
  if (!flag('no_write')) {
    const file = join(dirname(fileURLToPath(import.meta.url)), 'search_results.json');
    const old: { rows?: SearchBenchRow[] } = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
    const fresh = new Set(rows.map((r) => r.workload));
    const keep = (old.rows ?? []).filter((r) => !fresh.has(r.workload));
    const meta = {
      date: new Date().toISOString(),
      machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GB`,
      loadAverage: os.loadavg().map((x) => Math.round(x * 100) / 100),
      args: process.argv.slice(2),
      wallSeconds: Math.round((Date.now() - started) / 1000),
      note: 'shared 2-core machine: other engineers ran tests during the run; latencies are noisy',
    };
    writeFileSync(file, `${JSON.stringify({ meta, rows: [...keep, ...rows] }, null, 2)}\n`);
    console.log(`wrote ${file}`);
  }
}
