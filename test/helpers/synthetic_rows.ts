/**
 * Deterministic gallery rows for store tests and their child processes (no vitest import here:
 * the crash test's child script loads this file in a plain Node process).
 */
import type { RowMetadata } from '../../src/search/types';

/** A row as the reference sees it. */
export interface RefRow {
  id: string;
  features: Float32Array;
  metadata?: RowMetadata;
}

/** Row-major features of `rows`. */
export function stack(rows: readonly RefRow[]): Float32Array {
  const dim = rows[0]?.features.length ?? 0;
  const out = new Float32Array(rows.length * dim);
  for (let i = 0; i < rows.length; i++) out.set(rows[i].features, i * dim);
  return out;
}

/** Deterministic L2-normalised rows of width `dim` (a simple LCG; not for statistics). */
export function normalisedRows(n: number, dim: number, seed: number, prefix = 'r'): RefRow[] {
  let state = seed >>> 0 || 1;
  const next = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296 - 0.5;
  };
  return Array.from({ length: n }, (_, i) => {
    const f = Float32Array.from({ length: dim }, next);
    const norm = Math.hypot(...f);
    for (let c = 0; c < dim; c++) f[c] /= norm;
    return { id: `${prefix}${i}`, features: f };
  });
}
