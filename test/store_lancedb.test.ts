import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { loadLance } from '../src/search/stores/lance_loader';
import { type LanceStoreOptions, lanceStore } from '../src/search/stores/lancedb';
import {
  bruteForce,
  expectScenarioMatches,
  normalisedRows,
  plain,
  type RefRow,
  readAll,
  scenarioArb,
  stack,
  storeContractTests,
} from './helpers/gallery_store';
import { killMidway } from './helpers/kill_midway';

const here = dirname(fileURLToPath(import.meta.url));
const folders: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'irra-lance-'));
  folders.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
});

const exactStore = (dir = tempDir(), options: LanceStoreOptions = {}) =>
  lanceStore(dir, { indexMinRows: null, ...options });

/**
 * Rows around `clusters` normalised centres (from `centreSeed`; noise from `noiseSeed`), so that an
 * IVF index has structure to find.
 */
function clustered(
  n: number,
  dim: number,
  clusters: number,
  centreSeed: number,
  noiseSeed: number,
  prefix: string,
): RefRow[] {
  const centres = normalisedRows(clusters, dim, centreSeed, 'centre');
  return normalisedRows(n, dim, noiseSeed, prefix).map((row, i) => {
    const c = centres[i % clusters].features;
    const f = Float32Array.from(c, (v, j) => v + 0.35 * row.features[j]);
    const norm = Math.hypot(...f);
    for (let j = 0; j < dim; j++) f[j] /= norm;
    return { id: row.id, features: f };
  });
}

