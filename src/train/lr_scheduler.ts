/** Decay shapes after warmup (`--lrscheduler`). */
export type LRScheduleMode = 'step' | 'exp' | 'poly' | 'cosine' | 'linear';
/** Warmup shapes (`--warmup_method`). */
export type WarmupMethod = 'constant' | 'linear';

const MODES: readonly LRScheduleMode[] = ['step', 'exp', 'poly', 'cosine', 'linear'];
const WARMUP_METHODS: readonly WarmupMethod[] = ['constant', 'linear'];

/** Options of {@link LRSchedulerWithWarmup}; every field but `baseLrs` defaults to {@link LR_SCHEDULER_DEFAULTS}. */
export interface LRSchedulerOptions {
  /** The lr of each parameter group before scheduling, e.g. `optimizer.groups.map((g) => g.baseLr)`. */
  baseLrs: readonly number[];
  /** Epochs (0-based) at which `step` mode multiplies the lr by `gamma`, non-decreasing (`--milestones`). Default `[20, 50]`. */
  milestones?: readonly number[];
  /** `step` mode decay factor (`--gamma`). Default `0.1`. */
  gamma?: number;
  /** Warmup starts at `baseLr × warmupFactor` (`--warmup_factor`), in [0, 1]. Default `0.1`. */
  warmupFactor?: number;
  /** Number of warmup epochs (`--warmup_epochs`). Default `5`. */
  warmupEpochs?: number;
  /** `'linear'` ramps from `warmupFactor` to 1, `'constant'` holds `warmupFactor` (`--warmup_method`). Default `'linear'`. */
  warmupMethod?: WarmupMethod;
  /** Length of the run in epochs (`--num_epoch`). Default `60`. */
  totalEpochs?: number;
  /** Decay after warmup (`--lrscheduler`). Default `'cosine'`. */
  mode?: LRScheduleMode;
  /** The lr that `poly` and `cosine` decay towards (`--target_lr`). Default `0`. */
  targetLr?: number;
  /** Exponent base of `exp` and `poly` (`--power`). Default `0.9`. */
  power?: number;
}

/** Defaults of {@link LRSchedulerOptions}: the reference's `utils/options.py` values. */
export const LR_SCHEDULER_DEFAULTS = Object.freeze({
  milestones: Object.freeze([20, 50]) as readonly number[],
  gamma: 0.1,
  warmupFactor: 0.1,
  warmupEpochs: 5,
  warmupMethod: 'linear' as WarmupMethod,
  totalEpochs: 60,
  mode: 'cosine' as LRScheduleMode,
  targetLr: 0,
  power: 0.9,
});

function finite(name: string, v: unknown, min: number, max = Number.POSITIVE_INFINITY): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    const range = max === Number.POSITIVE_INFINITY ? `>= ${min}` : `in [${min}, ${max}]`;
    throw new Error(`LRSchedulerWithWarmup: ${name}: expected a finite number ${range}, got ${String(v)}`);
  }
  return v;
}

function integer(name: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new Error(`LRSchedulerWithWarmup: ${name}: expected an integer >= ${min}, got ${String(v)}`);
  }
  return v;
}

/**
 * The reference's learning-rate schedule (`solver/lr_scheduler.py`), as a pure function of the
 * epoch. For 0-based epoch `e` (the reference's `last_epoch`, stepped once per epoch):
 * - `e < warmupEpochs`: `baseLr × f`, with `f = warmupFactor` (constant) or
 *   `f = warmupFactor·(1 − e/warmupEpochs) + e/warmupEpochs` (linear);
 * - then, with `r = (e − warmupEpochs) / (totalEpochs − warmupEpochs)`:
 *   `step`: `baseLr × gamma^(number of milestones <= e)`; `exp`: `baseLr × power^r`;
 *   `linear`: `baseLr × (1 − r)`; `poly`: `targetLr + (baseLr − targetLr) × power^(1 − r)`;
 *   `cosine`: `targetLr + (baseLr − targetLr) × (1 + cos(π r)) / 2`.
 *
 * The formulas, including `poly` as the reference writes it, are the reference's own.
 *
 * @example
 * ```ts
 * const sched = new LRSchedulerWithWarmup({ baseLrs: optimizer.groups.map((g) => g.baseLr) });
 * optimizer.setLrs(sched.lrAt(epoch));
 * ```
 */
export class LRSchedulerWithWarmup {
  readonly baseLrs: readonly number[];
  readonly milestones: readonly number[];
  readonly gamma: number;
  readonly warmupFactor: number;
  readonly warmupEpochs: number;
  readonly warmupMethod: WarmupMethod;
  readonly totalEpochs: number;
  readonly mode: LRScheduleMode;
  readonly targetLr: number;
  readonly power: number;

