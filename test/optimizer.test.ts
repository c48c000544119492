import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  buildOptimizer,
  type IrraOptimizer,
  OPTIMIZER_DEFAULTS,
  type OptimizerName,
  type OptimizerOptions,
  referenceParamHyper,
} from '../src/train/index';
import { expectClose } from './helpers/compare';
import { fixtureJson, fixtureRaw } from './helpers/fixtures';
import { type FixtureOptimizerOptions, optimizerOptionsOf } from './helpers/optimizer_fixtures';

interface OptCase {
  optimizer: OptimizerName;
  options: FixtureOptimizerOptions & { momentum: number };
  param_groups: Record<string, { lr: number; weight_decay: number }>;
}
interface OptFixture {
  names: string[];
  steps: number;
  cases: OptCase[];
}

const FILE = 'optimizer.safetensors';
const fx = fixtureJson<OptFixture>('optimizer.json');

function optionsOf(c: OptCase): OptimizerOptions {
  return optimizerOptionsOf(c.optimizer, c.options);
}

function fixtureVariables(prefix = 'param'): Map<string, tf.Variable> {
  const m = new Map<string, tf.Variable>();
  for (const n of fx.names) {
    const r = fixtureRaw(FILE, `${prefix}.${n}`);
    m.set(
      n,
      tf.tidy(() => tf.variable(tf.tensor(r.data, r.shape, 'float32'))),
    );
  }
  return m;
}

function fixtureGrads(k: number): Map<string, tf.Tensor> {
  const m = new Map<string, tf.Tensor>();
  for (const n of fx.names) {
    const r = fixtureRaw(FILE, `grad${k}.${n}`);
    m.set(n, tf.tensor(r.data, r.shape, 'float32'));
  }
  return m;
}

function values(vars: Map<string, tf.Variable>): Map<string, Float64Array> {
  return new Map([...vars].map(([n, v]) => [n, Float64Array.from(v.dataSync())]));
}

function disposeAll(...maps: Map<string, tf.Tensor>[]): void {
  for (const m of maps) for (const t of m.values()) t.dispose();
}

let baseline = 0;
beforeEach(() => {
  baseline = tf.memory().numTensors;
});
afterEach(() => {
  expect(tf.memory().numTensors, 'tensors left behind by the test').toBe(baseline);
});

describe('reference parameter groups', () => {
  it.each(fx.cases.map((c) => [c.optimizer, c] as const))(
    '%s: every name gets the reference lr and weight decay',
    (_, c) => {
      const vars = fixtureVariables();
      const opt = buildOptimizer(vars, optionsOf(c));
      const seen = new Set<string>();
      for (const g of opt.groups) {
        expect(g.lr).toBe(g.baseLr);
        for (const n of g.names) {
          seen.add(n);
          expect({ name: n, lr: g.baseLr, wd: g.weightDecay }).toEqual({
            name: n,
            lr: c.param_groups[n].lr,
            wd: c.param_groups[n].weight_decay,
          });
        }
      }
      expect([...seen].sort()).toEqual([...fx.names].sort());
      opt.dispose();
      disposeAll(vars);
    },
  );

  it('matches the groups listed for every parameter of both tiny models (models.json)', () => {
    const models = fixtureJson<{
      models: Record<
        string,
        {
          optimizer: {
            lr: number;
            lr_factor: number;
            bias_lr_factor: number;
            weight_decay: number;
            weight_decay_bias: number;
          };
          param_groups: Record<string, { lr: number; weight_decay: number }>;
        }
      >;
    }>('models.json').models;
    let count = 0;
    for (const m of Object.values(models)) {
      const o = m.optimizer;
      const rules = {
        lr: o.lr,
        lrFactor: o.lr_factor,
        biasLrFactor: o.bias_lr_factor,
        weightDecay: o.weight_decay,
        weightDecayBias: o.weight_decay_bias,
      };
      for (const [name, g] of Object.entries(m.param_groups)) {
        expect({ name, ...referenceParamHyper(name, rules) }).toEqual({ name, lr: g.lr, weightDecay: g.weight_decay });
        count++;
      }
    }
    expect(count).toBeGreaterThan(100);
  });

  it('applies the rules in the reference order (later rules override earlier ones)', () => {
    const rules = { lr: 1, lrFactor: 5, biasLrFactor: 2, weightDecay: 0.1, weightDecayBias: 0.01 };
    expect(referenceParamHyper('cross_attn.out_proj.bias', rules)).toEqual({ lr: 2, weightDecay: 0.01 });
    expect(referenceParamHyper('mlm_head.ln.bias', rules)).toEqual({ lr: 5, weightDecay: 0.01 });
    expect(referenceParamHyper('classifier.weight', rules)).toEqual({ lr: 5, weightDecay: 0.1 });
    expect(referenceParamHyper('ln_post.weight', rules)).toEqual({ lr: 1, weightDecay: 0.1 });
  });

  it('uses the reference defaults and skips non-trainable variables, also from a model', () => {
    const a = tf.tidy(() => tf.variable(tf.zeros([2]), true, 'pg_default_a'));
    const b = tf.tidy(() => tf.variable(tf.zeros([2]), false, 'pg_default_frozen'));
    const c = tf.tidy(() => tf.variable(tf.zeros([2]), true, 'pg_default_c'));
    const model = {
      namedParameters: () =>
        new Map([
          ['base_model.ln_final.weight', a],
          ['base_model.frozen.weight', b],
          ['cross_attn.in_proj_bias', c],
        ]),
    };
    const opt = buildOptimizer(model);
    expect(opt.optimizer).toBe('Adam');
    expect([...opt.variables.keys()]).toEqual(['base_model.ln_final.weight', 'cross_attn.in_proj_bias']);
    expect(opt.groups.map((g) => [g.names, g.baseLr, g.weightDecay])).toEqual([
      [['base_model.ln_final.weight'], OPTIMIZER_DEFAULTS.lr, OPTIMIZER_DEFAULTS.weightDecay],
      [['cross_attn.in_proj_bias'], OPTIMIZER_DEFAULTS.lr * OPTIMIZER_DEFAULTS.biasLrFactor, 0],
    ]);
    opt.dispose();
    tf.dispose([a, b, c]);
  });
});

