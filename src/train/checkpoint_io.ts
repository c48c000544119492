/**
 * Trainer checkpoints as single safetensors files: the weights under their reference names (so
 * `safetensors.torch.load_file` + `load_state_dict(strict=False)` reads them in PyTorch), the
 * optimizer slots as extra tensors under {@link CHECKPOINT_IO_DEFAULTS}.optimizerPrefix, and the
 * epoch, best result, optimizer bookkeeping and (optionally) the model config in the metadata.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { IRRAConfig } from '../config';
import { parseSafetensors, serializeSafetensors } from '../weights/safetensors';
import type { OptimizerName, OptimizerState, ParamOptimizerState } from './optimizer';
import type { TrainerCheckpoint } from './trainer';

/** Constants of the checkpoint file format (used by the code and by docs/training.md). */
export const CHECKPOINT_IO_DEFAULTS = {
  /** Value of the `format` metadata entry that marks a trainer checkpoint. */
  format: 'irra-tfjs-trainer-checkpoint',
  /** Version of the layout written here. */
  version: '1',
  /** Prefix of the optimizer slot tensors: `<prefix><parameter name>/<slot>`. */
  optimizerPrefix: '__optimizer__/',
} as const;

/** What {@link parseTrainerCheckpoint} returns: the checkpoint plus what the file says about the model. */
export interface ParsedTrainerCheckpoint extends TrainerCheckpoint {
  /** The model configuration stored with {@link serializeTrainerCheckpoint}'s `config`, if any. */
  config?: IRRAConfig;
  /** Extra metadata entries given to {@link serializeTrainerCheckpoint} (the format's own keys removed). */
  metadata: Record<string, string>;
}

/** Options of {@link serializeTrainerCheckpoint}. */
export interface SerializeTrainerCheckpointOptions {
  /** The model configuration, stored as JSON so that the model can be rebuilt from the file alone. */
  config?: IRRAConfig;
  /** Extra string metadata (keys must not clash with the format's own: see {@link isTrainerCheckpoint}). */
  metadata?: Record<string, string>;
}

const OWN_KEYS = ['format', 'version', 'epoch', 'best_r1', 'best_epoch', 'optimizer', 'config'] as const;

/** Index of the optimizer slots kept in the metadata: everything but the slot values. */
interface OptimizerIndex {
  optimizer: OptimizerName;
  step: number;
  lrs: number[];
  params: Record<string, { step: number; slots: string[] }>;
}

/**
 * Serializes a trainer checkpoint into safetensors bytes. Weights keep their names; the slot
 * `s` of parameter `p` is stored as `__optimizer__/p/s`; numbers go into the metadata as JSON
 * (which round-trips every float64 exactly). Nothing is disposed: the checkpoint stays the caller's.
 *
 * @returns the file bytes.
 * @throws Error when a weight name starts with the optimizer prefix, when a slot's data does not
 *   match its shape, or when extra metadata uses one of the format's keys.
 * @example
 * ```ts
 * const trainer = new Trainer(model, {
 *   optimizer, trainData,
 *   saveCheckpoint: (ckpt, tag) => writeFileSync(`${tag}.safetensors`, serializeTrainerCheckpoint(ckpt)),
 * });
 * ```
 */
export function serializeTrainerCheckpoint(
  ckpt: TrainerCheckpoint,
  options: SerializeTrainerCheckpointOptions = {},
): Uint8Array {
  const prefix = CHECKPOINT_IO_DEFAULTS.optimizerPrefix;
  const tensors = new Map<string, tf.Tensor>();
  const created: tf.Tensor[] = [];
  try {
    for (const [name, t] of ckpt.weights) {
      if (name.startsWith(prefix)) {
        throw new Error(`serializeTrainerCheckpoint: weight name '${name}' must not start with '${prefix}'`);
      }
      tensors.set(name, t);
    }
    const index: OptimizerIndex = {
      optimizer: ckpt.optimizer.optimizer,
      step: ckpt.optimizer.step,
      lrs: [...ckpt.optimizer.lrs],
      params: {},
    };
    for (const [param, ps] of Object.entries(ckpt.optimizer.params)) {
      const slots = Object.keys(ps.slots);
      index.params[param] = { step: ps.step, slots };
      for (const slot of slots) {
        const s = ps.slots[slot];
        const size = s.shape.reduce((a, b) => a * b, 1);
        if (!(s.data instanceof Float32Array) || s.data.length !== size) {
          throw new Error(
            `serializeTrainerCheckpoint: optimizer slot '${param}/${slot}' must hold ${size} float32 values for shape [${s.shape}], got ${s.data?.length}`,
          );
        }
        const t = tf.tensor(s.data, s.shape, 'float32');
        created.push(t);
        tensors.set(`${prefix}${param}/${slot}`, t);
      }
    }
    const extra = options.metadata ?? {};
    for (const k of Object.keys(extra)) {
      if ((OWN_KEYS as readonly string[]).includes(k)) {
        throw new Error(`serializeTrainerCheckpoint: options.metadata key '${k}' is reserved (${OWN_KEYS.join(', ')})`);
      }
    }
    const metadata: Record<string, string> = {
      ...extra,
      format: CHECKPOINT_IO_DEFAULTS.format,
      version: CHECKPOINT_IO_DEFAULTS.version,
      epoch: JSON.stringify(ckpt.epoch),
      best_r1: JSON.stringify(ckpt.bestR1),
      best_epoch: JSON.stringify(ckpt.bestEpoch),
      optimizer: JSON.stringify(index),
      ...(options.config ? { config: JSON.stringify(options.config) } : {}),
    };
    return serializeSafetensors(tensors, metadata, { intDtype: 'I32' });
  } finally {
    for (const t of created) t.dispose();
  }
}

