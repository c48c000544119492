/**
 * The default gallery store: rows resident on the active tfjs backend, searched exactly in chunks.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GalleryStore, RowMetadata, SearchHit, StoredRows, StoreSearchOptions } from '../types';
import { StoreBase } from './base';
import { type CheckedAdd, checkInteger, checkSearchInput, copyMetadata } from './validate';

/** Defaults of {@link memoryStore}. */
export const MEMORY_STORE_DEFAULTS = {
  /**
   * Gallery rows per chunk tensor: 32,768 rows × 512 floats = 64 MiB per chunk, so a million rows
   * are 31 chunks (2 GiB), and the last, growing chunk never costs more than 64 MiB of host memory.
   */
  chunkRows: 32_768,
  /**
   * Largest `queries × chunk` score matrix ever materialised: 4,194,304 floats (16 MiB), i.e.
   * 128 queries against a full default chunk. Larger query batches are searched in blocks.
   */
  maxScoreElements: 4_194_304,
  /**
   * Chunk layout: `'transposed'` (`[dim, rows]`, the fast one) or `'rows'` (`[rows, dim]`, half the
   * memory on tfjs-wasm). See {@link MemoryStoreOptions.layout}.
   */
  layout: 'transposed' as MemoryStoreLayout,
} as const;

/** How chunk tensors are laid out (see {@link MemoryStoreOptions.layout}). */
export type MemoryStoreLayout = 'transposed' | 'rows';

/** Options of {@link memoryStore}. */
export interface MemoryStoreOptions {
  /** Rows per chunk tensor (≥ 1). Default {@link MEMORY_STORE_DEFAULTS}.chunkRows (32,768). */
  chunkRows?: number;
  /**
   * Bound on the elements of one `queries × chunk` score matrix (≥ `chunkRows`); queries are split
   * into blocks of `floor(maxScoreElements / chunkRows)`. Default
   * {@link MEMORY_STORE_DEFAULTS}.maxScoreElements (4,194,304).
   */
  maxScoreElements?: number;
  /**
   * Chunk layout. `'transposed'`: chunks are `[dim, rows]` and scores a plain
   * `matMul(queries[q, dim], chunk[dim, rows])`, the fastest product on tfjs-wasm (a `transposeB`
   * product is ~10× slower); but XNNPACK keeps a packed copy of every matMul right-hand operand it
   * has seen, so on wasm each chunk costs twice its size once searched (1M × 512 rows: 4 GiB, more
   * than the wasm heap holds: use `'rows'` or LanceDB there). `'rows'`: chunks are `[rows, dim]` and
   * scores `matMul(chunk, queriesᵀ)` then a transpose of the `[rows, q]` scores: no packed copy (the
   * packed operand is the small query block), ~1.5–2.5× slower per search. Default
   * {@link MEMORY_STORE_DEFAULTS}.layout ('transposed').
   */
  layout?: MemoryStoreLayout;
}

/** A sealed chunk: its features on the backend, `[dim, rows]` or `[rows, dim]` (the store's layout). */
interface Sealed {
  ids: string[];
  metadata: Array<RowMetadata | undefined>;
  tensor: tf.Tensor2D;
}

/**
 * The growing last chunk: rows in a host buffer, row-major `[rows, dim]` (appending costs only the
 * new rows), and the chunk tensor built from it at the first search after a change.
 */
interface Tail {
  ids: string[];
  metadata: Array<RowMetadata | undefined>;
  host: Float32Array;
  tensor: tf.Tensor2D | null;
}

/** `src` row-major `[rows, dim]` → a new row-major `[dim, rows]` array. */
function transpose(src: Float32Array, rows: number, dim: number): Float32Array {
  const out = new Float32Array(rows * dim);
  const B = 64;
  for (let r0 = 0; r0 < rows; r0 += B) {
    const r1 = Math.min(rows, r0 + B);
    for (let c0 = 0; c0 < dim; c0 += B) {
      const c1 = Math.min(dim, c0 + B);
      for (let r = r0; r < r1; r++) {
        for (let c = c0; c < c1; c++) out[c * rows + r] = src[r * dim + c];
      }
    }
  }
  return out;
}