describe('parity with torch.optim on fixed gradients (optimizer.*)', () => {
  it.each(fx.cases.map((c) => [c.optimizer, c] as const))('%s: three steps, every update', (name, c) => {
    const vars = fixtureVariables();
    const opt = buildOptimizer(vars, optionsOf(c));
    let prev = values(vars);
    let afterFirst = -1;
    for (let k = 1; k <= fx.steps; k++) {
      const grads = fixtureGrads(k);
      opt.applyGradients(grads);
      disposeAll(grads);
      if (k === 1) afterFirst = tf.memory().numTensors;
      else expect(tf.memory().numTensors, `tensors after step ${k}`).toBe(afterFirst);
      const cur = values(vars);
      for (const n of fx.names) {
        const before =
          k === 1 ? fixtureRaw(FILE, `param.${n}`).data : fixtureRaw(FILE, `${name}.step${k - 1}.${n}`).data;
        const after = fixtureRaw(FILE, `${name}.step${k}.${n}`).data;
        const expected = Float64Array.from(after, (v, i) => v - before[i]);
        const a = cur.get(n) as Float64Array;
        const p = prev.get(n) as Float64Array;
        const actual = a.map((v, i) => v - p[i]);
        expectClose(actual, expected, { kind: 'grad', label: `${name} step${k} ${n}`, group: `update ${name}` });
      }
      prev = cur;
    }
    expect(opt.step).toBe(fx.steps);
    opt.dispose();
    disposeAll(vars);
  });
});

