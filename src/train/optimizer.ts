import * as tf from '@tensorflow/tfjs-core';
import { hostAdamStep, hostSgdStep } from './host_update';
import { type ParamGroupRuleOptions, referenceParamGroups } from './param_groups';

/** The optimizers the reference offers (`--optimizer`). */
export type OptimizerName = 'Adam' | 'AdamW' | 'SGD';

const OPTIMIZER_NAMES: readonly OptimizerName[] = ['Adam', 'AdamW', 'SGD'];

/**
 * Where the optimizer keeps its state (Adam's two moments, SGD's momentum buffer):
 * - `'backend'`: tf.Variables on the active backend; the update runs as tensor ops there.
 * - `'host'`: Float32Arrays in JavaScript memory; each step reads the parameter and its gradient
 *   back (`dataSync`), updates in JavaScript and assigns the new values. Same update, bit for bit,
 *   on cpu and wasm (tested). It moves 2 × the parameters' size (Adam) out of the backend's
 *   memory: what lets a ViT-B/16 step at batch 8 fit tfjs-wasm's 4 GB heap. On webgl/webgpu the
 *   read-back is a GPU → CPU sync per parameter, so prefer `'backend'` there unless memory is the
 *   limit.
 */
export type OptimizerStateStorage = 'backend' | 'host';

const STATE_STORAGES: readonly OptimizerStateStorage[] = ['backend', 'host'];

/**
 * Options of {@link buildOptimizer}: the reference's `solver` arguments in camelCase. Every field
 * is optional; {@link OPTIMIZER_DEFAULTS} holds the defaults.
 */
export interface OptimizerOptions {
  /** `'Adam'` (torch.optim.Adam, L2 weight decay), `'AdamW'` (decoupled decay) or `'SGD'` (momentum). Default `'Adam'`. */
  optimizer?: OptimizerName;
  /** Base learning rate (`--lr`). Default `1e-5`. */
  lr?: number;
  /** lr multiplier for names containing `cross`, `classifier` or `mlm_head` (`--lr_factor`). Default `5`. */
  lrFactor?: number;
  /** lr multiplier for names containing `bias` (`--bias_lr_factor`). Default `2`. */
  biasLrFactor?: number;
  /** Weight decay of non-bias parameters (`--weight_decay`). Default `4e-5`. */
  weightDecay?: number;
  /** Weight decay of biases (`--weight_decay_bias`). Default `0`. */
  weightDecayBias?: number;
  /** Adam/AdamW `(beta1, beta2)` (`--alpha`, `--beta`). Default `[0.9, 0.999]`. */
  betas?: readonly [number, number];
  /** Adam/AdamW epsilon. Default as the reference hard-codes it: `1e-3` for Adam, `1e-8` for AdamW. SGD ignores it. */
  eps?: number;
  /** SGD momentum (`--momentum`); `0` keeps no momentum buffer. Default `0.9`. Adam/AdamW ignore it. */
  momentum?: number;
  /** Where the state lives; see {@link OptimizerStateStorage}. Default `'backend'`. Not in the reference. */
  stateStorage?: OptimizerStateStorage;
}

/** Defaults of {@link OptimizerOptions}, the reference's `utils/options.py` and `solver/build.py` values. */
export const OPTIMIZER_DEFAULTS = Object.freeze({
  optimizer: 'Adam' as OptimizerName,
  lr: 1e-5,
  lrFactor: 5,
  biasLrFactor: 2,
  weightDecay: 4e-5,
  weightDecayBias: 0,
  betas: Object.freeze([0.9, 0.999] as const),
  eps: Object.freeze({ Adam: 1e-3, AdamW: 1e-8 } as const),
  momentum: 0.9,
  stateStorage: 'backend' as OptimizerStateStorage,
});

/** One parameter group as the optimizer currently uses it. */
export interface OptimizerGroup {
  /** Names of the parameters in the group. */
  readonly names: readonly string[];
  /** The lr the group rules assigned (what the schedule scales). */
  readonly baseLr: number;
  /** The lr the next step uses (`baseLr` until {@link IrraOptimizer.setLrFactor} / `setLrs` change it). */
  readonly lr: number;
  /** The group's weight decay (L2 for Adam and SGD, decoupled for AdamW). */
  readonly weightDecay: number;
}

