import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  LR_SCHEDULER_DEFAULTS,
  type LRScheduleMode,
  type LRSchedulerOptions,
  LRSchedulerWithWarmup,
  type WarmupMethod,
} from '../src/train/index';
import { fixtureJson } from './helpers/fixtures';

interface SchedCase {
  options: {
    milestones: number[];
    gamma: number;
    warmup_factor: number;
    warmup_epochs: number;
    warmup_method: WarmupMethod;
    total_epochs: number;
    mode: LRScheduleMode;
    target_lr: number;
    power: number;
  };
  base_lrs: number[];
  lr_by_epoch: number[][];
}

const fx = fixtureJson<{ source: string; cases: SchedCase[] }>('scheduler.json');

function fromFixture(c: SchedCase): LRSchedulerOptions {
  const o = c.options;
  return {
    baseLrs: c.base_lrs,
    milestones: o.milestones,
    gamma: o.gamma,
    warmupFactor: o.warmup_factor,
    warmupEpochs: o.warmup_epochs,
    warmupMethod: o.warmup_method,
    totalEpochs: o.total_epochs,
    mode: o.mode,
    targetLr: o.target_lr,
    power: o.power,
  };
}

describe('LRSchedulerWithWarmup parity (scheduler.json)', () => {
  expect(fx.cases.length).toBe(6);
  it.each(fx.cases.map((c) => [`${c.options.mode} / ${c.options.warmup_method} warmup`, c] as const))(
    '%s: every lr of every epoch within 1e-12 relative',
    (_, c) => {
      const s = new LRSchedulerWithWarmup(fromFixture(c));
      let worst = 0;
      c.lr_by_epoch.forEach((expected, epoch) => {
        const got = s.lrAt(epoch);
        expect(got.length).toBe(expected.length);
        got.forEach((lr, i) => {
          const err = Math.abs(lr - expected[i]);
          worst = Math.max(worst, err / Math.max(Math.abs(expected[i]), 1e-300));
          expect(err, `epoch ${epoch} group ${i}: ${lr} vs ${expected[i]}`).toBeLessThanOrEqual(
            1e-12 * Math.abs(expected[i]),
          );
        });
      });
      expect(worst).toBeLessThanOrEqual(1e-12);
    },
  );

  it('defaults are the reference options (cosine, linear warmup 5 epochs from 0.1, 60 epochs)', () => {
    const c = fx.cases[0];
    expect(fromFixture(c)).toMatchObject({ ...LR_SCHEDULER_DEFAULTS, baseLrs: c.base_lrs });
    const s = new LRSchedulerWithWarmup({ baseLrs: c.base_lrs });
    c.lr_by_epoch.forEach((expected, epoch) => {
      expect(s.lrAt(epoch)).toEqual(new LRSchedulerWithWarmup(fromFixture(c)).lrAt(epoch));
      expect(s.lrAt(epoch)[0]).toBeCloseTo(expected[0], 18);
    });
  });
});

