/**
 * Samplers: which training pairs go into which batch, for one epoch. Both are seeded through an
 * {@link Rng} so an epoch's batches are reproducible.
 */
import { type Rng, sampleWithoutReplacement, shuffleInPlace } from './random';

/** Something that splits an epoch of sample indices into batches. */
export interface BatchSampler {
  /** The index batches of one epoch, drawing randomness from `rng`. */
  batches(rng: Rng): number[][];
  /** Number of batches one epoch yields (the reference's `len(train_loader)`). */
  readonly numBatches: number;
}

function checkPositiveInt(value: number, name: string): void {
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name}: expected a positive integer, got ${value}`);
}

function chunk(indices: number[], batchSize: number, dropLast: boolean): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < indices.length; i += batchSize) {
    const b = indices.slice(i, i + batchSize);
    if (b.length === batchSize || !dropLast) out.push(b);
  }
  return out;
}

/**
 * The reference's `--sampler random`: `DataLoader(shuffle=True, drop_last=False)` — a fresh
 * uniform permutation each epoch, cut into batches; the last batch may be smaller.
 */
export class RandomSampler implements BatchSampler {
  readonly numBatches: number;

  /**
   * @param size number of training pairs.
   * @param batchSize pairs per batch.
   * @param dropLast drop a final smaller batch (default false, as the reference).
   */
  constructor(
    readonly size: number,
    readonly batchSize: number,
    readonly dropLast = false,
  ) {
    checkPositiveInt(size, 'RandomSampler: size');
    checkPositiveInt(batchSize, 'RandomSampler: batchSize');
    this.numBatches = dropLast ? Math.floor(size / batchSize) : Math.ceil(size / batchSize);
  }

  /**
   * One epoch: a fresh permutation of `0 … size - 1` drawn from `rng`, cut into batches of
   * `batchSize` indices (the last one shorter, or dropped when `dropLast`).
   */
  batches(rng: Rng): number[][] {
    const order = shuffleInPlace(
      Array.from({ length: this.size }, (_, i) => i),
      rng,
    );
    return chunk(order, this.batchSize, this.dropLast);
  }
}

/**
 * The reference's `RandomIdentitySampler` (`datasets/sampler.py`): batches of
 * `N = floor(batchSize / numInstances)` identities × `K = numInstances` pairs each.
 *
 * Per epoch: each identity's pair indices are shuffled (identities with fewer than K pairs are
 * first resampled to K *with replacement*) and cut into groups of K (a remainder is dropped);
 * then, while at least N identities still have groups, N distinct identities are drawn uniformly
 * and each contributes its next group. `length` is the reference's `__len__`:
 * `Σ_pid max(n_pid, K) − max(n_pid, K) mod K` — an upper bound on the pairs actually drawn (the
 * loop stops when fewer than N identities remain), exactly as in the reference.
 */
export class RandomIdentitySampler implements BatchSampler {
  /** Identities per batch, `floor(batchSize / numInstances)`. */
  readonly numPidsPerBatch: number;
  /** The reference's epoch length estimate in pairs (`__len__`). */
  readonly length: number;
  /** `ceil(length / batchSize)`: the reference's `len(train_loader)`. */
  readonly numBatches: number;
  private readonly indexByPid = new Map<number, number[]>();

  /**
   * @param pids the identity of each training pair (e.g. `dataset.train.map(s => s.pid)`).
   * @param batchSize pairs per batch (reference `--batch_size`, default 64).
   * @param numInstances pairs per identity (reference `--num_instance`, default 4).
   */
  constructor(
    pids: readonly number[],
    readonly batchSize: number,
    readonly numInstances: number,
  ) {
    checkPositiveInt(batchSize, 'RandomIdentitySampler: batchSize');
    checkPositiveInt(numInstances, 'RandomIdentitySampler: numInstances');
    if (numInstances > batchSize) {
      throw new Error(
        `RandomIdentitySampler: numInstances must be ≤ batchSize, got numInstances ${numInstances} > batchSize ${batchSize}`,
      );
    }
    if (pids.length === 0) throw new Error('RandomIdentitySampler: pids must be non-empty, got 0 pairs');
    pids.forEach((pid, i) => {
      if (!Number.isInteger(pid)) throw new Error(`RandomIdentitySampler: pids[${i}] must be an integer, got ${pid}`);
      const list = this.indexByPid.get(pid);
      if (list) list.push(i);
      else this.indexByPid.set(pid, [i]);
    });
    this.numPidsPerBatch = Math.floor(batchSize / numInstances);
    let length = 0;
    for (const idxs of this.indexByPid.values()) {
      const num = Math.max(idxs.length, numInstances);
      length += num - (num % numInstances);
    }
    this.length = length;
    this.numBatches = Math.ceil(length / batchSize);
  }

  /** The flat index order of one epoch (the reference's `__iter__`). */
  indices(rng: Rng): number[] {
    const K = this.numInstances;
    const groups = new Map<number, number[][]>();
    for (const [pid, list] of this.indexByPid) {
      let idxs = list.slice();
      if (idxs.length < K) idxs = Array.from({ length: K }, () => list[Math.floor(rng() * list.length)]);
      shuffleInPlace(idxs, rng);
      const g: number[][] = [];
      for (let i = 0; i + K <= idxs.length; i += K) g.push(idxs.slice(i, i + K));
      groups.set(pid, g);
    }
    let available = [...this.indexByPid.keys()];
    const out: number[] = [];
    while (available.length >= this.numPidsPerBatch) {
      const selected = sampleWithoutReplacement(available, this.numPidsPerBatch, rng);
      const exhausted = new Set<number>();
      for (const pid of selected) {
        const g = groups.get(pid)!;
        out.push(...g.shift()!);
        if (g.length === 0) exhausted.add(pid);
      }
      if (exhausted.size > 0) available = available.filter((p) => !exhausted.has(p));
    }
    return out;
  }

  /** One epoch's batches: {@link indices} cut into `batchSize` pieces (the last may be smaller). */
  batches(rng: Rng): number[][] {
    return chunk(this.indices(rng), this.batchSize, false);
  }
}
