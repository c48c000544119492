/**
 * The retrieval-metrics fixture (`metrics.json` of ../shared/fixtures) and its comparison, shared by
 * the Node rank tests and the browser async-parity suite.
 */
import { expect } from 'vitest';
import type { RankResult } from '../../src/eval/rank';
import { expectClose } from './compare';

/** `metrics.json`: per case, the reference's text→image and image→text metrics (percent). */
export interface MetricsFixture {
  cases: { prefix: string; t2i: RankResult; i2t: RankResult }[];
}

/** The issue asks for every fixture number within 1e-4 absolute (percent). */
export const METRICS_TOLERANCE = { rel: 0, abs: 1e-4 };

/** Asserts `actual` has the fixture's CMC length and every number within {@link METRICS_TOLERANCE}. */
export function expectRankFixture(actual: RankResult, expected: RankResult, label: string): void {
  expect(actual.cmc.length).toBe(expected.cmc.length);
  expectClose(actual.cmc, expected.cmc, { tol: METRICS_TOLERANCE, label: `${label}.cmc`, group: 'metrics' });
  for (const key of ['R1', 'R5', 'R10', 'mAP', 'mINP'] as const) {
    expectClose(actual[key], expected[key], { tol: METRICS_TOLERANCE, label: `${label}.${key}`, group: 'metrics' });
  }
}
