import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RANK_DEFAULTS, type RankResult, rank, rankAsync } from '../src/eval/rank';
import { expectNoLeak } from './helpers/compare';
import { fixtureJson, fixtureRaw } from './helpers/fixtures';
import { expectRankFixture, type MetricsFixture } from './helpers/metrics';

/**
 * A direct transcription of the reference's definitions, for cross-checking on random inputs:
 * full argsort per row (descending, ties by ascending index), the match matrix, then CMC, AP, INP.
 */
function naiveRank(sim: number[][], qPids: number[], gPids: number[], maxRank: number): RankResult {
  const q = sim.length;
  const g = gPids.length;
  const cmc = new Array<number>(g).fill(0);
  let sumAP = 0;
  let sumINP = 0;
  for (let i = 0; i < q; i++) {
    const order = [...Array(g).keys()].sort((a, b) => sim[i][b] - sim[i][a] || a - b);
    const matches = order.map((j) => (gPids[j] === qPids[i] ? 1 : 0));
    const first = matches.indexOf(1);
    for (let k = first; k < g; k++) cmc[k] += 1;
    let hits = 0;
    let ap = 0;
    let last = -1;
    matches.forEach((mk, k) => {
      if (mk) {
        hits++;
        ap += hits / (k + 1);
        last = k;
      }
    });
    sumAP += ap / hits;
    sumINP += hits / (last + 1);
  }
  const pct = cmc.map((c) => (100 * c) / q);
  return {
    cmc: pct.slice(0, maxRank),
    R1: pct[0],
    R5: pct[Math.min(5, g) - 1],
    R10: pct[Math.min(10, g) - 1],
    mAP: (100 * sumAP) / q,
    mINP: (100 * sumINP) / q,
  };
}

function withSim<T>(rows: number[][], fn: (sim: tf.Tensor2D) => T): T {
  const sim = tf.tensor2d(rows);
  try {
    return fn(sim);
  } finally {
    sim.dispose();
  }
}

function expectSame(a: RankResult, b: RankResult, eps = 1e-9): void {
  expect(a.cmc.length).toBe(b.cmc.length);
  for (let k = 0; k < a.cmc.length; k++) expect(Math.abs(a.cmc[k] - b.cmc[k]), `cmc[${k}]`).toBeLessThanOrEqual(eps);
  for (const key of ['R1', 'R5', 'R10', 'mAP', 'mINP'] as const) {
    expect(Math.abs(a[key] - b[key]), key).toBeLessThanOrEqual(eps);
  }
}

/**
 * Random retrieval problems: q × g similarity, gallery pids from a small set, and query pids drawn
 * from the gallery's (so every query has a match). `distinct` makes all similarity values differ.
 */
function problem(distinct: boolean, sizes = { minG: 1, maxG: 12, maxPid: 3 }) {
  return fc
    .record({ q: fc.integer({ min: 1, max: 7 }), g: fc.integer({ min: sizes.minG, max: sizes.maxG }) })
    .chain(({ q, g }) =>
      fc.record({
        gPids: fc.array(fc.integer({ min: 0, max: sizes.maxPid }), { minLength: g, maxLength: g }),
        pick: fc.array(fc.nat({ max: g - 1 }), { minLength: q, maxLength: q }),
        values: distinct
          ? fc.uniqueArray(fc.integer({ min: -5000, max: 5000 }), { minLength: q * g, maxLength: q * g })
          : fc.array(fc.integer({ min: -2, max: 2 }), { minLength: q * g, maxLength: q * g }),
        perm: fc.shuffledSubarray([...Array(g).keys()], { minLength: g, maxLength: g }),
      }),
    )
    .map(({ gPids, pick, values, perm }) => {
      const g = gPids.length;
      const sim = pick.map((_, i) => values.slice(i * g, (i + 1) * g).map((v) => v / 1000));
      return { sim, qPids: pick.map((j) => gPids[j]), gPids, perm };
    });
}

