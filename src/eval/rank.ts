import * as tf from '@tensorflow/tfjs-core';

/**
 * Defaults of {@link rank} and {@link rankAsync}, used by the code and quoted in the docs.
 * - `maxRank`: length of the returned CMC curve (10, as the reference evaluates).
 * - `transposed`: false, the similarity is `[numQueries, numGallery]`.
 */
export const RANK_DEFAULTS = { maxRank: 10, transposed: false } as const;

/** Options of {@link rank} and {@link rankAsync}. */
export interface RankOptions {
  /** Length of the CMC curve, an integer in [1, numGallery]. Default {@link RANK_DEFAULTS}.maxRank (10). */
  maxRank?: number;
  /**
   * When true, the similarity is `[numGallery, numQueries]`: the queries are its columns. This
   * ranks image→text on the text×image matrix of text→image without materialising its transpose
   * (a second q×g matrix). Default {@link RANK_DEFAULTS}.transposed (false).
   */
  transposed?: boolean;
}

/** Queries transposed per block when `transposed` is set (64 × 6,156 floats = 1.5 MB). */
const TRANSPOSE_BLOCK = 64;

/** Retrieval metrics of one direction (e.g. text→image), every number in percent [0, 100]. */
export interface RankResult {
  /** `cmc[k]`: percent of queries whose first correct match is within the top `k + 1` (length `maxRank`). */
  cmc: number[];
  /** Percent of queries whose top-ranked gallery item matches (rank-1 accuracy). */
  R1: number;
  /** Percent of queries with a match within the top 5 (the whole gallery when it is smaller). */
  R5: number;
  /** Percent of queries with a match within the top 10 (the whole gallery when it is smaller). */
  R10: number;
  /** Mean over queries of average precision over the fully ranked gallery. */
  mAP: number;
  /** Mean over queries of inverse negative penalty: `#matches / (rank of the last match)`. */
  mINP: number;
}

/** Person ids of queries or gallery items: a 1-D int32/float32 tensor or plain numbers (integers). */
export type PidsLike = tf.Tensor1D | Int32Array | Float32Array | readonly number[];

interface Checked {
  numQueries: number;
  numGallery: number;
  maxRank: number;
  transposed: boolean;
}

function checkSimilarity(similarity: tf.Tensor2D, opts: RankOptions): Checked {
  if (!(similarity instanceof tf.Tensor)) {
    throw new Error(`rank: similarity must be a tf.Tensor2D [numQueries, numGallery], got ${typeof similarity}`);
  }
  if (similarity.rank !== 2) {
    throw new Error(
      `rank: similarity must be 2-D [numQueries, numGallery], got rank ${similarity.rank} shape [${similarity.shape}]`,
    );
  }
  if (similarity.dtype !== 'float32') {
    throw new Error(`rank: similarity must have dtype float32, got ${similarity.dtype}`);
  }
  const transposed = opts.transposed ?? RANK_DEFAULTS.transposed;
  if (typeof transposed !== 'boolean') throw new Error(`rank: transposed must be a boolean, got ${transposed}`);
  const [numQueries, numGallery] = transposed ? [similarity.shape[1], similarity.shape[0]] : similarity.shape;
  if (numQueries < 1 || numGallery < 1) {
    throw new Error(`rank: similarity needs at least one query and one gallery item, got shape [${similarity.shape}]`);
  }
  const maxRank = opts.maxRank ?? RANK_DEFAULTS.maxRank;
  if (!Number.isInteger(maxRank) || maxRank < 1 || maxRank > numGallery) {
    throw new Error(`rank: maxRank must be an integer in [1, numGallery = ${numGallery}], got ${maxRank}`);
  }
  return { numQueries, numGallery, maxRank, transposed };
}

