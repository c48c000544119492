import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { seededRng } from '../src/data/random';
import { RandomIdentitySampler, RandomSampler } from '../src/data/samplers';

/** pids of a dataset with the given number of pairs per identity, identities 0, 1, 2, ... */
function pidsWithCounts(counts: number[]): number[] {
  return counts.flatMap((n, pid) => Array.from({ length: n }, () => pid));
}

describe('RandomIdentitySampler', () => {
  it('computes the reference epoch length Σ max(n, K) − max(n, K) mod K', () => {
    // counts 1, 4, 5, 9, 2 with K = 4 → 4 + 4 + 4 + 8 + 4 = 24
    const s = new RandomIdentitySampler(pidsWithCounts([1, 4, 5, 9, 2]), 8, 4);
    expect(s.length).toBe(24);
    expect(s.numPidsPerBatch).toBe(2);
    expect(s.numBatches).toBe(3);
    const big = new RandomIdentitySampler(pidsWithCounts([3, 7, 12, 1]), 64, 4);
    expect(big.length).toBe(4 + 4 + 12 + 4);
  });

  it('yields batches of N distinct identities × K pairs each, indices of the right identity', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 2, maxLength: 30 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 2 ** 31 }),
        (counts, N, K, seed) => {
          const pids = pidsWithCounts(counts);
          const s = new RandomIdentitySampler(pids, N * K, K);
          const batches = s.batches(seededRng(seed));
          let total = 0;
          for (const b of batches) {
            expect(b.length).toBe(N * K);
            const per = new Map<number, number>();
            for (const i of b) per.set(pids[i], (per.get(pids[i]) ?? 0) + 1);
            expect(per.size).toBe(N);
            for (const n of per.values()) expect(n).toBe(K);
            // K consecutive entries per identity, as the reference extends by whole groups
            for (let g = 0; g < N; g++) expect(new Set(b.slice(g * K, g * K + K).map((i) => pids[i])).size).toBe(1);
            total += b.length;
          }
          expect(total).toBeLessThanOrEqual(s.length);
          // every identity with at least one group stays available until fewer than N remain
          const groups = counts.map((n) => Math.floor(Math.max(n, K) / K));
          expect(total).toBeGreaterThanOrEqual(
            groups.reduce((a, g) => a + g, 0) * K - (N - 1) * Math.max(...groups) * K,
          );
        },
      ),
      { numRuns: 100 },
    );
  });

  it('uses each pair at most once for identities with ≥ K pairs, and resamples the small ones', () => {
    const pids = pidsWithCounts([2, 8, 8, 8]);
    const s = new RandomIdentitySampler(pids, 8, 4);
    const idx = s.indices(seededRng(5));
    const fromBig = idx.filter((i) => pids[i] !== 0);
    expect(new Set(fromBig).size).toBe(fromBig.length);
    const fromSmall = idx.filter((i) => pids[i] === 0);
    expect(fromSmall.length === 0 || fromSmall.length === 4).toBe(true);
    for (const i of fromSmall) expect([0, 1]).toContain(i);
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const pids = pidsWithCounts(Array.from({ length: 20 }, (_, i) => 2 + (i % 5)));
    const s = new RandomIdentitySampler(pids, 16, 4);
    expect(s.batches(seededRng(1))).toEqual(s.batches(seededRng(1)));
    expect(s.batches(seededRng(1))).not.toEqual(s.batches(seededRng(2)));
  });

  it('rejects bad arguments', () => {
    expect(() => new RandomIdentitySampler([0, 1], 4, 0)).toThrow(
      'RandomIdentitySampler: numInstances: expected a positive integer, got 0',
    );
    expect(() => new RandomIdentitySampler([0, 1], 2, 4)).toThrow(
      'numInstances must be ≤ batchSize, got numInstances 4 > batchSize 2',
    );
    expect(() => new RandomIdentitySampler([], 8, 4)).toThrow('pids must be non-empty');
    expect(() => new RandomIdentitySampler([0, 0.5], 8, 4)).toThrow(
      'RandomIdentitySampler: pids[1] must be an integer, got 0.5',
    );
  });
});

describe('RandomSampler', () => {
  it('is a seeded permutation cut into batches, the last one smaller (drop_last=False)', () => {
    const s = new RandomSampler(10, 4);
    expect(s.numBatches).toBe(3);
    const b = s.batches(seededRng(9));
    expect(b.map((x) => x.length)).toEqual([4, 4, 2]);
    expect(b.flat().sort((x, y) => x - y)).toEqual(Array.from({ length: 10 }, (_, i) => i));
    expect(s.batches(seededRng(9))).toEqual(b);
    expect(s.batches(seededRng(10))).not.toEqual(b);
    const d = new RandomSampler(10, 4, true);
    expect(d.numBatches).toBe(2);
    expect(d.batches(seededRng(9)).map((x) => x.length)).toEqual([4, 4]);
  });

  it('rejects bad sizes', () => {
    expect(() => new RandomSampler(0, 4)).toThrow('RandomSampler: size: expected a positive integer, got 0');
    expect(() => new RandomSampler(4, 1.5)).toThrow('RandomSampler: batchSize: expected a positive integer, got 1.5');
  });
});
