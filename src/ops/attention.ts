import * as tf from '@tensorflow/tfjs-core';
import { customOp } from './custom_op';

/** Shapes of one {@link attentionCore} call. */
export interface AttentionShape {
  /** Batch size B. */
  batch: number;
  /** Number of heads H. */
  heads: number;
  /** Query length Lq. */
  queryLength: number;
  /** Key/value length Lk (equal to Lq for self-attention). */
  keyLength: number;
  /** Additive float32 mask `[Lq, Lk]` (0 or -Infinity), or null. Not differentiated. */
  mask: tf.Tensor2D | null;
}

/**
 * `[B · L, n · H · d]` (n packed projections, H heads each) → the B · n · H slices `[L, d]`,
 * ordered (batch, projection, head): one 4-D transpose, then one piece per slice. On backends that
 * keep tensors in CPU memory (cpu, wasm) the pieces are cut from one read-back of the transposed
 * tensor, which is far cheaper than one tfjs-wasm Gather per slice (docs/performance.md, "Speed");
 * the values are the same bits. Elsewhere (GPU backends, where a read-back is a sync) one row
 * gather per slice. (Not `unstack`/`slice`: tfjs-wasm's Slice copies its whole input to JavaScript
 * for every output, slower still.)
 */
function splitHeads(x: tf.Tensor, batch: number, length: number, n: number, heads: number): tf.Tensor2D[] {
  const d = (x.shape[1] as number) / (n * heads);
  const pieces = batch * n * heads;
  const t = tf.reshape(tf.transpose(tf.reshape(x, [batch, length, n * heads, d]), [0, 2, 1, 3]), [pieces, length * d]);
  const out: tf.Tensor2D[] = [];
  if (HOST_MEMORY_BACKENDS.has(tf.getBackend())) {
    const values = t.dataSync() as Float32Array;
    const size = length * d;
    for (let i = 0; i < pieces; i++) out.push(tf.tensor2d(values.slice(i * size, (i + 1) * size), [length, d]));
    return out;
  }
  for (let i = 0; i < pieces; i++) out.push(tf.reshape(tf.gather(t, [i]), [length, d]));
  return out;
}

/** Backends whose tensors live in CPU memory, where a read-back is a plain copy. */
const HOST_MEMORY_BACKENDS = new Set(['cpu', 'wasm']);

/** Inverse of {@link splitHeads}: B · n · H slices `[L, d]` → `[B · L, n · H · d]`. */
function mergeHeads(pieces: tf.Tensor[], batch: number, length: number, n: number, heads: number): tf.Tensor2D {
  const d = pieces[0].shape[1] as number;
  const t = tf.reshape(tf.stack(pieces), [batch, n * heads, length, d]);
  return tf.reshape(tf.transpose(t, [0, 2, 1, 3]), [batch * length, n * heads * d]);
}

/**
 * Scaled dot-product attention over packed projections, computed per (batch, head) with plain
 * 2-D matMuls and explicit transposes, forward and backward (batched or transposed-operand
 * matMuls leave XNNPACK's fast path on tfjs-wasm; docs/performance.md).
 *
 * Self-attention: `q` is the fused projection `[B · L, 3 · E]` (q | k | v, each H heads of
 * d = E / H) and `kv` is null. Cross-attention: `q` is `[B · Lq, E]` and `kv` is `[B · Lk, 2 · E]`
 * (k | v). Queries are scaled by 1/√d; `shape.mask` is added to the scores before the softmax.
 * Returns a new `[B · Lq, E]` tensor (heads concatenated) owned by the caller.
 */