function checkPids(name: string, pids: PidsLike, expected: number, dim: string, where: string): void {
  if (pids instanceof tf.Tensor) {
    if (pids.rank !== 1) throw new Error(`rank: ${name} must be 1-D, got shape [${pids.shape}]`);
    if (pids.dtype !== 'int32' && pids.dtype !== 'float32') {
      throw new Error(`rank: ${name} must have dtype int32 or float32, got ${pids.dtype}`);
    }
  } else if (!Array.isArray(pids) && !(pids instanceof Int32Array) && !(pids instanceof Float32Array)) {
    throw new Error(`rank: ${name} must be a 1-D tensor, Int32Array, Float32Array or number[], got ${typeof pids}`);
  }
  const n = pids instanceof tf.Tensor ? pids.shape[0] : pids.length;
  if (n !== expected) {
    throw new Error(`rank: ${name} must have length ${dim} = ${expected} (the similarity's ${where}), got ${n}`);
  }
}

function checkIntegers(name: string, values: ArrayLike<number>): ArrayLike<number> {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isInteger(values[i]))
      throw new Error(`rank: ${name}[${i}] must be an integer person id, got ${values[i]}`);
  }
  return values;
}

function pidsSync(pids: PidsLike): ArrayLike<number> {
  return pids instanceof tf.Tensor ? pids.dataSync() : pids;
}

async function pidsAsync(pids: PidsLike): Promise<ArrayLike<number>> {
  return pids instanceof tf.Tensor ? pids.data() : pids;
}

/**
 * Up to this many matches per query, each gallery item is compared with every match without
 * branches (fast on random-looking rows, where branches mispredict); above it, a binary search.
 */
const LINEAR_MATCHES = 16;

/**
 * Accumulates the metrics query by query. For each query it needs only the positions of its
 * matches in the gallery ranked by descending similarity, and finds them without sorting: with
 * the matches ordered among themselves, one pass over the row counts, for each gallery item, how
 * many matches it outranks. O(numGallery · min(m, log m + c)) per query for m matches, no
 * allocation per row.
 */
class RankAccumulator {
  private readonly matchesOf = new Map<number, Int32Array>();
  private readonly firstHitCount: Float64Array;
  /** Similarity and gallery index of the current query's matches, in ranking order. */
  private readonly val: Float64Array;
  private readonly idx: Int32Array;
  /** `outranking[c]`: gallery items (matches included) that outrank exactly the last c matches. */
  private readonly outranking: Int32Array;
  private sumAP = 0;
  private sumINP = 0;

  constructor(
    private readonly queryPids: ArrayLike<number>,
    galleryPids: ArrayLike<number>,
    private readonly numGallery: number,
  ) {
    const lists = new Map<number, number[]>();
    for (let j = 0; j < numGallery; j++) {
      const list = lists.get(galleryPids[j]);
      if (list) list.push(j);
      else lists.set(galleryPids[j], [j]);
    }
    let most = 0;
    for (const [pid, list] of lists) {
      this.matchesOf.set(pid, Int32Array.from(list));
      most = Math.max(most, list.length);
    }
    this.firstHitCount = new Float64Array(numGallery);
    this.val = new Float64Array(most);
    this.idx = new Int32Array(most);
    this.outranking = new Int32Array(most + 1);
  }

  /** Adds `rows` queries starting at query `row0`, their similarity rows in `data` (row-major). */
  addRows(data: Float32Array, row0: number, rows: number): void {
    const g = this.numGallery;
    const { val, idx, outranking } = this;
    for (let r = 0; r < rows; r++) {
      const q = row0 + r;
      const base = r * g;
      const pid = this.queryPids[q];
      const matches = this.matchesOf.get(pid);
      if (!matches) {
        throw new Error(
          `rank: queryPids[${q}] = ${pid} has no match in galleryPids; every query needs at least one gallery ` +
            'item with its pid (its AP and INP are undefined otherwise)',
        );
      }
      const m = matches.length;
      // The matches in ranking order: similarity descending, then gallery index ascending.
      for (let t = 0; t < m; t++) {
        const j = matches[t];
        const v = data[base + j];
        if (Number.isNaN(v)) throw new Error(`rank: similarity[${q}, ${j}] is NaN`);
        let s = t;
        while (s > 0 && val[s - 1] < v) {
          val[s] = val[s - 1];
          idx[s] = idx[s - 1];
          s--;
        }
        val[s] = v;
        idx[s] = j;
      }
      outranking.fill(0, 0, m + 1);
      if (m <= LINEAR_MATCHES) this.countLinear(data, base, m, q);
      else this.countBinary(data, base, m, q);
      // Match t (0-based) is preceded by every item that outranks at least the last m - t matches.
      let position = 0;
      let ap = 0;
      for (let t = 0; t < m; t++) {
        position += outranking[m - t];
        if (t === 0) this.firstHitCount[position]++;
        ap += (t + 1) / (position + 1);
      }
      this.sumAP += ap / m;
      this.sumINP += m / (position + 1);
    }
  }