/**
 * Running top-k of one query while the chunks are searched in insertion order: parallel arrays
 * sorted by score, best first, ties in insertion order (chunk ordinal, then column).
 */
interface Best {
  score: Float32Array;
  chunk: Int32Array;
  col: Int32Array;
  length: number;
}

function emptyBest(k: number): Best {
  return { score: new Float32Array(k), chunk: new Int32Array(k), col: new Int32Array(k), length: 0 };
}

/**
 * Merges one chunk's top-k (`values`/`indices` at `offset`, `n` entries, best first, ties by
 * column as `tf.topk` returns them) into `best`. The chunk comes after every row already in `best`,
 * so on equal scores the entry already there wins: the merge is stable and ties keep insertion order.
 */
function mergeInto(
  best: Best,
  spare: Best,
  values: Float32Array,
  indices: Int32Array,
  offset: number,
  n: number,
  chunk: number,
  k: number,
): Best {
  const total = Math.min(k, best.length + n);
  let a = 0;
  let b = 0;
  for (let o = 0; o < total; o++) {
    if (b >= n || (a < best.length && best.score[a] >= values[offset + b])) {
      spare.score[o] = best.score[a];
      spare.chunk[o] = best.chunk[a];
      spare.col[o] = best.col[a];
      a++;
    } else {
      spare.score[o] = values[offset + b];
      spare.chunk[o] = chunk;
      spare.col[o] = indices[offset + b];
      b++;
    }
  }
  spare.length = total;
  return spare;
}

class MemoryStore extends StoreBase implements GalleryStore {
  readonly kind = 'memory';
  private readonly chunkRows: number;
  private readonly queryBlock: number;
  private readonly layout: MemoryStoreLayout;
  private readonly sealed: Sealed[] = [];
  private tail: Tail = { ids: [], metadata: [], host: new Float32Array(0), tensor: null };
  private readonly where = new Map<string, Sealed | Tail>();

  constructor(options: MemoryStoreOptions) {
    super('memoryStore');
    this.chunkRows = checkInteger(
      'memoryStore: options.chunkRows',
      options.chunkRows ?? MEMORY_STORE_DEFAULTS.chunkRows,
      1,
    );
    const maxScore = checkInteger(
      `memoryStore: options.maxScoreElements (at least chunkRows = ${this.chunkRows})`,
      options.maxScoreElements ?? MEMORY_STORE_DEFAULTS.maxScoreElements,
      this.chunkRows,
    );
    this.queryBlock = Math.floor(maxScore / this.chunkRows);
    const layout = options.layout ?? MEMORY_STORE_DEFAULTS.layout;
    if (layout !== 'transposed' && layout !== 'rows') {
      throw new Error(`memoryStore: options.layout: expected 'transposed' or 'rows', got ${JSON.stringify(layout)}`);
    }
    this.layout = layout;
  }

  /** A chunk tensor in the store's layout from `n` row-major rows. */
  private chunkTensor(host: Float32Array, n: number): tf.Tensor2D {
    const dim = this.width as number;
    return this.layout === 'transposed'
      ? tf.tensor2d(transpose(host, n, dim), [dim, n])
      : tf.tensor2d(host.slice(0, n * dim), [n, dim]);
  }

  /** `[q, rows]` scores of a query block against one chunk (`block` is `[q, dim]` or `[dim, q]`). */
  private scores(block: tf.Tensor2D, chunk: tf.Tensor2D): tf.Tensor2D {
    if (this.layout === 'transposed') return tf.matMul(block, chunk);
    const byRow = tf.matMul(chunk, block);
    return byRow.shape[1] === 1 ? tf.reshape(byRow, [1, byRow.shape[0]]) : (tf.transpose(byRow, [1, 0]) as tf.Tensor2D);
  }

