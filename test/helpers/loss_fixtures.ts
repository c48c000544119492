/**
 * The loss fixture (`losses.json` + `losses.safetensors` of ../shared/fixtures), shared by the Node
 * loss tests and the browser async-parity suite.
 */
import { fixtureJson } from './fixtures';

/** One case of `losses.json`: the reference's hyper-parameters and losses for the inputs under `prefix`. */
export interface LossCase {
  prefix: string;
  batch: number;
  logit_scale: number;
  sdm_factor: number;
  epsilon: number;
  expected: Record<string, number>;
}

/** The tensors of the loss cases (inputs `<prefix><name>`, gradients `<prefix>grad.<loss>.<input>`). */
export const LOSS_FILE = 'losses.safetensors';

/** The cases of `losses.json`. */
export const lossCases: LossCase[] = fixtureJson<{ cases: LossCase[] }>('losses.json').cases;