  /** Item i outranks match t when its similarity is larger, or equal with a smaller index. */
  private countLinear(data: Float32Array, base: number, m: number, q: number): void {
    const { val, idx, outranking } = this;
    for (let i = 0; i < this.numGallery; i++) {
      const x = data[base + i];
      if (Number.isNaN(x)) throw new Error(`rank: similarity[${q}, ${i}] is NaN`);
      let c = 0;
      for (let t = 0; t < m; t++) {
        const v = val[t];
        c += +(x > v);
        if (x === v && i < idx[t]) c++;
      }
      outranking[c]++;
    }
  }

  /** As countLinear, finding the first outranked match by binary search (the outranked ones are a suffix). */
  private countBinary(data: Float32Array, base: number, m: number, q: number): void {
    const { val, idx, outranking } = this;
    for (let i = 0; i < this.numGallery; i++) {
      const x = data[base + i];
      if (Number.isNaN(x)) throw new Error(`rank: similarity[${q}, ${i}] is NaN`);
      let lo = 0;
      let hi = m;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (x > val[mid] || (x === val[mid] && i < idx[mid])) hi = mid;
        else lo = mid + 1;
      }
      outranking[m - lo]++;
    }
  }

  result(maxRank: number, numQueries: number): RankResult {
    const g = this.numGallery;
    const within = new Float64Array(g);
    let acc = 0;
    for (let k = 0; k < g; k++) {
      acc += this.firstHitCount[k];
      within[k] = (100 * acc) / numQueries;
    }
    const at = (k: number): number => within[Math.min(k, g) - 1];
    return {
      cmc: Array.from(within.subarray(0, maxRank)),
      R1: at(1),
      R5: at(5),
      R10: at(10),
      mAP: (100 * this.sumAP) / numQueries,
      mINP: (100 * this.sumINP) / numQueries,
    };
  }
}

function prepare(similarity: tf.Tensor2D, queryPids: PidsLike, galleryPids: PidsLike, opts: RankOptions): Checked {
  const checked = checkSimilarity(similarity, opts);
  const [qWhere, gWhere] = checked.transposed ? ['columns', 'rows'] : ['rows', 'columns'];
  checkPids('queryPids', queryPids, checked.numQueries, 'numQueries', qWhere);
  checkPids('galleryPids', galleryPids, checked.numGallery, 'numGallery', gWhere);
  return checked;
}

/** Feeds the whole similarity (row-major, as read from the backend) to the accumulator. */
function accumulate(acc: RankAccumulator, data: Float32Array, checked: Checked): RankResult {
  const { numQueries: q, numGallery: g, maxRank, transposed } = checked;
  if (!transposed) {
    acc.addRows(data, 0, q);
    return acc.result(maxRank, q);
  }
  // data is [g, q]: copy blocks of query columns into rows, reading contiguous runs of each row.
  const block = new Float32Array(Math.min(TRANSPOSE_BLOCK, q) * g);
  for (let c0 = 0; c0 < q; c0 += TRANSPOSE_BLOCK) {
    const cols = Math.min(TRANSPOSE_BLOCK, q - c0);
    for (let i = 0; i < g; i++) {
      const src = i * q + c0;
      for (let c = 0; c < cols; c++) block[c * g + i] = data[src + c];
    }
    acc.addRows(block, c0, cols);
  }
  return acc.result(maxRank, q);
}