/** True when `metadata` (a safetensors `__metadata__`) marks a trainer checkpoint written by {@link serializeTrainerCheckpoint}. */
export function isTrainerCheckpoint(metadata: Record<string, string> | undefined): boolean {
  return metadata?.format === CHECKPOINT_IO_DEFAULTS.format;
}

function readNumber(metadata: Record<string, string>, key: string): number {
  const text = metadata[key];
  const v = text === undefined ? undefined : (JSON.parse(text) as unknown);
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new Error(`parseTrainerCheckpoint: metadata '${key}' must be a finite number, got ${JSON.stringify(text)}`);
  }
  return v;
}

/**
 * Reads a file written by {@link serializeTrainerCheckpoint} back into a checkpoint that
 * `Trainer`'s `resumeFrom` takes: `parse(serialize(c))` equals `c` exactly (weights, slots, steps,
 * lrs, epoch, best R1).
 *
 * @param bytes the file bytes.
 * @returns the checkpoint; its `weights` are new tensors owned by the caller (`disposeCheckpoint`).
 *   Slot arrays are copies (they do not keep `bytes` alive).
 * @throws Error when the file is not safetensors, is not a trainer checkpoint (no `format` entry),
 *   has a newer version, or lists an optimizer slot that is missing.
 */
export function parseTrainerCheckpoint(bytes: Uint8Array | ArrayBuffer): ParsedTrainerCheckpoint {
  const { tensors, metadata } = parseSafetensors(bytes);
  if (!isTrainerCheckpoint(metadata)) {
    throw new Error(
      `parseTrainerCheckpoint: not a trainer checkpoint (metadata 'format' must be '${CHECKPOINT_IO_DEFAULTS.format}', got ${JSON.stringify(metadata.format)}); load model weights with loadCheckpoint instead`,
    );
  }
  if (metadata.version !== CHECKPOINT_IO_DEFAULTS.version) {
    throw new Error(
      `parseTrainerCheckpoint: version must be '${CHECKPOINT_IO_DEFAULTS.version}', got ${JSON.stringify(metadata.version)}`,
    );
  }
  const prefix = CHECKPOINT_IO_DEFAULTS.optimizerPrefix;
  const index = JSON.parse(metadata.optimizer ?? 'null') as OptimizerIndex | null;
  if (index === null || typeof index !== 'object' || typeof index.params !== 'object') {
    throw new Error(`parseTrainerCheckpoint: metadata 'optimizer' must be a JSON object, got ${metadata.optimizer}`);
  }
  const params: Record<string, ParamOptimizerState> = {};
  for (const [param, entry] of Object.entries(index.params)) {
    const slots: ParamOptimizerState['slots'] = {};
    for (const slot of entry.slots) {
      const raw = tensors.get(`${prefix}${param}/${slot}`);
      if (!raw || !(raw.data instanceof Float32Array)) {
        throw new Error(
          `parseTrainerCheckpoint: optimizer slot tensor '${prefix}${param}/${slot}' is missing or not float`,
        );
      }
      slots[slot] = { shape: [...raw.shape], data: Float32Array.from(raw.data) };
    }
    params[param] = { step: entry.step, slots };
  }
  const optimizer: OptimizerState = { optimizer: index.optimizer, step: index.step, lrs: [...index.lrs], params };
  const weights = new Map<string, tf.Tensor>();
  for (const [name, raw] of tensors) {
    if (name.startsWith(prefix)) continue;
    weights.set(name, tf.tensor(raw.data, raw.shape, raw.data instanceof Float32Array ? 'float32' : 'int32'));
  }
  const extra: Record<string, string> = {};
  for (const [k, v] of Object.entries(metadata)) if (!(OWN_KEYS as readonly string[]).includes(k)) extra[k] = v;
  return {
    epoch: readNumber(metadata, 'epoch'),
    bestR1: readNumber(metadata, 'best_r1'),
    bestEpoch: readNumber(metadata, 'best_epoch'),
    weights,
    optimizer,
    ...(metadata.config ? { config: JSON.parse(metadata.config) as IRRAConfig } : {}),
    metadata: extra,
  };
}