/** One optimizer state tensor, as plain data. */
export interface SlotState {
  /** Shape, the parameter's stored shape. */
  shape: number[];
  /** float32 values, C order. */
  data: Float32Array;
}

/**
 * The optimizer state of one parameter, torch's per-parameter `state` in plain data: its own step
 * count and its slots, `expAvg` and `expAvgSq` for Adam/AdamW, `momentumBuffer` for SGD with
 * momentum, none for SGD without.
 */
export interface ParamOptimizerState {
  step: number;
  slots: Record<string, SlotState>;
}

/** Everything needed to resume an optimizer (see {@link IrraOptimizer.getState}). */
export interface OptimizerState {
  /** Which optimizer wrote it; `setState` refuses another kind. */
  optimizer: OptimizerName;
  /** Number of `applyGradients` / `minimize` calls so far. */
  step: number;
  /** The current lr of each group, in group order. */
  lrs: number[];
  /** Per-parameter state of every parameter that has taken at least one step. */
  params: Record<string, ParamOptimizerState>;
}

/** What {@link buildOptimizer} accepts as parameters: a name → variable map, or a model that has one. */
export type NamedParameters = Map<string, tf.Variable> | { namedParameters(): Map<string, tf.Variable> };

interface Hyper {
  optimizer: OptimizerName;
  beta1: number;
  beta2: number;
  eps: number;
  momentum: number;
  storage: OptimizerStateStorage;
}

interface MutableGroup {
  names: string[];
  baseLr: number;
  lr: number;
  weightDecay: number;
}

interface ParamSlot {
  step: number;
  /** Slots on the backend (`stateStorage: 'backend'`). */
  slots: Map<string, tf.Variable>;
  /** Slots in JavaScript memory (`stateStorage: 'host'`). */
  hostSlots: Map<string, Float32Array>;
}

function slotNames(h: Hyper): string[] {
  if (h.optimizer === 'SGD') return h.momentum !== 0 ? ['momentumBuffer'] : [];
  return ['expAvg', 'expAvgSq'];
}