describe('LRSchedulerWithWarmup properties', () => {
  it('with gamma, power <= 1 and targetLr 0, every lr lies in [0, baseLr] and scales with baseLr', () => {
    fc.assert(
      fc.property(
        fc.record({
          base: fc.double({ min: 1e-8, max: 1, noNaN: true }),
          ratio: fc.double({ min: 0.1, max: 10, noNaN: true }),
          mode: fc.constantFrom<LRScheduleMode>('step', 'exp', 'poly', 'cosine', 'linear'),
          warmupMethod: fc.constantFrom<WarmupMethod>('constant', 'linear'),
          warmupFactor: fc.double({ min: 0, max: 1, noNaN: true }),
          warmupEpochs: fc.integer({ min: 0, max: 10 }),
          extra: fc.integer({ min: 1, max: 50 }),
          gamma: fc.double({ min: 0, max: 1, noNaN: true }),
          power: fc.double({ min: 0, max: 1, noNaN: true }),
          milestones: fc.array(fc.integer({ min: 0, max: 60 }), { maxLength: 4 }).map((m) => m.sort((a, b) => a - b)),
        }),
        (p) => {
          const totalEpochs = p.warmupEpochs + p.extra;
          const s = new LRSchedulerWithWarmup({
            baseLrs: [p.base, p.base * p.ratio],
            mode: p.mode,
            warmupMethod: p.warmupMethod,
            warmupFactor: p.warmupFactor,
            warmupEpochs: p.warmupEpochs,
            totalEpochs,
            gamma: p.gamma,
            power: p.power,
            milestones: p.milestones,
          });
          for (let e = 0; e <= totalEpochs; e++) {
            const [a, b] = s.lrAt(e);
            expect(a).toBeGreaterThanOrEqual(0);
            expect(a).toBeLessThanOrEqual(p.base * (1 + 1e-15));
            expect(Math.abs(b - a * p.ratio)).toBeLessThanOrEqual(1e-12 * Math.max(b, 1e-300));
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('linear warmup rises to the base lr; constant warmup holds warmupFactor', () => {
    const lin = new LRSchedulerWithWarmup({ baseLrs: [1], warmupEpochs: 4, warmupFactor: 0.2, mode: 'step' });
    expect([0, 1, 2, 3, 4].map((e) => lin.lrAt(e)[0])).toEqual([0.2, 0.4, 0.6, 0.8, 1]);
    const con = new LRSchedulerWithWarmup({
      baseLrs: [1],
      warmupEpochs: 2,
      warmupFactor: 0.2,
      warmupMethod: 'constant',
    });
    expect([0, 1, 2].map((e) => con.lrAt(e)[0])).toEqual([0.2, 0.2, 1]);
  });
});

describe('LRSchedulerWithWarmup errors', () => {
  const ok: LRSchedulerOptions = { baseLrs: [1e-5] };
  it.each([
    [{ ...ok, milestones: [50, 20] }, /milestones: expected a list of increasing integers, got \[50, 20\]/],
    [{ ...ok, milestones: [1.5] }, /milestones\[0\]: expected an integer >= 0, got 1.5/],
    [
      { ...ok, mode: 'triangle' as LRScheduleMode },
      /mode: expected one of step, exp, poly, cosine, linear, got 'triangle'/,
    ],
    [{ ...ok, warmupMethod: 'exp' as WarmupMethod }, /warmupMethod: expected one of constant, linear, got 'exp'/],
    [{ ...ok, warmupFactor: 1.5 }, /warmupFactor: expected a finite number in \[0, 1\], got 1.5/],
    [{ ...ok, warmupFactor: -0.1 }, /warmupFactor: expected a finite number in \[0, 1\], got -0.1/],
    [{ ...ok, warmupEpochs: 2.5 }, /warmupEpochs: expected an integer >= 0, got 2.5/],
    [{ ...ok, totalEpochs: 0 }, /totalEpochs: expected an integer >= 1, got 0/],
    [
      { ...ok, totalEpochs: 5, warmupEpochs: 5 },
      /totalEpochs: mode 'cosine' needs totalEpochs > warmupEpochs \(5\), got 5/,
    ],
    [{ ...ok, gamma: Number.NaN }, /gamma: expected a finite number >= 0, got NaN/],
    [{ ...ok, power: -1 }, /power: expected a finite number >= 0, got -1/],
    [{ ...ok, targetLr: Number.POSITIVE_INFINITY }, /targetLr: expected a finite number >= 0, got Infinity/],
    [{ baseLrs: [] }, /baseLrs: expected a non-empty array of learning rates, got \[\]/],
    [{ baseLrs: [1, -1] }, /baseLrs\[1\]: expected a finite number >= 0, got -1/],
  ] as const)('rejects %o', (options, message) => {
    expect(() => new LRSchedulerWithWarmup(options as LRSchedulerOptions)).toThrow(message);
  });

  it('accepts totalEpochs == warmupEpochs in step mode, and rejects bad epochs', () => {
    const s = new LRSchedulerWithWarmup({ ...ok, mode: 'step', totalEpochs: 5, warmupEpochs: 5 });
    expect(s.lrAt(5)).toEqual([1e-5]);
    expect(() => s.lrAt(-1)).toThrow(/lrAt: epoch: expected an integer >= 0, got -1/);
    expect(() => s.lrAt(0.5)).toThrow(/lrAt: epoch: expected an integer >= 0, got 0.5/);
  });
});