describe('optimizer behaviour', () => {
  it.each(['Adam', 'AdamW', 'SGD'] as const)('%s: getState/setState resumes with identical numbers', (kind) => {
    const c = fx.cases.find((x) => x.optimizer === kind) as OptCase;
    const varsA = fixtureVariables();
    const optA = buildOptimizer(varsA, optionsOf(c));
    for (const k of [1, 2]) {
      const g = fixtureGrads(k);
      optA.applyGradients(g);
      disposeAll(g);
    }
    optA.setLrFactor(0.7);
    const state = optA.getState();
    expect(state.step).toBe(2);
    const varsB = new Map([...varsA].map(([n, v]) => [n, tf.tidy(() => tf.variable(tf.clone(v)))]));
    const optB = buildOptimizer(varsB, optionsOf(c));
    optB.setState(state);
    expect(optB.step).toBe(2);
    expect(optB.groups.map((g) => g.lr)).toEqual(optA.groups.map((g) => g.lr));
    expect(optB.getState()).toEqual(state);
    const g3 = fixtureGrads(3);
    optA.applyGradients(g3);
    optB.applyGradients(g3);
    disposeAll(g3);
    for (const n of fx.names) {
      expect(Array.from((varsB.get(n) as tf.Variable).dataSync()), n).toEqual(
        Array.from((varsA.get(n) as tf.Variable).dataSync()),
      );
    }
    optA.dispose();
    optB.dispose();
    disposeAll(varsA, varsB);
  });

  it('minimize steps on the gradient of the loss and returns the loss value', () => {
    const w = tf.tidy(() => tf.variable(tf.tensor1d([1, -2, 3]), true, 'min_w'));
    const u = tf.tidy(() => tf.variable(tf.tensor1d([0.5, 0.25]), true, 'min_unused'));
    const w2 = tf.tidy(() => tf.variable(tf.tensor1d([1, -2, 3]), true, 'min_w2'));
    const opt = buildOptimizer(
      new Map([
        ['layer.weight', w],
        ['other.weight', u],
      ]),
      { lr: 0.1, weightDecay: 0.01 },
    );
    const ref = buildOptimizer(new Map([['layer.weight', w2]]), { lr: 0.1, weightDecay: 0.01 });
    const target = tf.tensor1d([0.5, 0.5, 0.5]);
    for (let i = 0; i < 3; i++) {
      const expectedLoss = tf.tidy(() => tf.sum(tf.square(tf.sub(w, target))).dataSync()[0]);
      const loss = opt.minimize(() => tf.sum(tf.square(tf.sub(w, target))));
      expect(loss).toBeCloseTo(expectedLoss, 6);
      const grad = tf.tidy(() => tf.mul(tf.sub(w2, target), 2));
      ref.applyGradients(new Map([['layer.weight', grad]]));
      grad.dispose();
      expect(Array.from(w.dataSync())).toEqual(Array.from(w2.dataSync()));
    }
    expect(Array.from(u.dataSync())).toEqual([0.5, 0.25]);
    expect(Object.keys(opt.getState().params)).toEqual(['layer.weight']);
    opt.dispose();
    ref.dispose();
    tf.dispose([w, u, w2, target]);
  });

  it('skips parameters without a gradient, as torch does (their own step count stays)', () => {
    const a = tf.tidy(() => tf.variable(tf.tensor1d([1, 2])));
    const b = tf.tidy(() => tf.variable(tf.tensor1d([1, 2])));
    const opt = buildOptimizer(
      new Map([
        ['a.weight', a],
        ['b.weight', b],
      ]),
      { lr: 0.1 },
    );
    const g = tf.tensor1d([0.3, -0.4]);
    opt.applyGradients(new Map([['a.weight', g]]));
    expect(Array.from(b.dataSync())).toEqual([1, 2]);
    opt.applyGradients(new Map([['b.weight', g]]));
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    const s = opt.getState();
    expect([s.step, s.params['a.weight'].step, s.params['b.weight'].step]).toEqual([2, 1, 1]);
    opt.dispose();
    tf.dispose([a, b, g]);
  });

  it('setLrFactor scales every group lr; setLrs sets them one by one', () => {
    const vars = fixtureVariables();
    const c = fx.cases.find((x) => x.optimizer === 'SGD') as OptCase;
    const full = buildOptimizer(vars, optionsOf(c));
    const half = buildOptimizer(
      new Map([...vars].map(([n, v]) => [n, tf.tidy(() => tf.variable(tf.clone(v)))])),
      optionsOf(c),
    );
    half.setLrFactor(0.5);
    expect(half.groups.map((g) => g.lr)).toEqual(full.groups.map((g) => g.baseLr * 0.5));
    const g = fixtureGrads(1);
    const before = values(vars);
    full.applyGradients(g);
    half.applyGradients(g);
    disposeAll(g);
    for (const n of fx.names) {
      const p = before.get(n) as Float64Array;
      const dFull = Array.from((full.variables.get(n) as tf.Variable).dataSync(), (v, i) => v - p[i]);
      const dHalf = Array.from((half.variables.get(n) as tf.Variable).dataSync(), (v, i) => 2 * (v - p[i]));
      expectClose(dHalf, dFull, { tol: { rel: 1e-4, abs: 1e-6 }, label: `half lr ${n}`, group: 'lr factor' });
    }
    const lrs = full.groups.map((_, i) => 0.001 * (i + 1));
    full.setLrs(lrs);
    expect(full.groups.map((x) => x.lr)).toEqual(lrs);
    expect(full.groups.map((x) => x.baseLr)).toEqual(half.groups.map((x) => x.baseLr));
    const halfVars = [...half.variables.values()];
    full.dispose();
    half.dispose();
    disposeAll(vars);
    tf.dispose(halfVars);
  });

  it('SGD without momentum keeps no state and steps p -= lr (g + wd p)', () => {
    const p = tf.tidy(() => tf.variable(tf.tensor1d([1, -1])));
    const opt = buildOptimizer(new Map([['x.weight', p]]), {
      optimizer: 'SGD',
      lr: 0.5,
      momentum: 0,
      weightDecay: 0.5,
    });
    const g = tf.tensor1d([0.5, 0.5]);
    opt.applyGradients(new Map([['x.weight', g]]));
    expect(Array.from(p.dataSync())).toEqual([1 - 0.5 * (0.5 + 0.5), -1 - 0.5 * (0.5 - 0.5)]);
    expect(opt.getState().params['x.weight'].slots).toEqual({});
    opt.dispose();
    tf.dispose([p, g]);
  });
});