  protected size(): number {
    return this.where.size;
  }

  protected holds(id: string): boolean {
    return this.where.has(id);
  }

  protected async addChecked(
    checked: CheckedAdd,
    features: Float32Array,
    metadata: ReadonlyArray<RowMetadata | undefined> | undefined,
  ): Promise<void> {
    this.version++;
    let from = 0;
    while (from < checked.ids.length) {
      const take = Math.min(checked.ids.length - from, this.chunkRows - this.tail.ids.length);
      this.appendToTail(checked.ids, features, metadata, from, take);
      from += take;
      if (this.tail.ids.length === this.chunkRows) this.seal();
    }
  }

  private appendToTail(
    ids: readonly string[],
    features: Float32Array,
    metadata: ReadonlyArray<RowMetadata | undefined> | undefined,
    from: number,
    take: number,
  ): void {
    const dim = this.width as number;
    const tail = this.tail;
    const rows = tail.ids.length;
    const needed = (rows + take) * dim;
    if (tail.host.length < needed) {
      const grown = new Float32Array(Math.min(this.chunkRows * dim, Math.max(needed, 2 * tail.host.length)));
      grown.set(tail.host.subarray(0, rows * dim));
      tail.host = grown;
    }
    tail.host.set(features.subarray(from * dim, (from + take) * dim), rows * dim);
    for (let i = from; i < from + take; i++) {
      tail.ids.push(ids[i]);
      tail.metadata.push(copyMetadata(metadata?.[i]));
      this.where.set(ids[i], tail);
    }
    tail.tensor?.dispose();
    tail.tensor = null;
  }

  /** Moves the full tail to the backend as a sealed chunk and starts an empty tail. */
  private seal(): void {
    const tail = this.tail;
    const n = tail.ids.length;
    tail.tensor?.dispose();
    const chunk: Sealed = {
      ids: tail.ids,
      metadata: tail.metadata,
      tensor: this.chunkTensor(tail.host, n),
    };
    for (const id of chunk.ids) this.where.set(id, chunk);
    this.sealed.push(chunk);
    this.tail = { ids: [], metadata: [], host: new Float32Array(0), tensor: null };
  }

  /** The chunks in insertion order, the tail's tensor built if needed. */
  private searchable(): Array<{ ids: string[]; metadata: Array<RowMetadata | undefined>; tensor: tf.Tensor2D }> {
    const out: Array<{ ids: string[]; metadata: Array<RowMetadata | undefined>; tensor: tf.Tensor2D }> = [
      ...this.sealed,
    ];
    const tail = this.tail;
    if (tail.ids.length > 0) {
      tail.tensor ??= this.chunkTensor(tail.host, tail.ids.length);
      out.push({ ids: tail.ids, metadata: tail.metadata, tensor: tail.tensor });
    }
    return out;
  }

  remove(ids: readonly string[]): Promise<number> {
    return this.queue.run(async () => {
      this.open('remove');
      if (!Array.isArray(ids)) throw new Error('memoryStore.remove: ids: expected an array of strings');
      const byChunk = new Map<Sealed | Tail, Set<string>>();
      for (const id of ids) {
        const chunk = this.where.get(id);
        if (chunk === undefined) continue;
        let set = byChunk.get(chunk);
        if (set === undefined) {
          set = new Set();
          byChunk.set(chunk, set);
        }
        set.add(id);
      }
      let removed = 0;
      for (const [chunk, gone] of byChunk) {
        removed += gone.size;
        for (const id of gone) this.where.delete(id);
        if (chunk === this.tail) this.compactTail(gone);
        else this.compactSealed(chunk as Sealed, gone);
      }
      if (removed > 0) this.version++;
      return removed;
    });
  }

