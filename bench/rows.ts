/** The row type the bench scripts print and bench/run.ts collects into bench/results.json. */

/** One benchmark row: a measured value, its unit and its ratio to the roofline. */
export interface BenchRow {
  backend: string;
  workload: string;
  value: number;
  unit: string;
  rooflineRatio: number;
  batch: number;
  matmulGflops?: number;
  note?: string;
}

/** A {@link BenchRow} with its matMul roofline and its note filled in. */
export type CompleteBenchRow = Required<BenchRow>;