  /** Validates `options` and fills the defaults; throws an Error naming the first bad option. */
  constructor(options: LRSchedulerOptions) {
    if (options === null || typeof options !== 'object') {
      throw new Error(`LRSchedulerWithWarmup: options: expected an object with baseLrs, got ${String(options)}`);
    }
    const d = LR_SCHEDULER_DEFAULTS;
    if (!Array.isArray(options.baseLrs) || options.baseLrs.length === 0) {
      throw new Error(
        `LRSchedulerWithWarmup: baseLrs: expected a non-empty array of learning rates, got ${JSON.stringify(options.baseLrs)}`,
      );
    }
    this.baseLrs = Object.freeze(options.baseLrs.map((lr, i) => finite(`baseLrs[${i}]`, lr, 0)));
    const milestones = options.milestones ?? d.milestones;
    if (!Array.isArray(milestones)) {
      throw new Error(`LRSchedulerWithWarmup: milestones: expected an array of integers, got ${String(milestones)}`);
    }
    for (let i = 0; i < milestones.length; i++) {
      integer(`milestones[${i}]`, milestones[i], 0);
      if (i > 0 && milestones[i] < milestones[i - 1]) {
        throw new Error(
          `LRSchedulerWithWarmup: milestones: expected a list of increasing integers, got [${milestones.join(', ')}]`,
        );
      }
    }
    this.milestones = Object.freeze([...milestones]);
    const mode = options.mode ?? d.mode;
    if (!MODES.includes(mode)) {
      throw new Error(`LRSchedulerWithWarmup: mode: expected one of ${MODES.join(', ')}, got '${String(mode)}'`);
    }
    this.mode = mode;
    const warmupMethod = options.warmupMethod ?? d.warmupMethod;
    if (!WARMUP_METHODS.includes(warmupMethod)) {
      throw new Error(
        `LRSchedulerWithWarmup: warmupMethod: expected one of ${WARMUP_METHODS.join(', ')}, got '${String(warmupMethod)}'`,
      );
    }
    this.warmupMethod = warmupMethod;
    this.gamma = finite('gamma', options.gamma ?? d.gamma, 0);
    this.warmupFactor = finite('warmupFactor', options.warmupFactor ?? d.warmupFactor, 0, 1);
    this.warmupEpochs = integer('warmupEpochs', options.warmupEpochs ?? d.warmupEpochs, 0);
    this.totalEpochs = integer('totalEpochs', options.totalEpochs ?? d.totalEpochs, 1);
    if (mode !== 'step' && this.totalEpochs <= this.warmupEpochs) {
      throw new Error(
        `LRSchedulerWithWarmup: totalEpochs: mode '${mode}' needs totalEpochs > warmupEpochs (${this.warmupEpochs}), got ${this.totalEpochs}`,
      );
    }
    this.targetLr = finite('targetLr', options.targetLr ?? d.targetLr, 0);
    this.power = finite('power', options.power ?? d.power, 0);
  }

  /**
   * The lr of each group (same order as `baseLrs`) in 0-based epoch `epoch`, an integer >= 0.
   * Returns a new array.
   */
  lrAt(epoch: number): number[] {
    if (typeof epoch !== 'number' || !Number.isInteger(epoch) || epoch < 0) {
      throw new Error(`LRSchedulerWithWarmup.lrAt: epoch: expected an integer >= 0, got ${String(epoch)}`);
    }
    if (epoch < this.warmupEpochs) {
      let factor = this.warmupFactor;
      if (this.warmupMethod === 'linear') {
        const alpha = epoch / this.warmupEpochs;
        factor = this.warmupFactor * (1 - alpha) + alpha;
      }
      return this.baseLrs.map((lr) => lr * factor);
    }
    if (this.mode === 'step') {
      const passed = this.milestones.filter((m) => m <= epoch).length;
      return this.baseLrs.map((lr) => lr * this.gamma ** passed);
    }
    const ratio = (epoch - this.warmupEpochs) / (this.totalEpochs - this.warmupEpochs);
    const target = this.targetLr;
    switch (this.mode) {
      case 'exp':
        return this.baseLrs.map((lr) => lr * this.power ** ratio);
      case 'linear':
        return this.baseLrs.map((lr) => lr * (1 - ratio));
      case 'poly':
        return this.baseLrs.map((lr) => target + (lr - target) * this.power ** (1 - ratio));
      default: {
        const factor = 0.5 * (1 + Math.cos(Math.PI * ratio));
        return this.baseLrs.map((lr) => target + (lr - target) * factor);
      }
    }
  }
}
