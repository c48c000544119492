/**
 * The reference's optimizer options as the fixtures write them (`optimizer.json` cases and
 * `models.json` `optimizer`), and their translation to this library's {@link OptimizerOptions}.
 */
import type { OptimizerName, OptimizerOptions } from '../../src/train/index';

/** Snake-case optimizer options of the fixtures; `momentum` only in optimizer.json, `eps` null for torch's default. */
export interface FixtureOptimizerOptions {
  lr: number;
  lr_factor: number;
  bias_lr_factor: number;
  weight_decay: number;
  weight_decay_bias: number;
  betas: [number, number];
  momentum?: number;
  eps: number | null;
}

/** The {@link OptimizerOptions} of a fixture's options (momentum and eps only where the fixture gives them). */
export function optimizerOptionsOf(optimizer: OptimizerName, o: FixtureOptimizerOptions): OptimizerOptions {
  return {
    optimizer,
    lr: o.lr,
    lrFactor: o.lr_factor,
    biasLrFactor: o.bias_lr_factor,
    weightDecay: o.weight_decay,
    weightDecayBias: o.weight_decay_bias,
    betas: o.betas,
    ...(o.momentum === undefined ? {} : { momentum: o.momentum }),
    ...(o.eps === null ? {} : { eps: o.eps }),
  };
}
