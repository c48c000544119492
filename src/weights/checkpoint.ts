import type * as tf from '@tensorflow/tfjs-core';
import { nodeFs } from '../util/node';
import { withFileByteSource } from './file_source';
import { type CheckpointFormat, convertStateDict } from './name_maps';
import { type AdaptTarget, adaptStateDict } from './pos_embed';
import {
  parseSafetensors,
  parseSafetensorsFile,
  type RawTensor,
  rawToTensors,
  type SerializeSafetensorsOptions,
  serializeSafetensors,
} from './safetensors';
import { readTorchArchive } from './torch';
import { isZip } from './zip';

/** Anything that can hand out its weights under reference names in PyTorch layout (an `IRRA` model). */
export interface StateDictSource {
  /** Reference name → new tensor in PyTorch layout; the caller owns the tensors. */
  stateDict(): Map<string, tf.Tensor>;
}

/** Container formats {@link readCheckpointRaw} recognises. */
export type CheckpointContainer = 'safetensors' | 'torchscript' | 'pickle';

/** Options of {@link loadCheckpoint}. */
export interface LoadCheckpointOptions {
  /**
   * Name table to apply: `'auto'` (default) detects IRRA / OpenAI CLIP / Hugging Face CLIP from the
   * keys; `'raw'` keeps the names as stored (no mapping, nothing dropped).
   */
  format?: CheckpointFormat | 'auto' | 'raw';
  /**
   * When given, the positional embeddings are adapted to this geometry on load with
   * `adaptStateDict` (image grid resized bilinearly, text context truncated). Ignored with
   * `format: 'raw'`. Default: returned as stored.
   */
  adapt?: AdaptTarget;
}

function looksLikeSafetensors(b: Uint8Array): boolean {
  if (b.byteLength < 9) return false;
  const len = new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
  return len >= 2n && b[8] === 0x7b;
}

/**
 * Decodes a checkpoint held in memory — safetensors, a `torch.save` zip or a TorchScript archive,
 * told apart by their first bytes — into name → {@link RawTensor} under the names it stores.
 * @throws Error naming the problem, or listing the formats when none matches.
 */
export function readCheckpointRaw(bytes: Uint8Array | ArrayBuffer): {
  tensors: Map<string, RawTensor>;
  container: CheckpointContainer;
} {
  if (!(bytes instanceof Uint8Array) && !(bytes instanceof ArrayBuffer)) {
    throw new Error(
      `readCheckpointRaw(bytes): expected a Uint8Array or ArrayBuffer, got ${Object.prototype.toString.call(bytes)}`,
    );
  }
  const buf = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  if (isZip(buf)) {
    const { tensors, format } = readTorchArchive(buf);
    return { tensors, container: format };
  }
  if (looksLikeSafetensors(buf)) return { tensors: parseSafetensors(buf).tensors, container: 'safetensors' };
  throw new Error(
    `readCheckpointRaw(bytes): ${buf.byteLength} bytes are neither safetensors (8-byte length + JSON header) nor a PyTorch zip archive (PK\\x03\\x04)${buf[0] === 0x80 ? '; they look like a bare pickle (the legacy torch.save format of PyTorch < 1.6, not supported: re-save with a current PyTorch)' : ''}`,
  );
}

async function readRawFromPath(path: string): Promise<Map<string, RawTensor>> {
  const fs = await nodeFs();
  const fh = await fs.open(path, 'r');
  const head = new Uint8Array(9);
  try {
    await fh.read(head, 0, 9, 0);
  } finally {
    await fh.close();
  }
  if (looksLikeSafetensors(head)) return (await parseSafetensorsFile(path)).tensors;
  if (isZip(head)) {
    return withFileByteSource(path, (source) => {
      const lazy = readTorchArchive(source).tensors;
      return new Map([...lazy].map(([k, t]) => [k, { dtype: t.dtype, shape: t.shape, data: t.data }]));
    });
  }
  return readCheckpointRaw(await fs.readFile(path)).tensors;
}

/**
 * Loads a checkpoint and returns its weights under IRRA reference names in PyTorch layout, ready
 * for `model.loadStateDict(...)` / `IRRA.fromStateDict(...)`:
 *
 * - IRRA checkpoints (`best.pth` = `{"model": state_dict, ...}`): passed through.
 * - OpenAI / open_clip CLIP (`ViT-B-16.pt` TorchScript, or a `visual.*` state_dict): prefixed with
 *   `base_model.`; `logit_scale`, `input_resolution`, `context_length`, `vocab_size` dropped.
 * - Hugging Face `CLIPModel` safetensors: q/k/v concatenated into `in_proj_*`, projections
 *   transposed; `position_ids` and `logit_scale` dropped.
 *
 * Positional embeddings are returned as stored unless `options.adapt` gives the model's grid and
 * context length (see `adaptStateDict`).
 * Reads never execute code from the file (see `readTorchArchive`).
 *
 * @param source file bytes, or (Node only) a file path. A safetensors path is read header first,
 * then tensor by tensor; other files are read once.
 * @returns a new Map of name → tensor (float32, or int32 for integer data); the caller owns the
 * tensors. Given bytes, aligned float32 data may be shared with them (see `readSafetensors`): do
 * not modify the bytes afterwards.
 * @throws Error for unreadable files and for keys that no name table uses or ignores.
 * @example
 * const weights = await loadCheckpoint('ViT-B-16.pt', { adapt: { grid: [24, 8], contextLength: 77 } });
 * const model = IRRA.fromStateDict(weights, { imageSize: [384, 128], strideSize: 16 });
 */
