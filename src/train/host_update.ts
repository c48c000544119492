/**
 * The optimizer update rules on plain Float32Arrays, for optimizer state kept in JavaScript memory
 * (`stateStorage: 'host'`). Every arithmetic step is one float32 operation (`Math.fround` of the
 * double result, which is the correctly rounded float32 result for +, −, ×, ÷ and √), in the same
 * order and with the same float32 constants as the tensor version in optimizer.ts, so the two give
 * the same bits on backends whose element-wise kernels are IEEE float32 (cpu, wasm). `Math.fround`
 * is written out, not aliased: V8 inlines the builtin only when it sees it by name (an alias made
 * the loop several times slower).
 */

/** Hyper-parameters of one Adam/AdamW update of one parameter. */
export interface HostAdamStep {
  adamW: boolean;
  lr: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** The parameter's step count after this step (1 on its first step). */
  step: number;
}

/**
 * One Adam/AdamW step in place on `m` and `v`; returns the new parameter values (a new array).
 * `param` and `grad` are read only.
 */
export function hostAdamStep(
  param: Float32Array,
  grad: Float32Array,
  m: Float32Array,
  v: Float32Array,
  h: HostAdamStep,
): Float32Array {
  const n = param.length;
  const out = new Float32Array(n);
  const b1 = Math.fround(h.beta1);
  const oneMinusB1 = Math.fround(1 - h.beta1);
  const b2 = Math.fround(h.beta2);
  const oneMinusB2 = Math.fround(1 - h.beta2);
  const wd = Math.fround(h.weightDecay);
  const decay = Math.fround(1 - h.lr * h.weightDecay);
  const biasCorrection1 = 1 - h.beta1 ** h.step;
  const biasCorrection2 = 1 - h.beta2 ** h.step;
  const negStepSize = Math.fround(-(h.lr / biasCorrection1));
  const sqrtBc2 = Math.fround(Math.sqrt(biasCorrection2));
  const eps = Math.fround(h.eps);
  const l2 = !h.adamW && h.weightDecay !== 0;
  for (let i = 0; i < n; i++) {
    let p = param[i];
    let g = grad[i];
    if (h.adamW) p = Math.fround(p * decay);
    else if (l2) g = Math.fround(g + Math.fround(p * wd));
    const mi = Math.fround(Math.fround(m[i] * b1) + Math.fround(g * oneMinusB1));
    const vi = Math.fround(Math.fround(v[i] * b2) + Math.fround(Math.fround(g * oneMinusB2) * g));
    m[i] = mi;
    v[i] = vi;
    const denom = Math.fround(Math.fround(Math.fround(Math.sqrt(vi)) / sqrtBc2) + eps);
    out[i] = Math.fround(p + Math.fround(Math.fround(mi * negStepSize) / denom));
  }
  return out;
}

/**
 * One SGD step (momentum, L2 weight decay, dampening 0). `buf` is the momentum buffer, updated in
 * place, or null for SGD without momentum; `first` marks the parameter's first step (the buffer
 * is then set to the direction, as torch does). Returns the new parameter values (a new array).
 */
export function hostSgdStep(
  param: Float32Array,
  grad: Float32Array,
  buf: Float32Array | null,
  h: { lr: number; weightDecay: number; momentum: number; first: boolean },
): Float32Array {
  const n = param.length;
  const out = new Float32Array(n);
  const wd = Math.fround(h.weightDecay);
  const mom = Math.fround(h.momentum);
  const negLr = Math.fround(-h.lr);
  for (let i = 0; i < n; i++) {
    const p = param[i];
    let d = h.weightDecay !== 0 ? Math.fround(grad[i] + Math.fround(p * wd)) : grad[i];
    if (buf) {
      d = h.first ? d : Math.fround(Math.fround(buf[i] * mom) + d);
      buf[i] = d;
    }
    out[i] = Math.fround(p + Math.fround(d * negLr));
  }
  return out;
}
