/**
 * What `irra-tfjs index` and `irra-tfjs search` share: the model options, loading the model and
 * the tokenizer, the `--store lancedb://DIR` spelling, and the small JSON record (the "index
 * pointer") that ties a LanceDB gallery to the model that built it and to its images folder.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { IRRA } from '../model/irra';
import { type LanceGalleryStore, lanceStore } from '../search/stores/lancedb';
import { ClipTokenizer } from '../tokenizer/clip_tokenizer';
import { COMMON_OPTIONS, type CommandIO, loadTokenizer, type OptionGroup } from './options';

/** The engines `--engine` accepts. */
export const ENGINE_NAMES = ['tfjs', 'onnxruntime'] as const;

/** Prefix of `--store`: a LanceDB gallery in a local folder. */
export const STORE_PREFIX = 'lancedb://';

/** Defaults shared by `index` and `search` (`--img_size` / `--stride_size` are IRRA.load's). */
export const SEARCH_COMMON_DEFAULTS = Object.freeze({
  engine: 'tfjs' as (typeof ENGINE_NAMES)[number],
  /** Name of the index pointer kept inside a `--store lancedb://DIR` folder. */
  pointerFile: 'irra-tfjs-index.json',
  /** `format` of an index pointer. */
  pointerFormat: 'irra-tfjs-index-pointer',
  /** Safetensors metadata key of a saved in-memory index that holds the images folder. */
  imagesRootKey: 'images_root',
});

/** Model, engine and runtime options of `index` and `search`. */
export const SEARCH_MODEL_OPTIONS: OptionGroup = {
  title: 'model and runtime',
  options: {
    checkpoint: {
      kind: 'string',
      arg: 'PATH',
      help: 'any checkpoint IRRA.load reads: an IRRA best.pth, CLIP ViT-B-16.pt, (HF) safetensors, a checkpoint of irra-tfjs train (required)',
    },
    img_size: {
      kind: 'size',
      help: 'image height,width the model takes (the position embedding is resized to it)',
      defaultText: "a train checkpoint's, else 384,128",
    },
    stride_size: { kind: 'int', min: 1, help: 'patch stride', defaultText: "a train checkpoint's, else 16" },
    engine: {
      kind: 'string',
      choices: ENGINE_NAMES,
      help: 'who encodes (onnxruntime: onnxruntime-node, when installed)',
    },
    backend: COMMON_OPTIONS.options.backend,
    vocab: {
      kind: 'string',
      arg: 'PATH',
      help: 'a CLIP BPE merges file (bpe_simple_vocab_16e6.txt.gz layout) for a model trained with another vocabulary',
      defaultText: 'the CLIP vocabulary shipped in the package',
    },
    help: COMMON_OPTIONS.options.help,
  },
};

/** `--store lancedb://DIR` → DIR. */
export function parseStoreOption(command: string, text: string): string {
  if (!text.startsWith(STORE_PREFIX) || text.length === STORE_PREFIX.length) {
    throw new Error(`${command}: --store: expected ${STORE_PREFIX}DIR (a LanceDB folder), got '${text}'`);
  }
  return text.slice(STORE_PREFIX.length);
}

/**
 * Loads `--checkpoint` with `IRRA.load`, reporting its warnings (a CLIP-only checkpoint, a resized
 * position embedding) through `io.warn`. The caller owns the model.
 */
export async function loadSearchModel(
  command: string,
  io: CommandIO,
  o: { checkpoint: string; img_size?: [number, number]; stride_size?: number },
): Promise<IRRA> {
  try {
    return await IRRA.load(o.checkpoint, {
      ...(o.img_size ? { imageSize: o.img_size } : {}),
      ...(o.stride_size !== undefined ? { strideSize: o.stride_size } : {}),
      onProgress: (p) => {
        if (p.message) io.warn(p.message);
      },
    });
  } catch (e) {
    throw new Error(`${command}: --checkpoint: ${(e as Error).message}`);
  }
}

/**
 * The query tokenizer: `--vocab` when given, else the shipped CLIP vocabulary; refused when its
 * ids do not fit the model's vocabulary.
 */