function checkNonNegative(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new Error(`${name}: expected a finite number >= 0, got ${String(value)}`);
  }
  return value;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * The reference's optimizer (torch.optim 1.13 Adam, AdamW or SGD over the reference parameter
 * groups) on tfjs variables. Build it with {@link buildOptimizer}.
 *
 * It updates the variables it was given in place (`variable.assign`) and owns its state tensors
 * (tf.Variables, created on a parameter's first step), which {@link IrraOptimizer.dispose} frees.
 * It never disposes the parameters or the gradients passed to it.
 */
export class IrraOptimizer {
  /** Which update rule this optimizer runs. */
  readonly optimizer: OptimizerName;
  /** Where its state lives ({@link OptimizerStateStorage}). */
  readonly stateStorage: OptimizerStateStorage;
  private readonly vars: Map<string, tf.Variable>;
  private readonly groupList: MutableGroup[];
  private readonly groupOf = new Map<string, MutableGroup>();
  private readonly hyper: Hyper;
  private readonly state = new Map<string, ParamSlot>();
  private stepCount = 0;
  private disposed = false;

  /** @internal Use {@link buildOptimizer}. */
  constructor(vars: Map<string, tf.Variable>, groups: MutableGroup[], hyper: Hyper) {
    this.vars = vars;
    this.groupList = groups;
    this.hyper = hyper;
    this.optimizer = hyper.optimizer;
    this.stateStorage = hyper.storage;
    for (const g of groups) for (const n of g.names) this.groupOf.set(n, g);
  }

  /** The parameter groups (a snapshot: names, base lr, current lr, weight decay). */
  get groups(): readonly OptimizerGroup[] {
    return this.groupList.map((g) =>
      Object.freeze({ names: Object.freeze([...g.names]), baseLr: g.baseLr, lr: g.lr, weightDecay: g.weightDecay }),
    );
  }

  /** Number of steps taken (`applyGradients` / `minimize` calls). */
  get step(): number {
    return this.stepCount;
  }

  /** The variables this optimizer updates, by name (not copies: the caller's variables). */
  get variables(): ReadonlyMap<string, tf.Variable> {
    return this.vars;
  }

  private assertAlive(): void {
    if (this.disposed) throw new Error('IrraOptimizer: this optimizer has been disposed');
  }

  /**
   * One optimizer step with the given gradients. `grads` maps parameter names to gradients in the
   * variable's stored shape, float32; parameters without an entry are left alone (as torch skips a
   * parameter whose `.grad` is None: neither the parameter nor its step count changes). Every entry
   * is checked before anything is updated. The caller keeps ownership of `grads`, unless
   * `opts.disposeGradients` is true: then each gradient is disposed as soon as its parameter is
   * updated, which lowers the step's peak memory by up to the size of all gradients (the
   * optimizer's new slots can reuse their memory; what lets a ViT-B/16 step fit the wasm heap).
   */
  applyGradients(grads: Map<string, tf.Tensor>, opts: { disposeGradients?: boolean } = {}): void {
    this.assertAlive();
    if (!(grads instanceof Map)) {
      throw new Error(`applyGradients: grads: expected a Map of parameter name -> tf.Tensor, got ${typeof grads}`);
    }
    for (const [name, g] of grads) {
      const v = this.vars.get(name);
      if (!v) throw new Error(`applyGradients: grads: '${name}' is not a parameter of this optimizer`);
      if (!(g instanceof tf.Tensor)) throw new Error(`applyGradients: grads: '${name}' is not a tf.Tensor`);
      if (g.isDisposed) throw new Error(`applyGradients: grads: the gradient of '${name}' is disposed`);
      if (g.dtype !== 'float32') {
        throw new Error(`applyGradients: grads: the gradient of '${name}' must be float32, got ${g.dtype}`);
      }
      if (!sameShape(g.shape, v.shape)) {
        throw new Error(
          `applyGradients: grads: the gradient of '${name}' must have the variable's shape [${v.shape}], got [${g.shape}]`,
        );
      }
    }
    this.stepCount += 1;
    for (const [name, g] of grads) {
      this.updateOne(name, g);
      if (opts.disposeGradients) g.dispose();
    }
  }

  private updateOne(name: string, grad: tf.Tensor): void {
    const p = this.vars.get(name) as tf.Variable;
    const group = this.groupOf.get(name) as MutableGroup;
    const { lr, weightDecay: wd } = group;
    const h = this.hyper;
    let st = this.state.get(name);
    const fresh = !st;
    if (!st) {
      st = { step: 0, slots: new Map(), hostSlots: new Map() };
      this.state.set(name, st);
    }
    st.step += 1;
    const step = st.step;
    if (h.storage === 'host') {
      this.updateOnHost(p, grad, st, { lr, wd, fresh });
      return;
    }
    const slots = st.slots;
    tf.tidy(() => {
      if (h.optimizer === 'SGD') {
        const d = wd !== 0 ? tf.add(grad, tf.mul(p, wd)) : grad;
        let dir: tf.Tensor = d;
        if (h.momentum !== 0) {
          if (fresh) {
            slots.set('momentumBuffer', tf.variable(tf.clone(d), false));
          } else {
            const buf = slots.get('momentumBuffer') as tf.Variable;
            buf.assign(tf.add(tf.mul(buf, h.momentum), d));
          }
          dir = slots.get('momentumBuffer') as tf.Variable;
        }
        p.assign(tf.add(p, tf.mul(dir, -lr)));
        return;
      }
      if (fresh) {
        slots.set('expAvg', tf.variable(tf.zerosLike(p), false));
        slots.set('expAvgSq', tf.variable(tf.zerosLike(p), false));
      }
      const m = slots.get('expAvg') as tf.Variable;
      const v = slots.get('expAvgSq') as tf.Variable;
      // Each new value is computed in its own tidy, so that a variable's temporaries are freed as
      // soon as it is assigned: for the [49408, 512] token embedding (101 MB) one tidy around
      // everything held ~12 temporaries of that size at once, which broke the 4 GB wasm heap.
      let g = grad;
      if (h.optimizer === 'AdamW') {
        p.assign(tf.tidy(() => tf.mul(p, 1 - lr * wd)));
      } else if (wd !== 0) {
        g = tf.tidy(() => tf.add(grad, tf.mul(p, wd)));
      }
      m.assign(tf.tidy(() => tf.add(tf.mul(m, h.beta1), tf.mul(g, 1 - h.beta1))));
      v.assign(tf.tidy(() => tf.add(tf.mul(v, h.beta2), tf.mul(tf.mul(g, 1 - h.beta2), g))));
      const biasCorrection1 = 1 - h.beta1 ** step;
      const biasCorrection2 = 1 - h.beta2 ** step;
      const stepSize = lr / biasCorrection1;
      p.assign(
        tf.tidy(() => {
          const denom = tf.add(tf.div(tf.sqrt(v), Math.sqrt(biasCorrection2)), h.eps);
          return tf.add(p, tf.div(tf.mul(m, -stepSize), denom));
        }),
      );
    });
  }

  private updateOnHost(
    p: tf.Variable,
    grad: tf.Tensor,
    st: ParamSlot,
    o: { lr: number; wd: number; fresh: boolean },
  ): void {
    const h = this.hyper;
    const size = p.size;
    // dataSync may hand out the backend's own array (cpu): only read from these two.
    const param = p.dataSync() as Float32Array;
    const g = grad.dataSync() as Float32Array;
    let next: Float32Array;
    if (h.optimizer === 'SGD') {
      if (o.fresh && h.momentum !== 0) st.hostSlots.set('momentumBuffer', new Float32Array(size));
      const buf = st.hostSlots.get('momentumBuffer') ?? null;
      next = hostSgdStep(param, g, buf, { lr: o.lr, weightDecay: o.wd, momentum: h.momentum, first: o.fresh });
    } else {
      if (o.fresh) {
        st.hostSlots.set('expAvg', new Float32Array(size));
        st.hostSlots.set('expAvgSq', new Float32Array(size));
      }
      next = hostAdamStep(
        param,
        g,
        st.hostSlots.get('expAvg') as Float32Array,
        st.hostSlots.get('expAvgSq') as Float32Array,
        {
          adamW: h.optimizer === 'AdamW',
          lr: o.lr,
          weightDecay: o.wd,
          beta1: h.beta1,
          beta2: h.beta2,
          eps: h.eps,
          step: st.step,
        },
      );
    }
    // assign shares the new tensor's data with the variable; the tensor itself is ours to free.
    const value = tf.tensor(next, p.shape, 'float32');
    p.assign(value);
    value.dispose();
  }

  /**
   * One step on the gradient of `lossFn` (which must return a scalar) with respect to this
   * optimizer's trainable variables, via `tf.variableGrads`; variables the loss does not depend on
   * are skipped. Intermediate tensors, the loss and the gradients are disposed. Returns the loss
   * value (read synchronously).
   */
  minimize(lossFn: () => tf.Scalar): number {
    this.assertAlive();
    if (typeof lossFn !== 'function') throw new Error(`minimize: lossFn: expected a function, got ${typeof lossFn}`);
    const byVarName = new Map<string, string>();
    const varList: tf.Variable[] = [];
    for (const [name, v] of this.vars) {
      if (!v.trainable) continue;
      byVarName.set(v.name, name);
      varList.push(v);
    }
    // A non-scalar loss is reported after variableGrads returns: an error thrown inside it would
    // leave the tensors its tape saved behind.
    let badShape: number[] | null = null;
    const scalarLoss = (): tf.Scalar => {
      const y = lossFn();
      if (!(y instanceof tf.Tensor))
        throw new Error(`minimize: lossFn: expected it to return a tf.Tensor, got ${typeof y}`);
      if (y.rank === 0) return y;
      badShape = y.shape;
      return tf.sum(y);
    };
    const { value, grads } = tf.variableGrads(scalarLoss, varList);
    try {
      if (badShape) {
        throw new Error(`minimize: lossFn: expected it to return a scalar tf.Tensor, got shape [${badShape}]`);
      }
      const named = new Map<string, tf.Tensor>();
      for (const [varName, g] of Object.entries(grads)) named.set(byVarName.get(varName) as string, g);
      this.applyGradients(named, { disposeGradients: true });
      return value.dataSync()[0];
    } finally {
      value.dispose();
      tf.dispose(grads);
    }
  }

  /**
   * Sets every group's lr to `baseLr × factor` (the schedule's multiplier; unrelated to the
   * `lrFactor` option, which shaped the base lrs). `factor` must be finite and >= 0.
   */
  setLrFactor(factor: number): void {
    this.assertAlive();
    checkNonNegative('setLrFactor: factor', factor);
    for (const g of this.groupList) g.lr = g.baseLr * factor;
  }

  /**
   * Sets each group's lr, in group order: e.g. `setLrs(scheduler.lrAt(epoch))` for a scheduler
   * built on `optimizer.groups.map((g) => g.baseLr)`. One finite lr >= 0 per group.
   */
  setLrs(lrs: readonly number[]): void {
    this.assertAlive();
    if (!Array.isArray(lrs) || lrs.length !== this.groupList.length) {
      throw new Error(
        `setLrs: lrs: expected an array of ${this.groupList.length} learning rates (one per group), got ${
          Array.isArray(lrs) ? `${lrs.length}` : typeof lrs
        }`,
      );
    }
    for (let i = 0; i < lrs.length; i++) checkNonNegative(`setLrs: lrs[${i}]`, lrs[i]);
    this.groupList.forEach((g, i) => {
      g.lr = lrs[i];
    });
  }

  /** The optimizer's state as plain data (copies), for checkpoints; see {@link OptimizerState}. */
  getState(): OptimizerState {
    this.assertAlive();
    const params: Record<string, ParamOptimizerState> = {};
    for (const [name, st] of this.state) {
      const slots: Record<string, SlotState> = {};
      for (const [slot, v] of st.slots) {
        slots[slot] = { shape: [...v.shape], data: Float32Array.from(v.dataSync() as Float32Array) };
      }
      const shape = this.vars.get(name)?.shape ?? [];
      for (const [slot, data] of st.hostSlots) slots[slot] = { shape: [...shape], data: Float32Array.from(data) };
      params[name] = { step: st.step, slots };
    }
    return { optimizer: this.optimizer, step: this.stepCount, lrs: this.groupList.map((g) => g.lr), params };
  }

  /**
   * Replaces the optimizer's state with `state` (from {@link IrraOptimizer.getState} of an
   * optimizer of the same kind over the same parameters); continuing then gives the same numbers
   * as the run that saved it. Everything is checked before anything changes.
   */
  setState(state: OptimizerState): void {
    this.assertAlive();
    if (state === null || typeof state !== 'object')
      throw new Error(`setState: state: expected an object, got ${state}`);
    if (state.optimizer !== this.optimizer) {
      throw new Error(`setState: state.optimizer: expected '${this.optimizer}', got '${String(state.optimizer)}'`);
    }
    if (!Number.isInteger(state.step) || state.step < 0) {
      throw new Error(`setState: state.step: expected an integer >= 0, got ${String(state.step)}`);
    }
    if (!Array.isArray(state.lrs) || state.lrs.length !== this.groupList.length) {
      throw new Error(
        `setState: state.lrs: expected ${this.groupList.length} learning rates, got ${
          Array.isArray(state.lrs) ? state.lrs.length : typeof state.lrs
        }`,
      );
    }
    for (let i = 0; i < state.lrs.length; i++) checkNonNegative(`setState: state.lrs[${i}]`, state.lrs[i]);
    if (state.params === null || typeof state.params !== 'object') {
      throw new Error(`setState: state.params: expected an object of per-parameter states, got ${state.params}`);
    }
    const expected = slotNames(this.hyper);
    for (const [name, ps] of Object.entries(state.params)) {
      const v = this.vars.get(name);
      if (!v) throw new Error(`setState: state.params: '${name}' is not a parameter of this optimizer`);
      if (!Number.isInteger(ps.step) || ps.step < 1) {
        throw new Error(`setState: state.params['${name}'].step: expected an integer >= 1, got ${String(ps.step)}`);
      }
      const got = Object.keys(ps.slots ?? {}).sort();
      if (got.join(',') !== [...expected].sort().join(',')) {
        throw new Error(
          `setState: state.params['${name}'].slots: expected [${expected}] for ${this.optimizer}, got [${got}]`,
        );
      }
      for (const slot of expected) {
        const s = ps.slots[slot];
        const size = v.shape.reduce((a, b) => a * b, 1);
        if (!sameShape(s.shape, v.shape) || !(s.data instanceof Float32Array) || s.data.length !== size) {
          throw new Error(
            `setState: state.params['${name}'].slots.${slot}: expected shape [${v.shape}] with ${size} float32 values, got shape [${s.shape}] with ${s.data?.length} values`,
          );
        }
      }
    }
    this.disposeState();
    for (const [name, ps] of Object.entries(state.params)) {
      const slots = new Map<string, tf.Variable>();
      const hostSlots = new Map<string, Float32Array>();
      for (const slot of expected) {
        const s = ps.slots[slot];
        if (this.stateStorage === 'host') hostSlots.set(slot, Float32Array.from(s.data));
        else {
          slots.set(
            slot,
            tf.tidy(() => tf.variable(tf.tensor(Float32Array.from(s.data), s.shape, 'float32'), false)),
          );
        }
      }
      this.state.set(name, { step: ps.step, slots, hostSlots });
    }
    this.stepCount = state.step;
    this.groupList.forEach((g, i) => {
      g.lr = state.lrs[i];
    });
  }

  private disposeState(): void {
    for (const st of this.state.values()) for (const v of st.slots.values()) v.dispose();
    this.state.clear();
  }

  /** Frees the optimizer's state tensors (not the parameters). The optimizer is unusable afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.disposeState();
    this.disposed = true;
  }
}

/**
 * Builds the reference's optimizer (`solver/build.py` `build_optimizer`) over named variables:
 * the parameter groups of {@link referenceParamHyper} (lr × `lrFactor` for `cross`, biases
 * lr × `biasLrFactor` with `weightDecayBias`, lr × `lrFactor` for `classifier`/`mlm_head`), and
 * torch.optim 1.13 semantics:
 * - Adam: `g += wd·p`; `m = β1·m + (1−β1)·g`; `v = β2·v + (1−β2)·g²`;
 *   `p −= lr/(1−β1^t) · m / (√v/√(1−β2^t) + eps)`;
 * - AdamW: `p *= 1 − lr·wd`, then Adam without the L2 term;
 * - SGD: `d = g + wd·p`; `buf = d` on the first step, then `buf = momentum·buf + d`; `p −= lr·buf`
 *   (dampening 0, no Nesterov).
 *
 * `params` is a Map of reference name → tf.Variable, or a model with `namedParameters()`.
 * Variables with `trainable === false` are left out (the reference skips `requires_grad=False`).
 * Every variable must be float32, and each may appear once.
 *
 * @example
 * ```ts
 * const opt = buildOptimizer(model, { lr: 1e-5 });
 * const sched = new LRSchedulerWithWarmup({ baseLrs: opt.groups.map((g) => g.baseLr) });
 * for (let epoch = 0; epoch < 60; epoch++) {
 *   opt.setLrs(sched.lrAt(epoch));
 *   for (const batch of batches) opt.minimize(() => totalLoss(model, batch));
 * }
 * opt.dispose();
 * ```
 */
export function buildOptimizer(params: NamedParameters, options: OptimizerOptions = {}): IrraOptimizer {
  let map: Map<string, tf.Variable>;
  if (params instanceof Map) map = params;
  else if (params && typeof (params as { namedParameters?: unknown }).namedParameters === 'function') {
    map = params.namedParameters();
    if (!(map instanceof Map)) throw new Error('buildOptimizer: params.namedParameters() must return a Map');
  } else {
    throw new Error(
      'buildOptimizer: params: expected a Map of name -> tf.Variable or an object with namedParameters()',
    );
  }
  const optimizer = options.optimizer ?? OPTIMIZER_DEFAULTS.optimizer;
  if (!OPTIMIZER_NAMES.includes(optimizer)) {
    throw new Error(
      `buildOptimizer: options.optimizer: expected one of ${OPTIMIZER_NAMES.join(', ')}, got '${optimizer}'`,
    );
  }
  const rules: ParamGroupRuleOptions = {
    lr: checkNonNegative('buildOptimizer: options.lr', options.lr ?? OPTIMIZER_DEFAULTS.lr),
    lrFactor: checkNonNegative('buildOptimizer: options.lrFactor', options.lrFactor ?? OPTIMIZER_DEFAULTS.lrFactor),
    biasLrFactor: checkNonNegative(
      'buildOptimizer: options.biasLrFactor',
      options.biasLrFactor ?? OPTIMIZER_DEFAULTS.biasLrFactor,
    ),
    weightDecay: checkNonNegative(
      'buildOptimizer: options.weightDecay',
      options.weightDecay ?? OPTIMIZER_DEFAULTS.weightDecay,
    ),
    weightDecayBias: checkNonNegative(
      'buildOptimizer: options.weightDecayBias',
      options.weightDecayBias ?? OPTIMIZER_DEFAULTS.weightDecayBias,
    ),
  };
  const betas = options.betas ?? OPTIMIZER_DEFAULTS.betas;
  if (
    !Array.isArray(betas) ||
    betas.length !== 2 ||
    !betas.every((b) => typeof b === 'number' && Number.isFinite(b) && b >= 0 && b < 1)
  ) {
    throw new Error(`buildOptimizer: options.betas: expected two numbers in [0, 1), got ${JSON.stringify(betas)}`);
  }
  const eps = checkNonNegative(
    'buildOptimizer: options.eps',
    options.eps ?? (optimizer === 'SGD' ? 0 : OPTIMIZER_DEFAULTS.eps[optimizer]),
  );
  const momentum = checkNonNegative(
    'buildOptimizer: options.momentum',
    options.momentum ?? OPTIMIZER_DEFAULTS.momentum,
  );
  const storage = options.stateStorage ?? OPTIMIZER_DEFAULTS.stateStorage;
  if (!STATE_STORAGES.includes(storage)) {
    throw new Error(
      `buildOptimizer: options.stateStorage: expected one of ${STATE_STORAGES.join(', ')}, got '${String(storage)}'`,
    );
  }

  const vars = new Map<string, tf.Variable>();
  const seen = new Map<tf.Variable, string>();
  for (const [name, v] of map) {
    if (!(v instanceof tf.Variable)) throw new Error(`buildOptimizer: params: '${name}' is not a tf.Variable`);
    if (!v.trainable) continue;
    if (v.dtype !== 'float32') {
      throw new Error(`buildOptimizer: params: '${name}' must be a float32 variable, got ${v.dtype}`);
    }
    const other = seen.get(v);
    if (other !== undefined) {
      throw new Error(`buildOptimizer: params: '${name}' and '${other}' are the same variable; list each once`);
    }
    seen.set(v, name);
    vars.set(name, v);
  }
  if (vars.size === 0) throw new Error('buildOptimizer: params: no trainable variables (the optimizer would be empty)');
  const groups = referenceParamGroups(vars.keys(), rules).map((g) => ({ ...g, lr: g.baseLr }));
  return new IrraOptimizer(vars, groups, {
    optimizer,
    beta1: betas[0],
    beta2: betas[1],
    eps,
    momentum,
    storage,
  });
}
