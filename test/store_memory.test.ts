import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MEMORY_STORE_DEFAULTS, memoryStore } from '../src/search/stores/memory';
import {
  bruteForce,
  expectScenarioMatches,
  normalisedRows,
  readAll,
  scenarioArb,
  stack,
  storeContractTests,
} from './helpers/gallery_store';

describe.each(['transposed', 'rows'] as const)(`memoryStore on ${tf.getBackend()}, layout %s`, (layout) => {
  storeContractTests(async () => memoryStore({ chunkRows: 2, maxScoreElements: 4, layout }));

  it('equals a brute-force host search on random galleries, chunk sizes, k and ties (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        scenarioArb(40),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 4 }),
        async (s, chunkRows, blocks) => {
          await expectScenarioMatches(memoryStore({ chunkRows, maxScoreElements: chunkRows * blocks, layout }), s);
        },
      ),
      { numRuns: 80, seed: 12 },
    );
  });

  it('matches brute force on normalised float features (scores within 1e-6, ranks consistent)', async () => {
    const rows = normalisedRows(500, 64, 3);
    const queries = stack(normalisedRows(7, 64, 4, 'q'));
    const store = memoryStore({ chunkRows: 37, maxScoreElements: 37 * 3, layout });
    try {
      await store.add(
        rows.map((r) => r.id),
        stack(rows),
      );
      const got = await store.search(queries, 7, { k: 20 });
      const want = bruteForce(rows, queries, 7, 20);
      const byId = new Map(rows.map((r, i) => [r.id, i]));
      for (let q = 0; q < 7; q++) {
        for (let i = 0; i < 20; i++) {
          expect(Math.abs(got[q][i].score - want[q][i].score)).toBeLessThan(1e-6);
          const row = rows[byId.get(got[q][i].id) as number];
          let s = 0;
          for (let c = 0; c < 64; c++) s += row.features[c] * queries[q * 64 + c];
          expect(Math.abs(got[q][i].score - s)).toBeLessThan(1e-6);
        }
      }
    } finally {
      await store.close();
    }
  });

  it('holds one tensor per chunk (plus the tail after a search) and frees them all on close', async () => {
    const start = tf.memory().numTensors;
    const store = memoryStore({ chunkRows: 10, maxScoreElements: 20, layout });
    const rows = normalisedRows(45, 8, 5);
    await store.add(
      rows.slice(0, 25).map((r) => r.id),
      stack(rows.slice(0, 25)),
    );
    expect(tf.memory().numTensors - start).toBe(2);
    await store.search(stack(rows.slice(0, 5)), 5, { k: 3 });
    expect(tf.memory().numTensors - start).toBe(3);
    await store.search(stack(rows.slice(0, 5)), 5, { k: 30 });
    expect(tf.memory().numTensors - start).toBe(3);
    await store.add(
      rows.slice(25).map((r) => r.id),
      stack(rows.slice(25)),
    );
    expect(tf.memory().numTensors - start).toBe(4);
    expect(await store.remove(rows.slice(0, 10).map((r) => r.id))).toBe(10);
    expect(tf.memory().numTensors - start).toBe(3);
    expect(await store.remove(['r12', 'r44'])).toBe(2);
    expect(tf.memory().numTensors - start).toBe(3);
    await store.search(stack(rows.slice(0, 2)), 2, { k: 1 });
    expect(tf.memory().numTensors - start).toBe(4);
    for await (const _ of store.rows(7)) expect(tf.memory().numTensors - start).toBe(4);
    await expect(store.search(new Float32Array(3), 1, { k: 1 })).rejects.toThrow(/queries/);
    expect(tf.memory().numTensors - start).toBe(4);
    await store.close();
    expect(tf.memory().numTensors).toBe(start);
  });

  it('never materialises more than maxScoreElements scores, whatever the gallery and query count', async () => {
    const dim = 16;
    const n = 3000;
    const q = 40;
    const chunkRows = 256;
    const maxScoreElements = 1024;
    const store = memoryStore({ chunkRows, maxScoreElements, layout });
    try {
      const rows = normalisedRows(n, dim, 9);
      await store.add(
        rows.map((r) => r.id),
        stack(rows),
      );
      const queries = stack(normalisedRows(q, dim, 10, 'q'));
      await store.search(queries, q, { k: 5 });
      const profile = await tf.profile(async () => {
        await store.search(queries, q, { k: 5 });
      });
      const before = tf.memory().numBytes;
      const peakFloats = (profile.peakBytes - before) / 4;
      // The query block (4 × 16), its scores (≤ 1024; twice with the transpose of layout 'rows')
      // and topk's values and indices (≤ 2 × 4 × 5).
      const scoreCopies = layout === 'rows' ? 2 : 1;
      expect(peakFloats).toBeLessThanOrEqual(scoreCopies * maxScoreElements + 4 * dim + 2 * 4 * 5);
      expect(peakFloats).toBeGreaterThan(0);
      expect(q * n).toBeGreaterThan(100 * maxScoreElements);
    } finally {
      await store.close();
    }
  });

  it('reads rows back in insertion order across chunks, removals and block sizes', async () => {
    const store = memoryStore({ chunkRows: 4, maxScoreElements: 4, layout });
    try {
      const rows = normalisedRows(15, 3, 11).map((r, i) => (i % 4 === 0 ? { ...r, metadata: { i } } : r));
      for (const [a, b] of [
        [0, 3],
        [3, 11],
        [11, 15],
      ]) {
        await store.add(
          rows.slice(a, b).map((r) => r.id),
          stack(rows.slice(a, b)),
          rows.slice(a, b).map((r) => r.metadata),
        );
      }
      await store.remove(['r1', 'r4', 'r5', 'r6', 'r7', 'r14']);
      const gone = new Set(['r1', 'r4', 'r5', 'r6', 'r7', 'r14']);
      const left = rows.filter((r) => !gone.has(r.id));
      for (const block of [1, 2, 5, 100]) {
        const got = await readAll(store, block);
        expect(got.map((r) => r.id)).toEqual(left.map((r) => r.id));
        expect(got.map((r) => Array.from(r.features))).toEqual(left.map((r) => Array.from(r.features)));
        expect(got.map((r) => r.metadata)).toEqual(left.map((r) => r.metadata));
      }
      const iter = store.rows(1)[Symbol.asyncIterator]();
      await iter.next();
      await store.add(['late'], new Float32Array(3));
      await expect(iter.next()).rejects.toThrow(/changed \(add\/remove\) while its rows were being read/);
    } finally {
      await store.close();
    }
  });

  it('runs concurrent calls in call order', async () => {
    const store = memoryStore({ chunkRows: 3, maxScoreElements: 3, layout });
    try {
      const rows = normalisedRows(10, 4, 13);
      const adding = store.add(
        rows.map((r) => r.id),
        stack(rows),
      );
      const searching = store.search(rows[2].features, 1, { k: 1 });
      const removing = store.remove(['r2']);
      const after = store.search(rows[2].features, 1, { k: 10 });
      await adding;
      expect((await searching)[0][0].id).toBe('r2');
      expect(await removing).toBe(1);
      expect((await after)[0].map((h) => h.id)).not.toContain('r2');
    } finally {
      await store.close();
    }
  });

  it('validates its options', () => {
    expect(() => memoryStore({ chunkRows: 0 })).toThrow(
      /memoryStore: options.chunkRows: expected an integer ≥ 1, got number 0/,
    );
    expect(() => memoryStore({ chunkRows: 1.5 })).toThrow(/options.chunkRows/);
    expect(() => memoryStore({ chunkRows: 100, maxScoreElements: 50 })).toThrow(
      /options.maxScoreElements \(at least chunkRows = 100\): expected an integer ≥ 100, got number 50/,
    );
    expect(() => memoryStore({ layout: 'columns' as 'rows' })).toThrow(
      /options.layout: expected 'transposed' or 'rows', got "columns"/,
    );
    expect(MEMORY_STORE_DEFAULTS.maxScoreElements).toBeGreaterThanOrEqual(MEMORY_STORE_DEFAULTS.chunkRows);
  });
});
