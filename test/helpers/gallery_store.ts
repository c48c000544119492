/**
 * Contract tests shared by the gallery stores (memoryStore, lanceStore): a brute-force host
 * reference, galleries whose dot products are exact in float32 (so ties are real ties on every
 * backend and in every summation order), and the behaviour every store must show.
 */
import fc from 'fast-check';
import { expect, it } from 'vitest';
import type { GalleryStore, RowMetadata, SearchHit } from '../../src/search/types';
import { type RefRow, stack } from './synthetic_rows';

export { normalisedRows, type RefRow, stack } from './synthetic_rows';

/**
 * The `k` best rows per query by dot product, computed in float64 on the host: best first, ties in
 * the order of `rows` (insertion order). Scores of grid galleries are exact in float32 too.
 */
export function bruteForce(
  rows: readonly RefRow[],
  queries: Float32Array,
  numQueries: number,
  k: number,
): SearchHit[][] {
  const dim = queries.length / numQueries;
  const out: SearchHit[][] = [];
  for (let q = 0; q < numQueries; q++) {
    const scored = rows.map((r, order) => {
      let s = 0;
      for (let c = 0; c < dim; c++) s += queries[q * dim + c] * r.features[c];
      return { id: r.id, score: s, order };
    });
    scored.sort((a, b) => b.score - a.score || a.order - b.order);
    out.push(scored.slice(0, k).map((h, i) => ({ id: h.id, score: h.score, rank: i + 1 })));
  }
  return out;
}

/**
 * Grid values: multiples of 1/4 in [-1, 1]. With dim ≤ 16 every dot product is a multiple of 1/16
 * below 16 in magnitude: exact in float32 whatever the summation order, so ties are exact ties.
 */
export const gridValue = fc.integer({ min: -4, max: 4 }).map((v) => v / 4);

/** Strips `metadata` from hits (for comparison with {@link bruteForce}). */
export function plain(hits: SearchHit[][]): Array<Array<{ id: string; score: number; rank: number }>> {
  return hits.map((list) => list.map(({ id, score, rank }) => ({ id, score, rank })));
}

/** A random gallery scenario: rows added in batches, some removed, queries and k. */
export interface Scenario {
  dim: number;
  rows: RefRow[];
  batches: number[];
  removed: string[];
  queries: Float32Array;
  numQueries: number;
  k: number;
}

/** fast-check arbitrary of {@link Scenario}s on grid galleries (1–`maxRows` rows, dim 1–12). */
export function scenarioArb(maxRows: number): fc.Arbitrary<Scenario> {
  return fc
    .record({ dim: fc.integer({ min: 1, max: 12 }), n: fc.integer({ min: 1, max: maxRows }) })
    .chain(({ dim, n }) =>
      fc.record({
        dim: fc.constant(dim),
        values: fc.array(gridValue, { minLength: n * dim, maxLength: n * dim }),
        cuts: fc.array(fc.integer({ min: 1, max: n }), { maxLength: 4 }),
        removedMask: fc.array(fc.boolean(), { minLength: n, maxLength: n }),
        numQueries: fc.integer({ min: 1, max: 5 }),
        qvalues: fc.array(gridValue, { minLength: 5 * dim, maxLength: 5 * dim }),
        extraK: fc.integer({ min: 0, max: n + 3 }),
        removeSome: fc.boolean(),
      }),
    )
    .map((s) => {
      const n = s.values.length / s.dim;
      const rows: RefRow[] = Array.from({ length: n }, (_, i) => ({
        id: `row-${i}`,
        features: Float32Array.from(s.values.slice(i * s.dim, (i + 1) * s.dim)),
      }));
      const points = [...new Set(s.cuts)].filter((c) => c < n).sort((a, b) => a - b);
      const batches = [...points, n].map((c, i, all) => c - (i === 0 ? 0 : all[i - 1]));
      let removed = s.removeSome ? rows.filter((_, i) => s.removedMask[i]).map((r) => r.id) : [];
      if (removed.length === n) removed = removed.slice(1);
      const left = n - removed.length;
      return {
        dim: s.dim,
        rows,
        batches,
        removed,
        queries: Float32Array.from(s.qvalues.slice(0, s.numQueries * s.dim)),
        numQueries: s.numQueries,
        k: 1 + (s.extraK % (left + 3)),
      };
    });
}

