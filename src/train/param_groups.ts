/**
 * The reference's parameter-group rules (`solver/build.py` `build_optimizer`): which learning rate
 * and weight decay each named parameter trains with.
 */

/** The options the group rules read (all required here; `buildOptimizer` fills the defaults). */
export interface ParamGroupRuleOptions {
  /** Base learning rate (`--lr`). */
  lr: number;
  /** Learning-rate multiplier for the randomly initialised modules (`--lr_factor`). */
  lrFactor: number;
  /** Learning-rate multiplier for biases (`--bias_lr_factor`). */
  biasLrFactor: number;
  /** Weight decay of every non-bias parameter (`--weight_decay`). */
  weightDecay: number;
  /** Weight decay of biases (`--weight_decay_bias`). */
  weightDecayBias: number;
}

/** The learning rate and weight decay one parameter trains with. */
export interface ParamHyper {
  lr: number;
  weightDecay: number;
}

/**
 * The learning rate and weight decay the reference assigns to the parameter called `name`.
 * The rules run in the reference's order, each later one overriding what it sets:
 * 1. `cross` in the name (the cross-modal fusion): lr = `lr × lrFactor`;
 * 2. `bias` in the name: lr = `lr × biasLrFactor`, weight decay = `weightDecayBias`;
 * 3. `classifier` or `mlm_head` in the name: lr = `lr × lrFactor` (the weight decay of rule 2 stays).
 * So `cross_attn.out_proj.bias` trains at `lr × biasLrFactor` and `mlm_head.ln.bias` at
 * `lr × lrFactor` with weight decay `weightDecayBias`. Products are computed in double precision,
 * exactly as Python does.
 */
export function referenceParamHyper(name: string, options: ParamGroupRuleOptions): ParamHyper {
  let lr = options.lr;
  let weightDecay = options.weightDecay;
  if (name.includes('cross')) lr = options.lr * options.lrFactor;
  if (name.includes('bias')) {
    lr = options.lr * options.biasLrFactor;
    weightDecay = options.weightDecayBias;
  }
  if (name.includes('classifier') || name.includes('mlm_head')) lr = options.lr * options.lrFactor;
  return { lr, weightDecay };
}

/** One parameter group: the parameters sharing a learning rate and weight decay. */
export interface ParamGroupSpec {
  /** Parameter names in the group, in the order they were given. */
  names: string[];
  /** The group's learning rate before any schedule. */
  baseLr: number;
  /** The group's weight decay. */
  weightDecay: number;
}

/**
 * Groups `names` by the (lr, weight decay) that {@link referenceParamHyper} assigns, groups in
 * order of first appearance. The reference makes one torch group per parameter; since every
 * optimizer here is elementwise, parameters with equal hyperparameters in one group train
 * identically to one group each, and a schedule needs one lr per group instead of per tensor.
 */
export function referenceParamGroups(names: Iterable<string>, options: ParamGroupRuleOptions): ParamGroupSpec[] {
  const groups: ParamGroupSpec[] = [];
  const byKey = new Map<string, ParamGroupSpec>();
  for (const name of names) {
    const { lr, weightDecay } = referenceParamHyper(name, options);
    const key = `${lr}|${weightDecay}`;
    let g = byKey.get(key);
    if (!g) {
      g = { names: [], baseLr: lr, weightDecay };
      byKey.set(key, g);
      groups.push(g);
    }
    g.names.push(name);
  }
  return groups;
}