describe('rank: reference fixtures (metrics.json)', () => {
  const json = fixtureJson<MetricsFixture>('metrics.json');
  for (const c of json.cases) {
    it(`${c.prefix} text→image and image→text`, () => {
      const s = fixtureRaw('metrics.safetensors', `${c.prefix}similarity`);
      const qPids = fixtureRaw('metrics.safetensors', `${c.prefix}query_pids`).data as Int32Array;
      const gPids = fixtureRaw('metrics.safetensors', `${c.prefix}gallery_pids`).data as Int32Array;
      const sim = tf.tensor2d(s.data as Float32Array, s.shape as [number, number]);
      const simT = tf.transpose(sim);
      const qTensor = tf.tensor1d(qPids, 'int32');
      try {
        expectRankFixture(
          expectNoLeak(() => rank(sim, qTensor, gPids)),
          c.t2i,
          `${c.prefix}t2i`,
        );
        expectRankFixture(
          expectNoLeak(() => rank(simT, gPids, Array.from(qPids))),
          c.i2t,
          `${c.prefix}i2t`,
        );
        // The same without materialising the transpose (more than one 64-query block in case1).
        expectRankFixture(
          expectNoLeak(() => rank(sim, gPids, qTensor, { transposed: true })),
          c.i2t,
          `${c.prefix}i2t.transposed`,
        );
      } finally {
        tf.dispose([sim, simT, qTensor]);
      }
    });
  }
});

describe('rank: worked example', () => {
  // Gallery pids [1, 2, 1, 3]; queries with pids 1, 2, 3; maxRank 4 (= gallery size).
  //   q0 (pid 1) [0.9, 0.8, 0.1, 0.5] ranks g0 g1 g3 g2 → matches at positions 1 and 4:
  //        first hit 1, AP = (1/1 + 2/4) / 2 = 0.75, INP = 2/4 = 0.5
  //   q1 (pid 2) [0.7, 0.2, 0.6, 0.3] ranks g0 g2 g3 g1 → match at 4: first 4, AP = 1/4, INP = 1/4
  //   q2 (pid 3) [0.1, 0.9, 0.2, 0.8] ranks g1 g3 g0 g2 → match at 2: first 2, AP = 1/2, INP = 1/2
  // cmc = [1/3, 2/3, 2/3, 3/3] × 100; R1 = 33.33, R5 = R10 = 100 (capped at the 4-item gallery);
  // mAP = (0.75 + 0.25 + 0.5) / 3 × 100 = 50; mINP = (0.5 + 0.25 + 0.5) / 3 × 100 = 41.67.
  const rows = [
    [0.9, 0.8, 0.1, 0.5],
    [0.7, 0.2, 0.6, 0.3],
    [0.1, 0.9, 0.2, 0.8],
  ];
  const expected: RankResult = {
    cmc: [100 / 3, 200 / 3, 200 / 3, 100],
    R1: 100 / 3,
    R5: 100,
    R10: 100,
    mAP: 50,
    mINP: 125 / 3,
  };

  it('gives the hand-computed numbers, as rows or transposed, sync and async', async () => {
    const sim = tf.tensor2d(rows);
    const simT = tf.transpose(sim);
    try {
      for (const [s, transposed] of [
        [sim, false],
        [simT, true],
      ] as const) {
        expectSame(
          expectNoLeak(() => rank(s, [1, 2, 3], [1, 2, 1, 3], { maxRank: 4, transposed })),
          expected,
        );
        const before = tf.memory().numTensors;
        expectSame(await rankAsync(s, [1, 2, 3], [1, 2, 1, 3], { maxRank: 4, transposed }), expected);
        expect(tf.memory().numTensors).toBe(before);
      }
    } finally {
      tf.dispose([sim, simT]);
    }
  });

  it('defaults maxRank to 10 and accepts pids as int32 and float32 tensors', () => {
    expect(RANK_DEFAULTS.maxRank).toBe(10);
    const wide = rows.map((r) => [...r, -1, -1, -1, -1, -1, -1, -1]);
    const gp = [1, 2, 1, 3, 9, 9, 9, 9, 9, 9, 9];
    const q = tf.tensor1d([1, 2, 3], 'int32');
    const g = tf.tensor1d(gp, 'float32');
    try {
      const r = withSim(wide, (sim) => expectNoLeak(() => rank(sim, q, g)));
      expectSame(r, { ...expected, cmc: [...expected.cmc, 100, 100, 100, 100, 100, 100] });
    } finally {
      tf.dispose([q, g]);
    }
  });

  it('orders ties by ascending gallery index (a stable descending sort)', () => {
    // Both items score 0.5; the match is item 1, so it ranks second: R1 = 0, AP = INP = 1/2.
    const r = withSim([[0.5, 0.5]], (sim) => rank(sim, [1], [2, 1], { maxRank: 2 }));
    expectSame(r, { cmc: [0, 100], R1: 0, R5: 100, R10: 100, mAP: 50, mINP: 50 });
    // Swapped: the match is item 0 and ranks first.
    const s = withSim([[0.5, 0.5]], (sim) => rank(sim, [1], [1, 2], { maxRank: 2 }));
    expectSame(s, { cmc: [100, 100], R1: 100, R5: 100, R10: 100, mAP: 100, mINP: 100 });
  });

  it('can give mINP > mAP (so mINP ≤ mAP is no invariant)', () => {
    // Ranking: miss, match, match → AP = (1/2 + 2/3) / 2 = 0.583, INP = 2/3.
    const r = withSim([[0.9, 0.5, 0.1]], (sim) => rank(sim, [1], [2, 1, 1], { maxRank: 3 }));
    expect(r.mAP).toBeCloseTo((100 * (1 / 2 + 2 / 3)) / 2, 10);
    expect(r.mINP).toBeCloseTo((100 * 2) / 3, 10);
    expect(r.mINP).toBeGreaterThan(r.mAP);
  });
});