/** Plays a scenario on `store`: adds the batches, removes, searches; returns hits and reference. */
export async function playScenario(
  store: GalleryStore,
  s: Scenario,
): Promise<{ got: SearchHit[][]; want: SearchHit[][] }> {
  let at = 0;
  for (const size of s.batches) {
    const part = s.rows.slice(at, at + size);
    await store.add(
      part.map((r) => r.id),
      stack(part),
    );
    at += size;
  }
  expect(await store.remove(s.removed)).toBe(s.removed.length);
  const gone = new Set(s.removed);
  const left = s.rows.filter((r) => !gone.has(r.id));
  expect(await store.count()).toBe(left.length);
  const got = await store.search(s.queries, s.numQueries, { k: s.k });
  return { got, want: bruteForce(left, s.queries, s.numQueries, s.k) };
}

/** Plays scenario `s` on `store`, expects brute force's hits, and closes the store. */
export async function expectScenarioMatches(store: GalleryStore, s: Scenario): Promise<void> {
  try {
    const { got, want } = await playScenario(store, s);
    expect(plain(got)).toEqual(want);
  } finally {
    await store.close();
  }
}

/** Reads every row of a store through `rows()`. */
export async function readAll(store: GalleryStore, blockSize?: number): Promise<RefRow[]> {
  const out: RefRow[] = [];
  for await (const block of store.rows(blockSize)) {
    const dim = block.ids.length === 0 ? 0 : block.features.length / block.ids.length;
    block.ids.forEach((id, i) => {
      const row: RefRow = { id, features: block.features.slice(i * dim, (i + 1) * dim) };
      const m = block.metadata?.[i];
      if (m !== undefined) row.metadata = m;
      out.push(row);
    });
  }
  return out;
}

/**
 * Registers the behaviour tests every store must pass. `make` returns a fresh, empty store (the
 * test closes it).
 */
