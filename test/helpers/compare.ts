import * as tf from '@tensorflow/tfjs-core';
import { expect } from 'vitest';

/**
 * Tolerance classes of ../shared/fixtures/README.md, per tensor with scale = max|expected|:
 * forward outputs and losses `1e-4 * scale + 1e-6`, gradients and optimizer updates
 * `1e-3 * scale + 1e-7`.
 */
export type ToleranceKind = 'forward' | 'grad';
const TOL: Record<ToleranceKind, { rel: number; abs: number }> = {
  forward: { rel: 1e-4, abs: 1e-6 },
  grad: { rel: 1e-3, abs: 1e-7 },
};

interface Record_ {
  group: string;
  label: string;
  maxAbs: number;
  scale: number;
  rel: number;
}
const records: Record_[] = [];

function toArray(x: tf.Tensor | ArrayLike<number> | number): Float64Array {
  if (typeof x === 'number') return Float64Array.of(x);
  if (x instanceof tf.Tensor) return Float64Array.from(x.dataSync());
  return Float64Array.from(x);
}

/**
 * Asserts that `actual` matches `expected` within the fixture README's tolerance of `kind`
 * (or an explicit `{rel, abs}`), records the largest error for the end-of-file report, and
 * returns it. `group` collects errors for the report (e.g. 'losses.value').
 */
export function expectClose(
  actual: tf.Tensor | ArrayLike<number> | number,
  expected: tf.Tensor | ArrayLike<number> | number,
  opts: { kind?: ToleranceKind; tol?: { rel: number; abs: number }; label: string; group?: string },
): { maxAbs: number; scale: number } {
  const a = toArray(actual);
  const e = toArray(expected);
  expect(a.length, `${opts.label}: element count`).toBe(e.length);
  let scale = 0;
  for (const v of e) scale = Math.max(scale, Math.abs(v));
  let maxAbs = 0;
  let worst = -1;
  for (let i = 0; i < e.length; i++) {
    const d = Math.abs(a[i] - e[i]);
    if (!(d <= maxAbs)) {
      maxAbs = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
      worst = i;
    }
  }
  const tol = opts.tol ?? TOL[opts.kind ?? 'forward'];
  const bound = tol.rel * scale + tol.abs;
  records.push({
    group: opts.group ?? opts.kind ?? 'forward',
    label: opts.label,
    maxAbs,
    scale,
    rel: maxAbs / (scale || 1),
  });
  if (!(maxAbs <= bound)) {
    throw new Error(
      `${opts.label}: max |actual - expected| = ${maxAbs.toExponential(3)} at index ${worst} ` +
        `(actual ${a[worst]}, expected ${e[worst]}) exceeds ${bound.toExponential(3)} (scale ${scale.toExponential(3)})`,
    );
  }
  return { maxAbs, scale };
}

/** Prints, per group, the largest absolute and relative (to max|expected|) error seen. */
export function printParityReport(): void {
  if (records.length === 0) return;
  const groups = new Map<string, Record_>();
  const relWorst = new Map<string, Record_>();
  for (const r of records) {
    const g = groups.get(r.group);
    if (!g || r.maxAbs > g.maxAbs) groups.set(r.group, r);
    const q = relWorst.get(r.group);
    if (!q || r.rel > q.rel) relWorst.set(r.group, r);
  }
  const lines = [...groups.keys()].map((g) => {
    const a = groups.get(g) as Record_;
    const r = relWorst.get(g) as Record_;
    return `  ${g}: max abs ${a.maxAbs.toExponential(2)} (${a.label}); max rel ${r.rel.toExponential(2)} (${r.label})`;
  });
  console.log(`[parity ${tf.getBackend()}] ${records.length} comparisons\n${lines.join('\n')}`);
  records.length = 0;
}

/** Runs `fn` and asserts that it leaves `tf.memory().numTensors` unchanged apart from `keep`. */
export function expectNoLeak<T>(fn: () => T, keep = 0): T {
  const before = tf.memory().numTensors;
  const out = fn();
  expect(tf.memory().numTensors - before, 'tensors left behind').toBe(keep);
  return out;
}