export async function loadSearchTokenizer(
  command: string,
  vocab: string | undefined,
  model: IRRA,
): Promise<ClipTokenizer> {
  const tokenizer = vocab ? await loadTokenizer(command, vocab) : await ClipTokenizer.load();
  if (tokenizer.vocabSize > model.config.vocabSize) {
    throw new Error(
      `${command}: --vocab: the tokenizer has ${tokenizer.vocabSize} ids (${vocab ? `'${vocab}'` : 'the shipped CLIP vocabulary'}) but the checkpoint's text tower takes ${model.config.vocabSize}; pass --vocab PATH to the CLIP BPE file the model was trained with`,
    );
  }
  return tokenizer;
}

/** Opens the LanceDB gallery of `--store`, with the command's name in any error. */
export async function openLanceStore(command: string, dir: string): Promise<LanceGalleryStore> {
  try {
    return await lanceStore(dir);
  } catch (e) {
    throw new Error(`${command}: --store ${STORE_PREFIX}${dir}: ${(e as Error).message}`);
  }
}

/**
 * The JSON record of a LanceDB gallery: where its rows are, which model built them and where its
 * images are. Kept as `irra-tfjs-index.json` inside the LanceDB folder, and written to `index
 * --out FILE` when asked (so that `search --index FILE` finds the store).
 */
export interface IndexPointer {
  format: typeof SEARCH_COMMON_DEFAULTS.pointerFormat;
  version: 1;
  /** `lancedb://` + the absolute folder. */
  store: string;
  /** `PersonSearch.fingerprint` of the model that encoded the rows. */
  fingerprint: string;
  /** Absolute folder the ids are relative to. */
  images_root: string;
  /** Feature width. */
  dim: number;
}

/**
 * The index pointer in `bytes`, or null when they are not JSON (then they should be a safetensors
 * index, whose first 8 bytes are a binary header length).
 * @throws Error when they are JSON but not an index pointer.
 */
export function pointerFromBytes(command: string, label: string, bytes: Uint8Array): IndexPointer | null {
  let i = 0;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)) i++;
  if (bytes[i] !== 0x7b) return null;
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return null;
  }
  return checkPointer(command, label, value);
}

/** Checks that a parsed JSON value is an index pointer. */
function checkPointer(command: string, label: string, value: unknown): IndexPointer {
  const p = value as Partial<IndexPointer> | null;
  if (
    p?.format !== SEARCH_COMMON_DEFAULTS.pointerFormat ||
    typeof p.store !== 'string' ||
    typeof p.fingerprint !== 'string' ||
    typeof p.images_root !== 'string'
  ) {
    throw new Error(
      `${command}: ${label} is not an irra-tfjs index pointer (expected format '${SEARCH_COMMON_DEFAULTS.pointerFormat}' with store, fingerprint, images_root)`,
    );
  }
  return p as IndexPointer;
}

/** Parses and checks an index pointer; `label` names the file in errors. */
function parsePointer(command: string, label: string, text: string): IndexPointer {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`${command}: ${label} is not valid JSON (${(e as Error).message})`);
  }
  return checkPointer(command, label, value);
}

/** The pointer kept in a LanceDB folder, or null when there is none. */
export async function readStorePointer(command: string, dir: string): Promise<IndexPointer | null> {
  const path = join(dir, SEARCH_COMMON_DEFAULTS.pointerFile);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return null;
  }
  return parsePointer(command, `'${path}'`, text);
}

/** Writes `text` to `path` through a temporary file and a rename (never a half-written file). */
export async function writeAtomically(path: string, text: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    await writeFile(tmp, text);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** The pointer of a LanceDB gallery in `dir` built by the model of `fingerprint` from `imagesRoot`. */
export function makePointer(dir: string, fingerprint: string, imagesRoot: string, dim: number): IndexPointer {
  return {
    format: SEARCH_COMMON_DEFAULTS.pointerFormat,
    version: 1,
    store: `${STORE_PREFIX}${resolve(dir)}`,
    fingerprint,
    images_root: resolve(imagesRoot),
    dim,
  };
}

/** The error of a gallery built by another model than `--checkpoint`. */
export function fingerprintError(command: string, what: string, stored: string, current: string): Error {
  return new Error(
    `${command}: ${what} was built with another model or preprocessing (fingerprint ${stored}, --checkpoint's is ${current}); use the checkpoint it was built with, or index again`,
  );
}