export function storeContractTests(make: () => Promise<GalleryStore>): void {
  const three: RefRow[] = [
    { id: 'a', features: Float32Array.of(1, 0), metadata: { camera: 1, name: 'front', ok: true } },
    { id: 'b', features: Float32Array.of(0, 1) },
    { id: 'c', features: Float32Array.of(0.6, 0.8), metadata: { camera: 2, name: 'side "quoted"', ok: false } },
  ];
  const addThree = async (store: GalleryStore) =>
    store.add(
      three.map((r) => r.id),
      stack(three),
      three.map((r) => r.metadata),
    );

  it('reports its width and size, has(), metadata round trip', async () => {
    const store = await make();
    try {
      expect(await store.dim()).toBeNull();
      expect(await store.count()).toBe(0);
      await addThree(store);
      expect(await store.dim()).toBe(2);
      expect(await store.count()).toBe(3);
      expect(await store.has(['c', 'x', 'a'])).toEqual([true, false, true]);
      const [hits] = await store.search(Float32Array.of(1, 0), 1, { k: 3 });
      expect(hits.map((h) => h.id)).toEqual(['a', 'c', 'b']);
      expect(hits[0].metadata).toEqual(three[0].metadata);
      expect(hits[1].metadata).toEqual(three[2].metadata);
      expect(hits[2].metadata).toBeUndefined();
      expect(hits.map((h) => h.rank)).toEqual([1, 2, 3]);
      expect(hits[1].score).toBeCloseTo(0.6, 6);
      const rows = await readAll(store, 2);
      expect(rows.map((r) => r.id)).toEqual(['a', 'b', 'c']);
      expect(rows.map((r) => Array.from(r.features))).toEqual(three.map((r) => Array.from(r.features)));
      expect(rows.map((r) => r.metadata)).toEqual(three.map((r) => r.metadata));
    } finally {
      await store.close();
    }
  });

  it('rejects duplicate ids, within the call and against stored rows, adding nothing', async () => {
    const store = await make();
    try {
      await expect(store.add(['x', 'y', 'x'], new Float32Array(6))).rejects.toThrow(/ids: "x" appears more than once/);
      expect(await store.count()).toBe(0);
      await addThree(store);
      await expect(store.add(['new', 'b'], new Float32Array(4))).rejects.toThrow(
        /"b" already stored \(nothing was added/,
      );
      await expect(store.add(['n1', 'a', 'c'], new Float32Array(6))).rejects.toThrow(/"a" and 1 more already stored/);
      expect(await store.count()).toBe(3);
      expect(await store.has(['new', 'n1'])).toEqual([false, false]);
    } finally {
      await store.close();
    }
  });

  it('checks widths, lengths, values and metadata, naming the argument', async () => {
    const store = await make();
    try {
      await expect(store.add(['a'], [1, 2] as unknown as Float32Array)).rejects.toThrow(
        /features: expected a Float32Array/,
      );
      await expect(store.add(['a', 'b'], new Float32Array(3))).rejects.toThrow(
        /features: expected a length that is a positive multiple of ids.length \(2\), got 3/,
      );
      await expect(store.add([''], new Float32Array(2))).rejects.toThrow(/ids\[0\]: expected a non-empty string/);
      await expect(store.add(['a'], Float32Array.of(1, Number.NaN))).rejects.toThrow(
        /row 0 \(id "a"\) holds NaN at column 1/,
      );
      await expect(store.add(['a'], new Float32Array(2), [])).rejects.toThrow(
        /metadata: expected an array of 1 entries/,
      );
      await expect(store.add(['a'], new Float32Array(2), [{ x: [1] } as unknown as RowMetadata])).rejects.toThrow(
        /metadata\[0\].x: expected a string, a finite number or a boolean/,
      );
      expect(await store.count()).toBe(0);
      await addThree(store);
      await expect(store.add(['d'], new Float32Array(3))).rejects.toThrow(
        /expected 1 × 2 = 2 values \(the stored rows' width is 2\), got 3 \(width 3\)/,
      );
      await expect(store.search(new Float32Array(3), 1, { k: 1 })).rejects.toThrow(
        /queries: expected 1 × 2 = 2 values \(the stored rows' width is 2\), got 3/,
      );
      await expect(store.search(new Float32Array(2), 1, { k: 0 })).rejects.toThrow(
        /options.k: expected an integer ≥ 1, got number 0/,
      );
      await expect(store.search(new Float32Array(2), 0, { k: 1 })).rejects.toThrow(
        /numQueries: expected an integer ≥ 1/,
      );
      expect(await store.count()).toBe(3);
    } finally {
      await store.close();
    }
  });

  it('removes rows (unknown ids ignored), keeps insertion order, and searches what is left', async () => {
    const store = await make();
    try {
      await addThree(store);
      expect(await store.remove(['b', 'nope', 'b'])).toBe(1);
      expect(await store.count()).toBe(2);
      expect(await store.has(['a', 'b', 'c'])).toEqual([true, false, true]);
      const [hits] = await store.search(Float32Array.of(0, 1), 1, { k: 5 });
      expect(hits.map((h) => h.id)).toEqual(['c', 'a']);
      await store.add(['b'], Float32Array.of(0, 1));
      expect((await readAll(store)).map((r) => r.id)).toEqual(['a', 'c', 'b']);
      expect(await store.remove(['a', 'b', 'c'])).toBe(3);
      await expect(store.search(Float32Array.of(0, 1), 1, { k: 1 })).rejects.toThrow(/the store is empty/);
    } finally {
      await store.close();
    }
  });

  it('returns the whole gallery when k exceeds it; an empty store is a clear error', async () => {
    const store = await make();
    try {
      await expect(store.search(Float32Array.of(1, 0), 1, { k: 1 })).rejects.toThrow(
        /the store is empty: add rows before searching/,
      );
      await addThree(store);
      const hits = await store.search(Float32Array.of(0, 1, 1, 0), 2, { k: 100 });
      expect(hits.map((l) => l.map((h) => h.id))).toEqual([
        ['b', 'c', 'a'],
        ['a', 'c', 'b'],
      ]);
    } finally {
      await store.close();
    }
  });

  it('keeps ties in insertion order, also across the k boundary', async () => {
    const store = await make();
    try {
      const ids = Array.from({ length: 40 }, (_, i) => `t${i}`);
      const f = new Float32Array(80);
      for (let i = 0; i < 40; i++) f[2 * i] = i % 3 === 0 ? 0.5 : 0.25;
      await store.add(ids, f);
      const [hits] = await store.search(Float32Array.of(1, 0), 1, { k: 5 });
      expect(hits.map((h) => h.id)).toEqual(['t0', 't3', 't6', 't9', 't12']);
      const [all] = await store.search(Float32Array.of(1, 0), 1, { k: 16 });
      expect(all.map((h) => h.id)).toEqual([...ids.filter((_, i) => i % 3 === 0), 't1', 't2']);
    } finally {
      await store.close();
    }
  });

  it('is unusable after close()', async () => {
    const store = await make();
    await addThree(store);
    await store.close();
    await expect(store.count()).rejects.toThrow(/closed/);
    await expect(store.search(Float32Array.of(1, 0), 1, { k: 1 })).rejects.toThrow(/closed/);
  });
}