describe("stateStorage: 'host' (state in JavaScript memory)", () => {
  // Bit-identical to the backend version on backends whose element-wise kernels are IEEE float32.
  it.each(fx.cases.map((c) => [c.optimizer, c] as const))(
    '%s: the same bits as the backend state, three steps with a weight decay and an lr change',
    (_, c) => {
      const varsB = fixtureVariables();
      const varsH = fixtureVariables();
      const optB = buildOptimizer(varsB, { ...optionsOf(c), weightDecay: 0.05 });
      const optH = buildOptimizer(varsH, { ...optionsOf(c), weightDecay: 0.05, stateStorage: 'host' });
      expect([optB.stateStorage, optH.stateStorage]).toEqual(['backend', 'host']);
      for (let k = 1; k <= fx.steps; k++) {
        if (k === 3) {
          optB.setLrFactor(0.3);
          optH.setLrFactor(0.3);
        }
        const grads = fixtureGrads(k);
        optB.applyGradients(grads);
        const before = tf.memory().numTensors;
        optH.applyGradients(grads);
        expect(tf.memory().numTensors, 'host state holds no tensors').toBe(before);
        disposeAll(grads);
        for (const n of fx.names) {
          const b = (varsB.get(n) as tf.Variable).dataSync();
          const h = (varsH.get(n) as tf.Variable).dataSync();
          expect(new Uint32Array(h.buffer, h.byteOffset, h.length), `${n} step ${k}`).toEqual(
            new Uint32Array(b.buffer, b.byteOffset, b.length),
          );
        }
      }
      expect(optH.getState()).toEqual(optB.getState());
      optB.dispose();
      optH.dispose();
      disposeAll(varsB, varsH);
    },
  );

  it('matches torch.optim on the fixture (every update of Adam, AdamW, SGD)', () => {
    for (const c of fx.cases) {
      const vars = fixtureVariables();
      const opt = buildOptimizer(vars, { ...optionsOf(c), stateStorage: 'host' });
      for (let k = 1; k <= fx.steps; k++) {
        const grads = fixtureGrads(k);
        opt.applyGradients(grads, { disposeGradients: true });
        for (const n of fx.names) {
          expectClose((vars.get(n) as tf.Variable).dataSync(), fixtureRaw(FILE, `${c.optimizer}.step${k}.${n}`).data, {
            kind: 'grad',
            label: `host ${c.optimizer} step${k} ${n}`,
            group: `update ${c.optimizer} (host state)`,
          });
        }
      }
      opt.dispose();
      disposeAll(vars);
    }
  });

  it('a host state resumes a backend optimizer and back, with identical numbers', () => {
    const c = fx.cases.find((x) => x.optimizer === 'Adam') as OptCase;
    const varsH = fixtureVariables();
    const optH = buildOptimizer(varsH, { ...optionsOf(c), stateStorage: 'host' });
    const g1 = fixtureGrads(1);
    optH.applyGradients(g1, { disposeGradients: true });
    const varsB = new Map([...varsH].map(([n, v]) => [n, tf.tidy(() => tf.variable(tf.clone(v)))]));
    const optB = buildOptimizer(varsB, optionsOf(c));
    optB.setState(optH.getState());
    const again = buildOptimizer(new Map([...varsH].map(([n, v]) => [n, tf.tidy(() => tf.variable(tf.clone(v)))])), {
      ...optionsOf(c),
      stateStorage: 'host',
    });
    again.setState(optB.getState());
    expect(again.getState()).toEqual(optH.getState());
    for (const o of [optH, optB, again]) {
      const g2 = fixtureGrads(2);
      o.applyGradients(g2, { disposeGradients: true });
    }
    for (const n of fx.names) {
      const h = Array.from((varsH.get(n) as tf.Variable).dataSync());
      expect(Array.from((varsB.get(n) as tf.Variable).dataSync()), n).toEqual(h);
      expect(Array.from((again.variables.get(n) as tf.Variable).dataSync()), n).toEqual(h);
    }
    const againVars = [...again.variables.values()];
    for (const o of [optH, optB, again]) o.dispose();
    disposeAll(varsH, varsB);
    tf.dispose(againVars);
  });

  it('property: the same bits as the backend state for any optimizer, hyper-parameters and values', () => {
    const f32 = fc.float({ min: -8, max: 8, noNaN: true, noDefaultInfinity: true });
    fc.assert(
      fc.property(
        fc.constantFrom<OptimizerName>('Adam', 'AdamW', 'SGD'),
        fc.record({
          lr: fc.double({ min: 0, max: 0.5, noNaN: true }),
          weightDecay: fc.double({ min: 0, max: 0.2, noNaN: true }),
          beta1: fc.double({ min: 0, max: 0.99, noNaN: true }),
          beta2: fc.double({ min: 0, max: 0.9999, noNaN: true }),
          eps: fc.double({ min: 1e-9, max: 1e-2, noNaN: true }),
          momentum: fc.constantFrom(0, 0.5, 0.9),
        }),
        fc.array(f32, { minLength: 1, maxLength: 24 }),
        fc.array(fc.array(f32, { minLength: 24, maxLength: 24 }), { minLength: 1, maxLength: 3 }),
        (optimizer, h, init, gradRows) => {
          const n = init.length;
          const make = () => tf.tidy(() => tf.variable(tf.tensor1d(init)));
          const pb = make();
          const ph = make();
          const base = { optimizer, ...h, betas: [h.beta1, h.beta2] as const };
          const ob = buildOptimizer(new Map([['x.weight', pb]]), base);
          const oh = buildOptimizer(new Map([['x.weight', ph]]), { ...base, stateStorage: 'host' });
          try {
            for (const row of gradRows) {
              const g = tf.tensor1d(row.slice(0, n));
              ob.applyGradients(new Map([['x.weight', g]]));
              oh.applyGradients(new Map([['x.weight', g]]));
              g.dispose();
              const a = Float32Array.from(pb.dataSync());
              const b = Float32Array.from(ph.dataSync());
              expect(new Uint32Array(b.buffer)).toEqual(new Uint32Array(a.buffer));
            }
          } finally {
            ob.dispose();
            oh.dispose();
            tf.dispose([pb, ph]);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('rejects an unknown storage', () => {
    const vars = fixtureVariables();
    expect(() => buildOptimizer(vars, { stateStorage: 'gpu' as never })).toThrow(
      /options.stateStorage: expected one of backend, host, got 'gpu'/,
    );
    disposeAll(vars);
  });
});

describe('errors', () => {
  let vars: Map<string, tf.Variable>;
  let opt: IrraOptimizer;
  beforeEach(() => {
    vars = fixtureVariables();
    opt = buildOptimizer(vars, { lr: 0.01 });
  });
  afterEach(() => {
    opt.dispose();
    disposeAll(vars);
  });

  it('rejects bad parameters and options', () => {
    const i = tf.tidy(() => tf.variable(tf.zeros([2], 'int32')));
    const f = tf.tidy(() => tf.variable(tf.zeros([2])));
    const t = tf.zeros([2]);
    expect(() => buildOptimizer({} as never)).toThrow(/params: expected a Map/);
    expect(() => buildOptimizer(new Map([['x', t as tf.Variable]]))).toThrow(/'x' is not a tf.Variable/);
    expect(() => buildOptimizer(new Map([['x', i]]))).toThrow(/'x' must be a float32 variable, got int32/);
    expect(() =>
      buildOptimizer(
        new Map([
          ['x', f],
          ['y', f],
        ]),
      ),
    ).toThrow(/'y' and 'x' are the same variable/);
    expect(() => buildOptimizer(new Map())).toThrow(/no trainable variables/);
    expect(() => buildOptimizer(vars, { optimizer: 'RMSprop' as never })).toThrow(
      /options.optimizer: expected one of Adam, AdamW, SGD, got 'RMSprop'/,
    );
    expect(() => buildOptimizer(vars, { lr: -1 })).toThrow(/options.lr: expected a finite number >= 0, got -1/);
    expect(() => buildOptimizer(vars, { weightDecay: Number.NaN })).toThrow(/options.weightDecay/);
    expect(() => buildOptimizer(vars, { betas: [0.9, 1] })).toThrow(/options.betas: expected two numbers in \[0, 1\)/);
    expect(() => buildOptimizer(vars, { eps: -1 })).toThrow(/options.eps/);
    expect(() => buildOptimizer(vars, { momentum: -0.1 })).toThrow(/options.momentum/);
    tf.dispose([i, f, t]);
  });

  it('rejects bad gradients before updating anything', () => {
    const before = values(vars);
    const good = tf.zeros([4, 3]);
    const wrong = tf.zeros([3, 4]);
    const ints = tf.zeros([4, 3], 'int32');
    const conv = 'base_model.visual.conv1.weight';
    expect(() => opt.applyGradients(new Map([['nope', good]]))).toThrow(/'nope' is not a parameter of this optimizer/);
    expect(() =>
      opt.applyGradients(
        new Map([
          [conv, good],
          ['ln_post.weight', wrong],
        ]),
      ),
    ).toThrow(/gradient of 'ln_post.weight' must have the variable's shape \[4\], got \[3,4\]/);
    expect(() => opt.applyGradients(new Map([[conv, ints]]))).toThrow(/must be float32, got int32/);
    expect(() => opt.applyGradients({} as never)).toThrow(/grads: expected a Map/);
    expect(values(vars)).toEqual(before);
    expect(opt.step).toBe(0);
    expect(() => opt.setLrs([1])).toThrow(
      /setLrs: lrs: expected an array of 4 learning rates \(one per group\), got 1/,
    );
    expect(() => opt.setLrFactor(-1)).toThrow(/setLrFactor: factor: expected a finite number >= 0, got -1/);
    expect(() => opt.minimize(() => tf.mul(vars.get('ln_post.weight') as tf.Variable, 2) as tf.Scalar)).toThrow(
      /minimize: lossFn: expected it to return a scalar tf.Tensor, got shape \[4\]/,
    );
    tf.dispose([good, wrong, ints]);
  });

  it('rejects a state that does not fit', () => {
    const g = fixtureGrads(1);
    opt.applyGradients(g);
    disposeAll(g);
    const s = opt.getState();
    const n = 'ln_post.weight';
    const bad = (patch: (x: ReturnType<IrraOptimizer['getState']>) => void) => {
      const c = opt.getState();
      patch(c);
      return () => opt.setState(c);
    };
    expect(bad((c) => Object.assign(c, { optimizer: 'SGD' }))).toThrow(/state.optimizer: expected 'Adam', got 'SGD'/);
    expect(bad((c) => Object.assign(c, { lrs: [1] }))).toThrow(/state.lrs: expected 4 learning rates, got 1/);
    expect(bad((c) => Object.assign(c.params, { zzz: c.params[n] }))).toThrow(/'zzz' is not a parameter/);
    expect(bad((c) => delete c.params[n].slots.expAvgSq)).toThrow(
      /slots: expected \[expAvg,expAvgSq\] for Adam, got \[expAvg\]/,
    );
    expect(bad((c) => Object.assign(c.params[n].slots.expAvg, { shape: [2, 2] }))).toThrow(
      /slots.expAvg: expected shape \[4\] with 4 float32 values, got shape \[2,2\]/,
    );
    expect(bad((c) => Object.assign(c.params[n], { step: 0 }))).toThrow(/\.step: expected an integer >= 1, got 0/);
    expect(opt.getState()).toEqual(s);
  });

  it('refuses to run after dispose', () => {
    const o = buildOptimizer(vars);
    o.dispose();
    expect(() => o.setLrFactor(1)).toThrow(/has been disposed/);
    expect(() => o.applyGradients(new Map())).toThrow(/has been disposed/);
  });
});