describe('rank: bad input', () => {
  const sim = () =>
    tf.tensor2d([
      [0.9, 0.1, 0.3],
      [0.2, 0.8, 0.4],
    ]);
  const bad = (fn: (s: tf.Tensor2D) => unknown, message: RegExp) => {
    const s = sim();
    const before = tf.memory().numTensors;
    try {
      expect(() => fn(s)).toThrow(message);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      s.dispose();
    }
  };

  it('refuses a query whose pid is not in the gallery (the reference divides by zero)', () => {
    bad((s) => rank(s, [1, 5], [1, 2, 3], { maxRank: 3 }), /queryPids\[1\] = 5 has no match in galleryPids/);
    bad((s) => rank(s, [1, 2, 5], [1, 2], { maxRank: 2, transposed: true }), /queryPids\[2\] = 5 has no match/);
  });

  it('refuses an unmatched query in rankAsync too', async () => {
    const s = sim();
    try {
      await expect(rankAsync(s, [7, 1], [1, 2, 3], { maxRank: 3 })).rejects.toThrow(/queryPids\[0\] = 7/);
    } finally {
      s.dispose();
    }
  });

  it('refuses pids whose length differs from the similarity', () => {
    bad((s) => rank(s, [1, 2, 3], [1, 2, 3], { maxRank: 3 }), /queryPids must have length numQueries = 2 .* got 3/);
    bad(
      (s) => rank(s, [1, 2], [1, 2], { maxRank: 2, transposed: true }),
      /queryPids must have length numQueries = 3 \(the similarity's columns\), got 2/,
    );
    bad((s) => rank(s, [1, 2], [1, 2], { maxRank: 3 }), /galleryPids must have length numGallery = 3 .* got 2/);
    const t = tf.tensor1d([1, 2, 3, 4], 'int32');
    try {
      bad((s) => rank(s, [1, 2], t, { maxRank: 3 }), /galleryPids must have length numGallery = 3 .* got 4/);
    } finally {
      t.dispose();
    }
  });

  it('refuses pids that are not 1-D, of a wrong dtype, or not integers', () => {
    const t2 = tf.tensor2d([[1, 2]], [1, 2], 'int32');
    const tb = tf.tensor1d([true, false, true], 'bool');
    try {
      bad(
        (s) => rank(s, t2 as unknown as tf.Tensor1D, [1, 2, 3], { maxRank: 3 }),
        /queryPids must be 1-D, got shape \[1,2\]/,
      );
      bad((s) => rank(s, [1, 2], tb, { maxRank: 3 }), /galleryPids must have dtype int32 or float32, got bool/);
      bad((s) => rank(s, [1, 2.5], [1, 2, 3], { maxRank: 3 }), /queryPids\[1\] must be an integer person id, got 2.5/);
      bad(
        (s) => rank(s, [1, 2], [1, 2, Number.NaN], { maxRank: 3 }),
        /galleryPids\[2\] must be an integer person id, got NaN/,
      );
      bad((s) => rank(s, [1, 2], 'abc' as unknown as number[], { maxRank: 3 }), /galleryPids must be a 1-D tensor/);
    } finally {
      tf.dispose([t2, tb]);
    }
  });

  it('refuses a similarity that is not a 2-D float32 tensor with rows and columns', () => {
    const cases: [tf.Tensor, RegExp][] = [
      [tf.tensor1d([0.1, 0.2]), /similarity must be 2-D .* got rank 1 shape \[2\]/],
      [tf.zeros([2, 3, 1]), /similarity must be 2-D .* got rank 3 shape \[2,3,1\]/],
      [tf.tensor2d([[1, 2, 3]], [1, 3], 'int32'), /similarity must have dtype float32, got int32/],
      [tf.zeros([0, 3]), /at least one query and one gallery item, got shape \[0,3\]/],
    ];
    for (const [t, message] of cases) {
      try {
        expect(() => rank(t as tf.Tensor2D, [1, 2], [1, 2, 3], { maxRank: 1 })).toThrow(message);
      } finally {
        t.dispose();
      }
    }
    expect(() => rank([[1]] as unknown as tf.Tensor2D, [1], [1])).toThrow(/similarity must be a tf.Tensor2D/);
  });

  it('refuses maxRank outside [1, numGallery] and a non-boolean transposed', () => {
    bad(
      (s) => rank(s, [1, 2], [1, 2, 3], { maxRank: 0 }),
      /maxRank must be an integer in \[1, numGallery = 3\], got 0/,
    );
    bad((s) => rank(s, [1, 2], [1, 2, 3], { maxRank: 4 }), /maxRank .* got 4/);
    bad((s) => rank(s, [1, 2], [1, 2, 3], { maxRank: 2.5 }), /maxRank .* got 2.5/);
    bad((s) => rank(s, [1, 2], [1, 2, 3]), /maxRank must be an integer in \[1, numGallery = 3\], got 10/);
    bad(
      (s) => rank(s, [1, 2, 3], [1, 2], { maxRank: 3, transposed: true }),
      /maxRank must be an integer in \[1, numGallery = 2\], got 3/,
    );
    bad(
      (s) => rank(s, [1, 2], [1, 2, 3], { maxRank: 3, transposed: 1 as unknown as boolean }),
      /transposed must be a boolean, got 1/,
    );
  });

  it('refuses a NaN similarity, in a match or elsewhere', () => {
    const nanMatch = tf.tensor2d([[Number.NaN, 0.1]]);
    const nanOther = tf.tensor2d([[0.1, Number.NaN]]);
    try {
      expect(() => rank(nanMatch, [1], [1, 2], { maxRank: 2 })).toThrow(/similarity\[0, 0\] is NaN/);
      expect(() => rank(nanOther, [1], [1, 2], { maxRank: 2 })).toThrow(/similarity\[0, 1\] is NaN/);
    } finally {
      tf.dispose([nanMatch, nanOther]);
    }
  });
});

describe('rank: properties', () => {
  /** rank() on plain rows; with `transposed`, on the transposed tensor (queries as columns). */
  const run = (sim: number[][], qPids: number[], gPids: number[], maxRank = gPids.length, transposed = false) =>
    withSim(sim, (t) => {
      if (!transposed) return rank(t, qPids, gPids, { maxRank });
      const tt = tf.transpose(t);
      try {
        return rank(tt, qPids, gPids, { maxRank, transposed });
      } finally {
        tt.dispose();
      }
    });

  it('equals a direct transcription of the reference definitions, ties included', () => {
    fc.assert(
      fc.property(problem(false), fc.boolean(), ({ sim, qPids, gPids }, transposed) => {
        expectSame(run(sim, qPids, gPids, gPids.length, transposed), naiveRank(sim, qPids, gPids, gPids.length));
      }),
      { numRuns: 150 },
    );
  });

  it('equals the transcription with many matches per query (more than 16: the binary-search path)', () => {
    fc.assert(
      fc.property(problem(false, { minG: 34, maxG: 60, maxPid: 1 }), ({ sim, qPids, gPids }) => {
        expectSame(run(sim, qPids, gPids), naiveRank(sim, qPids, gPids, gPids.length));
      }),
      { numRuns: 40 },
    );
  });

  it('is ordered and bounded: R1 ≤ R5 ≤ R10, cmc non-decreasing, everything in [0, 100]', () => {
    fc.assert(
      fc.property(problem(false), ({ sim, qPids, gPids }) => {
        const r = run(sim, qPids, gPids);
        expect(r.R1).toBeLessThanOrEqual(r.R5);
        expect(r.R5).toBeLessThanOrEqual(r.R10);
        for (let k = 1; k < r.cmc.length; k++) expect(r.cmc[k]).toBeGreaterThanOrEqual(r.cmc[k - 1]);
        for (const v of [...r.cmc, r.R1, r.R5, r.R10, r.mAP, r.mINP]) {
          expect(v).toBeGreaterThanOrEqual(0);
          expect(v).toBeLessThanOrEqual(100);
        }
        expect(r.mINP).toBeGreaterThan(0);
        expect(r.cmc[r.cmc.length - 1]).toBe(100);
      }),
      { numRuns: 100 },
    );
  });

  it('gives mINP = mAP when every query has exactly one match', () => {
    fc.assert(
      fc.property(problem(true), ({ sim, qPids }) => {
        // Gallery item j gets pid j: one match per query (the item its pid was drawn from).
        const g = sim[0].length;
        const gPids = [...Array(g).keys()];
        const q = qPids.map((_, i) => i % g);
        const r = run(sim, q, gPids);
        expect(Math.abs(r.mAP - r.mINP)).toBeLessThanOrEqual(1e-9);
        expect(r.mINP).toBeLessThanOrEqual(r.mAP + 1e-9);
      }),
      { numRuns: 50 },
    );
  });

  it('is unchanged by permuting gallery columns together with galleryPids (no ties)', () => {
    fc.assert(
      fc.property(problem(true), ({ sim, qPids, gPids, perm }) => {
        const permuted = sim.map((row) => perm.map((j) => row[j]));
        expectSame(
          run(
            permuted,
            qPids,
            perm.map((j) => gPids[j]),
          ),
          run(sim, qPids, gPids),
        );
      }),
      { numRuns: 100 },
    );
  });

  it('gives 100 everywhere for a perfect similarity (1 for a match, else 0; or strictly ordered)', () => {
    fc.assert(
      fc.property(problem(true), ({ sim, qPids, gPids }) => {
        const binary = qPids.map((p) => gPids.map((gp) => (gp === p ? 1 : 0)));
        // Matches above 1, non-matches below 0, keeping the random (distinct) order within each group.
        const ordered = sim.map((row, i) => row.map((v, j) => (gPids[j] === qPids[i] ? 10 + v : v - 10)));
        for (const s of [binary, ordered]) {
          const r = run(s, qPids, gPids);
          for (const v of [...r.cmc, r.R1, r.R5, r.R10, r.mAP, r.mINP]) expect(v).toBeCloseTo(100, 10);
        }
      }),
      { numRuns: 100 },
    );
  });
});