export function attentionCore(q: tf.Tensor2D, kv: tf.Tensor2D | null, shape: AttentionShape): tf.Tensor2D {
  const { batch, heads, queryLength: lq, keyLength: lk, mask } = shape;
  const selfAttention = kv === null;
  const width = selfAttention ? q.shape[1] / 3 : q.shape[1];
  const d = width / heads;
  const scale = 1 / Math.sqrt(d);

  const run = (qIn: tf.Tensor, kvIn: tf.Tensor | null, save: tf.GradSaveFunc) => {
    const qs: tf.Tensor2D[] = [];
    const ks: tf.Tensor2D[] = [];
    const vs: tf.Tensor2D[] = [];
    if (kvIn === null) {
      const all = splitHeads(qIn, batch, lq, 3, heads);
      for (let b = 0; b < batch; b++) {
        for (let h = 0; h < heads; h++) {
          qs.push(all[(b * 3 + 0) * heads + h]);
          ks.push(all[(b * 3 + 1) * heads + h]);
          vs.push(all[(b * 3 + 2) * heads + h]);
        }
      }
    } else {
      qs.push(...splitHeads(qIn, batch, lq, 1, heads));
      const kvs = splitHeads(kvIn, batch, lk, 2, heads);
      for (let b = 0; b < batch; b++) {
        for (let h = 0; h < heads; h++) {
          ks.push(kvs[(b * 2 + 0) * heads + h]);
          vs.push(kvs[(b * 2 + 1) * heads + h]);
        }
      }
    }
    const scaled = qs.map((t) => tf.mul(t, scale) as tf.Tensor2D);
    const probs: tf.Tensor2D[] = [];
    const outs: tf.Tensor2D[] = [];
    for (let i = 0; i < scaled.length; i++) {
      let s = tf.matMul(scaled[i], tf.transpose(ks[i]));
      if (mask) s = tf.add(s, mask);
      const p = tf.softmax(s) as tf.Tensor2D;
      probs.push(p);
      outs.push(tf.matMul(p, vs[i]));
    }
    save([...probs, ...scaled, ...ks, ...vs]);
    const value = mergeHeads(outs, batch, lq, 1, heads);
    const gradFunc = (dy: tf.Tensor2D, saved: tf.Tensor[]): tf.Tensor[] => {
      const m = probs.length;
      const p = saved.slice(0, m) as tf.Tensor2D[];
      const sq = saved.slice(m, 2 * m) as tf.Tensor2D[];
      const sk = saved.slice(2 * m, 3 * m) as tf.Tensor2D[];
      const sv = saved.slice(3 * m) as tf.Tensor2D[];
      const dOut = splitHeads(dy, batch, lq, 1, heads);
      const dq: tf.Tensor2D[] = [];
      const dk: tf.Tensor2D[] = [];
      const dv: tf.Tensor2D[] = [];
      for (let i = 0; i < m; i++) {
        dv.push(tf.matMul(tf.transpose(p[i]), dOut[i]));
        const dp = tf.matMul(dOut[i], tf.transpose(sv[i]));
        const ds = tf.mul(p[i], tf.sub(dp, tf.sum(tf.mul(dp, p[i]), -1, true))) as tf.Tensor2D;
        dq.push(tf.mul(tf.matMul(ds, sk[i]), scale) as tf.Tensor2D);
        dk.push(tf.matMul(tf.transpose(ds), sq[i]));
      }
      if (kvIn === null) {
        const packed: tf.Tensor2D[] = [];
        for (let b = 0; b < batch; b++) {
          for (const part of [dq, dk, dv]) packed.push(...part.slice(b * heads, (b + 1) * heads));
        }
        return [mergeHeads(packed, batch, lq, 3, heads)];
      }
      const packedKv: tf.Tensor2D[] = [];
      for (let b = 0; b < batch; b++) {
        for (const part of [dk, dv]) packedKv.push(...part.slice(b * heads, (b + 1) * heads));
      }
      return [mergeHeads(dq, batch, lq, 1, heads), mergeHeads(packedKv, batch, lk, 2, heads)];
    };
    return { value, gradFunc };
  };

  const f = customOp<tf.Tensor2D>((inputs, save) => run(inputs[0], inputs[1] ?? null, save));
  return kv === null ? f(q) : f(q, kv);
}

/** Additive causal mask `[n, n]`: 0 on and below the diagonal, -Infinity above. New tensor. */
export function causalMask(n: number): tf.Tensor2D {
  const v = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) v[i * n + j] = Number.NEGATIVE_INFINITY;
  return tf.tensor2d(v, [n, n]);
}