  private compactTail(gone: Set<string>): void {
    const dim = this.width as number;
    const tail = this.tail;
    let w = 0;
    for (let r = 0; r < tail.ids.length; r++) {
      if (gone.has(tail.ids[r])) continue;
      if (w !== r) {
        tail.host.copyWithin(w * dim, r * dim, (r + 1) * dim);
        tail.ids[w] = tail.ids[r];
        tail.metadata[w] = tail.metadata[r];
      }
      w++;
    }
    tail.ids.length = w;
    tail.metadata.length = w;
    tail.tensor?.dispose();
    tail.tensor = null;
  }

  private compactSealed(chunk: Sealed, gone: Set<string>): void {
    const keep: number[] = [];
    chunk.ids.forEach((id, c) => {
      if (!gone.has(id)) keep.push(c);
    });
    const old = chunk.tensor;
    if (keep.length === 0) {
      this.sealed.splice(this.sealed.indexOf(chunk), 1);
    } else {
      const axis = this.layout === 'transposed' ? 1 : 0;
      chunk.tensor = tf.tidy(() => tf.gather(old, tf.tensor1d(keep, 'int32'), axis) as tf.Tensor2D);
      chunk.ids = keep.map((c) => chunk.ids[c]);
      chunk.metadata = keep.map((c) => chunk.metadata[c]);
    }
    old.dispose();
  }

  search(queries: Float32Array, numQueries: number, options: StoreSearchOptions): Promise<SearchHit[][]> {
    return this.queue.run(async () => {
      this.open('search');
      const k = checkSearchInput('memoryStore.search', queries, numQueries, options, this.width, this.where.size);
      const dim = this.width as number;
      const chunks = this.searchable();
      const hits: SearchHit[][] = [];
      for (let q0 = 0; q0 < numQueries; q0 += this.queryBlock) {
        const qb = Math.min(this.queryBlock, numQueries - q0);
        const best = Array.from({ length: qb }, () => emptyBest(Math.min(k, this.where.size)));
        const spare = Array.from({ length: qb }, () => emptyBest(Math.min(k, this.where.size)));
        const rows = queries.subarray(q0 * dim, (q0 + qb) * dim);
        const block =
          this.layout === 'transposed'
            ? tf.tensor2d(rows, [qb, dim])
            : tf.tensor2d(transpose(rows, qb, dim), [dim, qb]);
        try {
          for (let c = 0; c < chunks.length; c++) {
            const kk = Math.min(k, chunks[c].ids.length);
            const top = tf.tidy(() => tf.topk(this.scores(block, chunks[c].tensor), kk, true));
            let values: Float32Array;
            let indices: Int32Array;
            try {
              values = (await top.values.data()) as Float32Array;
              indices = (await top.indices.data()) as Int32Array;
            } finally {
              tf.dispose([top.values, top.indices]);
            }
            for (let q = 0; q < qb; q++) {
              const merged = mergeInto(best[q], spare[q], values, indices, q * kk, kk, c, k);
              spare[q] = best[q];
              best[q] = merged;
            }
          }
        } finally {
          block.dispose();
        }
        for (const b of best) {
          const list: SearchHit[] = [];
          for (let i = 0; i < b.length; i++) {
            const chunk = chunks[b.chunk[i]];
            const hit: SearchHit = { id: chunk.ids[b.col[i]], score: b.score[i], rank: i + 1 };
            const m = chunk.metadata[b.col[i]];
            if (m !== undefined) hit.metadata = copyMetadata(m);
            list.push(hit);
          }
          hits.push(list);
        }
      }
      return hits;
    });
  }

