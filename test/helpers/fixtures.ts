import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { parseSafetensors, type RawTensor } from '../../src/weights/safetensors';

const here = dirname(fileURLToPath(import.meta.url));

/**
 * The shared folder (fixtures, CLIP vocabulary): `$IRRA_SHARED` when set, else `../shared` beside
 * the repository. Throws a clear error when it is absent.
 */
export function sharedDir(): string {
  const dir = process.env.IRRA_SHARED ?? resolve(here, '../../../shared');
  if (!existsSync(join(dir, 'fixtures'))) {
    throw new Error(
      `fixtures not found: expected ${join(dir, 'fixtures')} (set IRRA_SHARED to the folder holding fixtures/ and clip/)`,
    );
  }
  return dir;
}

export const fixturePath = (name: string): string => join(sharedDir(), 'fixtures', name);
export const vocabPath = (): string => join(sharedDir(), 'clip', 'bpe_simple_vocab_16e6.txt.gz');

const rawCache = new Map<string, Map<string, RawTensor>>();

/** All tensors of a fixture `.safetensors` file as typed arrays (cached per file). */
export function loadFixtureRaw(file: string): Map<string, RawTensor> {
  let m = rawCache.get(file);
  if (!m) {
    m = parseSafetensors(readFileSync(fixturePath(file))).tensors;
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
  return JSON.parse(readFileSync(fixturePath(file), 'utf8')) as T;
}
