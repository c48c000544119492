import * as tf from '@tensorflow/tfjs-core';
import { parseSafetensors, type RawTensor } from '../../src/weights/safetensors';

/**
 * Reads a file of the shared folder (fixtures/, clip/) given its path relative to that folder.
 * Node's setup installs a file-system reader; the browser setup installs one over files it
 * fetched from the test server before the tests start.
 */
export type SharedReader = (relativePath: string) => Uint8Array;

let reader: SharedReader | undefined;
let sharedRoot: string | undefined;

/** Installs the reader (done once by the test setup files). `root` is the folder, Node only. */
export function setSharedReader(r: SharedReader, root?: string): void {
  reader = r;
  sharedRoot = root;
}

/**
 * The shared folder (fixtures, CLIP vocabulary) in Node: `$IRRA_SHARED` when set, else `../shared`
 * beside the repository. Throws in a browser, where files are read through the reader.
 */
export function sharedDir(): string {
  if (!sharedRoot) throw new Error('sharedDir(): no file-system path in this environment; use fixtureBytes()');
  return sharedRoot;
}

/** Node only: absolute path of a fixture file. */
export const fixturePath = (name: string): string => `${sharedDir()}/fixtures/${name}`;
/** Node only: absolute path of the CLIP BPE merges file. */
export const vocabPath = (): string => `${sharedDir()}/clip/bpe_simple_vocab_16e6.txt.gz`;

/** Bytes of a file of the shared folder, by path relative to it (e.g. 'fixtures/losses.json'). */
export function sharedBytes(relativePath: string): Uint8Array {
  if (!reader) throw new Error('fixtures: no reader installed (test/setup/*.ts installs one)');
  return reader(relativePath);
}

/** Bytes of a fixture file. */
export const fixtureBytes = (name: string): Uint8Array => sharedBytes(`fixtures/${name}`);
/** Bytes of the CLIP BPE merges file (gzip). */
export const vocabBytes = (): Uint8Array => sharedBytes('clip/bpe_simple_vocab_16e6.txt.gz');

const rawCache = new Map<string, Map<string, RawTensor>>();

/** All tensors of a fixture `.safetensors` file as typed arrays (cached per file). */
export function loadFixtureRaw(file: string): Map<string, RawTensor> {
  let m = rawCache.get(file);
  if (!m) {
    m = parseSafetensors(fixtureBytes(file)).tensors;
    rawCache.set(file, m);
  }
  return m;
}

/** One fixture tensor as raw data; throws naming the file and key when missing. */
export function fixtureRaw(file: string, key: string): RawTensor {
  const t = loadFixtureRaw(file).get(key);
  if (!t) throw new Error(`fixture ${file} has no tensor '${key}'`);
  return t;
}

/** One fixture tensor as a new tfjs tensor (caller disposes). */
export function fixtureTensor(file: string, key: string): tf.Tensor {
  const t = fixtureRaw(file, key);
  return tf.tensor(t.data, t.shape, t.data instanceof Float32Array ? 'float32' : 'int32');
}

/** Keys of a fixture file that start with `prefix`. */
export function fixtureKeys(file: string, prefix = ''): string[] {
  return [...loadFixtureRaw(file).keys()].filter((k) => k.startsWith(prefix));
}

/** A fixture `.json` file, parsed. */
export function fixtureJson<T = any>(file: string): T {
  return JSON.parse(new TextDecoder().decode(fixtureBytes(file))) as T;
}