  async *rows(blockSize = 4096): AsyncIterable<StoredRows> {
    this.open('rows');
    checkInteger('memoryStore.rows: blockSize', blockSize, 1);
    const unchanged = this.unchangedCheck();
    const dim = this.width ?? 0;
    let index = 0;
    for (;;) {
      const block = await this.queue.run(async () => {
        unchanged();
        const all = [...this.sealed, ...(this.tail.ids.length > 0 ? [this.tail] : [])];
        if (index >= all.length) return null;
        const chunk = all[index];
        const n = chunk.ids.length;
        let host: Float32Array;
        if (chunk === this.tail) host = this.tail.host.slice(0, n * dim);
        else {
          const data = (await (chunk as Sealed).tensor.data()) as Float32Array;
          host = this.layout === 'transposed' ? transpose(data, dim, n) : data;
        }
        return { ids: chunk.ids.slice(), metadata: chunk.metadata.map(copyMetadata), host };
      });
      if (block === null) return;
      index++;
      for (let r0 = 0; r0 < block.ids.length; r0 += blockSize) {
        const r1 = Math.min(block.ids.length, r0 + blockSize);
        unchanged();
        yield {
          ids: block.ids.slice(r0, r1),
          features: block.host.slice(r0 * dim, r1 * dim),
          metadata: block.metadata.slice(r0, r1),
        };
      }
    }
  }

  close(): Promise<void> {
    return this.queue.run(async () => {
      if (this.closed) return;
      this.closed = true;
      for (const chunk of this.sealed) chunk.tensor.dispose();
      this.tail.tensor?.dispose();
      this.sealed.length = 0;
      this.tail = { ids: [], metadata: [], host: new Float32Array(0), tensor: null };
      this.where.clear();
    });
  }
}

/**
 * The default {@link GalleryStore} (kind `'memory'`): exact search by dot product (the cosine, as
 * features arrive L2-normalised), on the active tfjs backend.
 *
 * Layout: rows live on the backend as chunk tensors of `chunkRows` rows. By default they are
 * stored transposed (`[dim, rows]`) so that scoring is a plain `tf.matMul(queries[q, dim],
 * chunk[dim, rows])` (on tfjs-wasm a `transposeB` matMul is ~10× slower); XNNPACK then keeps a
 * packed copy of each chunk, so on wasm a searched gallery costs twice its size: up to ~900k × 512
 * rows fit the 4 GiB wasm heap. `layout: 'rows'` (`[rows, dim]`, `matMul(chunk, queriesᵀ)`) costs
 * its size only (1M × 512 = 2 GiB fits) and searches ~1.5–2.5× slower. The last, growing chunk is a
 * host buffer that becomes a tensor at the next search. No host copy of sealed chunks is kept:
 * `rows()` reads them back, one chunk at a time.
 *
 * Search: per block of `floor(maxScoreElements / chunkRows)` queries and per chunk, one matMul and
 * `tf.topk(scores, min(k, rows))`; the chunks' top-k lists are merged on the host, stably, so a tie
 * goes to the row added first. The largest score matrix is `maxScoreElements` floats whatever the
 * gallery size (two of them, the product and its transpose, with `layout: 'rows'`). `remove`
 * compacts the chunks it touches (a `tf.gather` of the kept rows). Operations run one at a time, in
 * call order.
 *
 * Tensors: the store owns one tensor per sealed chunk, plus one for the tail after a search (until
 * the next change); nothing else outlives a call, and `close()` frees them all.
 *
 * @param options chunk size, score-matrix bound and layout; see {@link MEMORY_STORE_DEFAULTS}.
 * @returns an empty store; its width is set by the first `add`.
 * @throws Error when an option is out of range (`maxScoreElements < chunkRows`, an unknown layout).
 * @example
 * const store = memoryStore();
 * await store.add(['a.jpg', 'b.jpg'], new Float32Array([1, 0, 0, 1]));
 * const [hits] = await store.search(new Float32Array([0.6, 0.8]), 1, { k: 1 }); // [{ id: 'b.jpg', score: 0.8, rank: 1 }]
 * await store.close();
 */
export function memoryStore(options: MemoryStoreOptions = {}): GalleryStore {
  return new MemoryStore(options);
}