/**
 * Text-to-image (or image-to-text) retrieval metrics, as the reference IRRA `utils/metrics.py`
 * `rank(similarity, q_pids, g_pids, max_rank, get_mAP=True)` computes them: each query ranks the
 * whole gallery by descending similarity; a gallery item matches when its pid equals the query's.
 * - `cmc[k]` = percent of queries with a match among the top `k + 1`; `R1`, `R5`, `R10` are that
 *   at ranks 1, 5 and 10 (capped at the gallery size).
 * - AP of a query = mean over its matches of precision at each match's position; `mAP` = mean AP.
 * - INP of a query = `#matches / (1-based position of its last match)`; `mINP` = mean INP.
 *
 * Ties in similarity are ordered by ascending gallery index, as a stable descending sort
 * (`torch.argsort(..., descending=True, stable=True)`) orders them, so the result is
 * deterministic. Computed in float64 (the reference: float32, which differs by ~1e-5 percent).
 * No sort is done: per query one pass over its row finds the positions of its matches.
 *
 * For image→text, pass the same text×image similarity with `{ transposed: true }` and the
 * swapped pids: `rank(sim, imagePids, textPids, { transposed: true })`, or equivalently (but with a
 * second matrix in memory) `rank(tf.transpose(sim), imagePids, textPids)`.
 *
 * Memory: reads the similarity once with `dataSync()`: on the cpu backend that is the backend's own
 * array (no copy); on others one float32 copy, so at most two q×g matrices exist at once (the
 * caller's tensor and the copy), plus a 64-query block when `transposed`. Reads synchronously;
 * on backends where that is unwise (webgl, webgpu) use {@link rankAsync}.
 *
 * @param similarity float32 `[numQueries, numGallery]` (`[numGallery, numQueries]` when
 *   `transposed`); not disposed (the caller owns it).
 * @param queryPids person id of each query, length numQueries (integers).
 * @param galleryPids person id of each gallery item, length numGallery (integers).
 * @param opts `maxRank` (default 10), `transposed` (default false): see {@link RANK_DEFAULTS}.
 * @returns plain numbers in percent; no tensors are returned or left behind.
 * @throws Error naming the argument for a non-2-D or non-float32 similarity, pids whose length
 *   differs from the similarity's dimension or that are not integers, `maxRank` outside
 *   [1, numGallery], a query whose pid is absent from the gallery, or a NaN similarity.
 *
 * @example
 * ```ts
 * const sim = tf.tensor2d([[0.9, 0.1], [0.2, 0.8]]);
 * const { R1, mAP } = rank(sim, [7, 3], [7, 3], { maxRank: 2 }); // 100, 100
 * sim.dispose();
 * ```
 */
export function rank(
  similarity: tf.Tensor2D,
  queryPids: PidsLike,
  galleryPids: PidsLike,
  opts: RankOptions = {},
): RankResult {
  const checked = prepare(similarity, queryPids, galleryPids, opts);
  const acc = new RankAccumulator(
    checkIntegers('queryPids', pidsSync(queryPids)),
    checkIntegers('galleryPids', pidsSync(galleryPids)),
    checked.numGallery,
  );
  return accumulate(acc, similarity.dataSync() as Float32Array, checked);
}

/**
 * {@link rank} reading the similarity with `await data()` instead of `dataSync()`: the same
 * result, for backends (webgl, webgpu) where synchronous reads stall or misbehave.
 *
 * @returns a promise of plain numbers in percent; no tensors are returned or left behind.
 */
export async function rankAsync(
  similarity: tf.Tensor2D,
  queryPids: PidsLike,
  galleryPids: PidsLike,
  opts: RankOptions = {},
): Promise<RankResult> {
  const checked = prepare(similarity, queryPids, galleryPids, opts);
  const acc = new RankAccumulator(
    checkIntegers('queryPids', await pidsAsync(queryPids)),
    checkIntegers('galleryPids', await pidsAsync(galleryPids)),
    checked.numGallery,
  );
  return accumulate(acc, (await similarity.data()) as Float32Array, checked);
}