// The store never touches tfjs, so this file runs in the cpu project only (the wasm project would
// repeat the same LanceDB calls).
describe.runIf((process.env.IRRA_TEST_BACKEND ?? 'cpu') === 'cpu')('lanceStore', () => {
  storeContractTests(() => exactStore());

  it('equals a brute-force host search on random galleries, k and ties (property, exact mode)', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb(30), async (s) => expectScenarioMatches(await exactStore(), s)),
      { numRuns: 25, seed: 14 },
    );
  });

  it('matches brute force on normalised float features (scores within 1e-6)', async () => {
    const rows = normalisedRows(300, 32, 21);
    const queries = stack(normalisedRows(5, 32, 22, 'q'));
    const store = await exactStore();
    try {
      await store.add(
        rows.map((r) => r.id),
        stack(rows),
      );
      const got = await store.search(queries, 5, { k: 15 });
      const want = bruteForce(rows, queries, 5, 15);
      for (let q = 0; q < 5; q++) {
        for (let i = 0; i < 15; i++) expect(Math.abs(got[q][i].score - want[q][i].score)).toBeLessThan(1e-6);
        expect(new Set(got[q].slice(0, 10).map((h) => h.id))).toEqual(new Set(want[q].slice(0, 10).map((h) => h.id)));
      }
    } finally {
      await store.close();
    }
  });

  it('reopens a folder (also as lancedb://DIR) and finds its rows, metadata and insertion order', async () => {
    const dir = tempDir();
    const rows = normalisedRows(20, 8, 31).map((r, i) => ({
      ...r,
      metadata: { i, even: i % 2 === 0, name: `n'${i}` },
    }));
    const first = await exactStore(dir);
    await first.add(
      rows.slice(0, 12).map((r) => r.id),
      stack(rows.slice(0, 12)),
      rows.slice(0, 12).map((r) => r.metadata),
    );
    await first.close();
    const again = await exactStore(`lancedb://${dir}`);
    try {
      expect(await again.dim()).toBe(8);
      expect(await again.count()).toBe(12);
      expect(await again.has(['r0', 'r11', 'r12'])).toEqual([true, true, false]);
      await expect(again.add(['r3'], rows[3].features)).rejects.toThrow(/"r3" already stored/);
      await again.add(
        rows.slice(12).map((r) => r.id),
        stack(rows.slice(12)),
        rows.slice(12).map((r) => r.metadata),
      );
      const back = await readAll(again, 7);
      expect(back.map((r) => r.id)).toEqual(rows.map((r) => r.id));
      expect(back.map((r) => r.metadata)).toEqual(rows.map((r) => r.metadata));
      expect(back.map((r) => Array.from(r.features))).toEqual(rows.map((r) => Array.from(r.features)));
      const [hits] = await again.search(rows[15].features, 1, { k: 1 });
      expect(hits[0]).toMatchObject({ id: 'r15', rank: 1, metadata: rows[15].metadata });
      expect(hits[0].score).toBeCloseTo(1, 6);
    } finally {
      await again.close();
    }
  });

  it('removes ids with quotes, and keeps insertion order through optimize() (file compaction)', async () => {
    const store = await exactStore();
    try {
      const rows = normalisedRows(30, 4, 41).map((r, i) => ({ ...r, id: i % 7 === 0 ? `it's ${i}` : r.id }));
      for (let i = 0; i < 30; i += 5) {
        await store.add(
          rows.slice(i, i + 5).map((r) => r.id),
          stack(rows.slice(i, i + 5)),
        );
      }
      const gone = ["it's 0", "it's 14", 'r3', 'r22', 'absent'];
      expect(await store.remove(gone)).toBe(4);
      await store.optimize();
      const left = rows.filter((r) => !gone.includes(r.id));
      expect((await readAll(store, 4)).map((r) => r.id)).toEqual(left.map((r) => r.id));
      const [hits] = await store.search(rows[14].features, 1, { k: 30 });
      expect(hits.map((h) => h.id)).not.toContain("it's 14");
      expect(hits).toHaveLength(26);
    } finally {
      await store.close();
    }
  });

  it('an IVF-PQ index on a few thousand vectors gives high recall@10, and survives a reopen', async () => {
    const dim = 64;
    const rows = clustered(4000, dim, 16, 51, 52, 'c');
    const queryRows = clustered(40, dim, 16, 51, 53, 'q');
    const queries = stack(queryRows);
    const dir = tempDir();
    const store = await exactStore(dir);
    await store.add(
      rows.map((r) => r.id),
      stack(rows),
    );
    expect(await store.hasIndex()).toBe(false);
    await store.createIndex({ numPartitions: 16, numSubVectors: 32 });
    expect(await store.hasIndex()).toBe(true);
    await store.close();
    const again = await exactStore(dir);
    try {
      expect(await again.hasIndex()).toBe(true);
      const want = bruteForce(rows, queries, 40, 10);
      const got = await again.search(queries, 40, { k: 10, nprobes: 4, refineFactor: 10 });
      let found = 0;
      for (let q = 0; q < 40; q++) {
        const truth = new Set(want[q].map((h) => h.id));
        found += got[q].filter((h) => truth.has(h.id)).length;
        // refined scores are exact dot products
        const byId = new Map(want[q].map((h) => [h.id, h.score]));
        for (const h of got[q])
          if (byId.has(h.id)) expect(Math.abs(h.score - (byId.get(h.id) as number))).toBeLessThan(1e-6);
      }
      const recall = found / 400;
      console.log(
        `[lanceStore] IVF-PQ recall@10 on 4000 × 64 (16 partitions, 32 sub-vectors, nprobes 4, refine 10): ${recall}`,
      );
      expect(recall).toBeGreaterThanOrEqual(0.95);
      const exact = await exactStore(dir, { exact: true });
      try {
        expect(plain(await exact.search(queries, 40, { k: 10 })).map((l) => l.map((h) => h.id))).toEqual(
          want.map((l) => l.map((h) => h.id)),
        );
      } finally {
        await exact.close();
      }
    } finally {
      await again.close();
    }
  });

  it('an index with the default settings (dim / 4 sub-vectors, default nprobes and refineFactor) gives high recall@10', async () => {
    const dim = 64;
    const rows = clustered(4000, dim, 16, 54, 55, 'd');
    const queries = stack(clustered(40, dim, 16, 54, 56, 'q'));
    const store = await exactStore();
    try {
      await store.add(
        rows.map((r) => r.id),
        stack(rows),
      );
      await store.createIndex();
      expect(await store.hasIndex()).toBe(true);
      const want = bruteForce(rows, queries, 40, 10);
      const got = await store.search(queries, 40, { k: 10 });
      let found = 0;
      for (let q = 0; q < 40; q++) {
        const truth = new Set(want[q].map((h) => h.id));
        found += got[q].filter((h) => truth.has(h.id)).length;
      }
      console.log(
        `[lanceStore] IVF-PQ recall@10 on 4000 × 64 with the default index and search settings: ${found / 400}`,
      );
      expect(found / 400).toBeGreaterThanOrEqual(0.95);
    } finally {
      await store.close();
    }
  });

  it('builds the index by itself when an add reaches indexMinRows', async () => {
    const store = await lanceStore(tempDir(), { indexMinRows: 300, index: { numPartitions: 2, numSubVectors: 2 } });
    try {
      const rows = normalisedRows(320, 16, 61);
      await store.add(
        rows.slice(0, 200).map((r) => r.id),
        stack(rows.slice(0, 200)),
      );
      expect(await store.hasIndex()).toBe(false);
      await store.add(
        rows.slice(200).map((r) => r.id),
        stack(rows.slice(200)),
      );
      expect(await store.hasIndex()).toBe(true);
      const [hits] = await store.search(rows[5].features, 1, { k: 3, nprobes: 2, refineFactor: 5 });
      expect(hits[0].id).toBe('r5');
    } finally {
      await store.close();
    }
  });

  it('resumes after a writer is SIGKILLed midway: has() reports the stored rows, nothing twice, nothing lost', async () => {
    const dir = tempDir();
    const total = 4000;
    const batch = 250;
    const child = join(here, 'helpers/lance_writer_child.ts');
    const run = await killMidway(child, [dir, String(total), String(batch), '32', '71'], {
      killWhen: (out) => /stored 1000\n/.test(out),
      delayMs: 15,
      timeoutMs: 90_000,
      cwd: resolve(here, '..'),
    });
    expect(run.signal, `child stderr: ${run.stderr}`).toBe('SIGKILL');
    expect(run.stdout).not.toContain('done');
    const rows = normalisedRows(total, 32, 71);
    const reopened = await exactStore(dir);
    const stored = await reopened.has(rows.map((r) => r.id));
    const count = await reopened.count();
    await reopened.close();
    const storedCount = stored.filter(Boolean).length;
    // Batches are atomic: a prefix of whole batches is stored, at least the 4 that were reported.
    expect(storedCount).toBe(count);
    expect(storedCount % batch).toBe(0);
    expect(storedCount).toBeGreaterThanOrEqual(1000);
    expect(storedCount).toBeLessThan(total);
    expect(stored.slice(0, storedCount).every(Boolean)).toBe(true);
    // The same writer, run again to the end, adds only the rest.
    const rerun = await killMidway(child, [dir, String(total), String(batch), '32', '71'], {
      killWhen: () => false,
      timeoutMs: 90_000,
      cwd: resolve(here, '..'),
    });
    expect(rerun.code, `child stderr: ${rerun.stderr}`).toBe(0);
    expect(rerun.stdout).toContain('done');
    const done = await exactStore(dir);
    try {
      expect(await done.count()).toBe(total);
      const back = await readAll(done, 1000);
      expect(back.map((r) => r.id)).toEqual(rows.map((r) => r.id));
      expect(back.every((r, i) => r.features.every((v, j) => v === rows[i].features[j]))).toBe(true);
      expect(back[1234].metadata).toEqual({ source: 'r1234' });
    } finally {
      await done.close();
    }
  });

  it('rejects a table with other columns, bad options, and says how to install a missing LanceDB', async () => {
    const dir = tempDir();
    const { lancedb } = await loadLance();
    const db = await lancedb.connect(dir);
    (await db.createTable('gallery', [{ name: 'x', vector: [1, 2] }])).close();
    db.close();
    await expect(exactStore(dir)).rejects.toThrow(
      /table 'gallery' in .* is not a gallery table: expected columns id, seq, features, metadata/,
    );
    await expect(lanceStore(tempDir(), { nprobes: 0 })).rejects.toThrow(
      /lanceStore: options.nprobes: expected an integer ≥ 1, got number 0/,
    );
    await expect(lanceStore(tempDir(), { table: '../x' })).rejects.toThrow(/options.table/);
    await expect(lanceStore('')).rejects.toThrow(/uri: expected a folder path or URI/);
    await expect(loadLance('@lancedb/not-installed-here')).rejects.toThrow(
      /optional peer dependency @lancedb\/not-installed-here is not installed: run `npm install @lancedb\/not-installed-here@0.31.0`/,
    );
  });
});