export async function loadCheckpoint(
  source: Uint8Array | ArrayBuffer | string,
  options: LoadCheckpointOptions = {},
): Promise<Map<string, tf.Tensor>> {
  const raw = typeof source === 'string' ? await readRawFromPath(source) : readCheckpointRaw(source).tensors;
  const format = options.format ?? 'auto';
  if (format === 'raw') return rawToTensors(raw);
  const mapped = rawToTensors(convertStateDict(raw, format).tensors);
  return options.adapt ? adaptStateDict(mapped, options.adapt) : mapped;
}

/**
 * Writes weights as safetensors under reference names in PyTorch layout, so that PyTorch reads
 * them with `safetensors.torch.load_file(path)` and `model.load_state_dict(...)`.
 *
 * @param source a model (anything with `stateDict()`; the tensors it hands out are disposed here)
 * or a Map of name → tensor (left as it is).
 * @param options `metadata` (stored as `__metadata__`) and `intDtype` (int32 tensors as `'I64'`,
 * the default, or `'I32'`).
 * @returns the file bytes.
 * @example
 * writeFileSync('irra.safetensors', saveSafetensors(model, { metadata: { format: 'pt' } }));
 */
export function saveSafetensors(
  source: StateDictSource | Map<string, tf.Tensor>,
  options: SerializeSafetensorsOptions & { metadata?: Record<string, string> } = {},
): Uint8Array {
  if (source instanceof Map) return serializeSafetensors(source, options.metadata, options);
  if (source === null || typeof source !== 'object' || typeof (source as StateDictSource).stateDict !== 'function') {
    throw new Error('saveSafetensors(source): expected a model with stateDict() or a Map<string, tf.Tensor>');
  }
  const map = source.stateDict();
  try {
    return serializeSafetensors(map, options.metadata, options);
  } finally {
    for (const t of map.values()) t.dispose();
  }
}

/** A model whose weights can be read and replaced by reference name (an `IRRA` model). */
export interface StateDictTarget extends StateDictSource {
  /** Replaces every parameter; throws on missing, unexpected or misshapen names. */
  loadStateDict(map: Map<string, tf.Tensor>): void;
}

/**
 * Loads the weights of `partial` into `model` and keeps the model's own values for every other
 * parameter — e.g. CLIP weights (`base_model.*`) into a freshly created IRRA whose fusion module
 * and heads keep their reference initialisation, as the reference does when training starts from CLIP.
 *
 * @param model the model to update.
 * @param partial reference name → tensor in PyTorch layout; stays owned by the caller.
 * @returns the names of the model's parameters that `partial` did not cover (kept as they were).
 * @throws Error naming the keys of `partial` that the model does not have (nothing is loaded),
 * and whatever `model.loadStateDict` throws for misshapen tensors.
 * @example
 * const model = IRRA.create(irraConfig({ preset: 'ViT-B/16' }));
 * const clip = adaptStateDict(await loadCheckpoint('ViT-B-16.pt'), { grid: [24, 8], contextLength: 77 });
 * overlayStateDict(model, clip); // fusion + heads stay freshly initialised
 */
export function overlayStateDict(model: StateDictTarget, partial: Map<string, tf.Tensor>): string[] {
  if (model === null || typeof model !== 'object' || typeof model.loadStateDict !== 'function') {
    throw new Error('overlayStateDict(model): expected a model with stateDict() and loadStateDict()');
  }
  if (!(partial instanceof Map))
    throw new Error(`overlayStateDict(partial): expected a Map<string, tf.Tensor>, got ${typeof partial}`);
  const full = model.stateDict();
  const own = new Map(full);
  try {
    const unexpected = [...partial.keys()].filter((k) => !full.has(k));
    if (unexpected.length > 0) {
      throw new Error(
        `overlayStateDict(partial): ${unexpected.length} name(s) are not parameters of the model: ${unexpected.slice(0, 8).join(', ')}${unexpected.length > 8 ? ', ...' : ''}`,
      );
    }
    for (const [k, t] of partial) full.set(k, t);
    model.loadStateDict(full);
    return [...own.keys()].filter((k) => !partial.has(k));
  } finally {
    for (const t of own.values()) t.dispose();
  }
}
