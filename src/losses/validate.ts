/**
 * Shared input checks of the loss functions (internal, not exported from the package).
 * Every check throws an `Error` whose message names the loss, the argument, what was expected and
 * what arrived.
 */
import type * as tf from '@tensorflow/tfjs-core';

const shapeStr = (t: tf.Tensor): string => `[${t.shape.join(', ')}]`;

/** Asserts `t` is a rank-2 float32 tensor; `what` describes the axes, e.g. '[batch, dim]'. */
export function checkMatrix(fn: string, name: string, t: tf.Tensor, what: string): void {
  if (t.rank !== 2) {
    throw new Error(`${fn}: ${name} must be rank 2 ${what}, got rank ${t.rank} with shape ${shapeStr(t)}`);
  }
  if (t.dtype !== 'float32') {
    throw new Error(`${fn}: ${name} must be float32, got ${t.dtype}`);
  }
}

/** Asserts two matrices have the same number of rows (the batch). */
export function checkSameBatch(fn: string, nameA: string, a: tf.Tensor, nameB: string, b: tf.Tensor): void {
  if (a.shape[0] !== b.shape[0]) {
    throw new Error(
      `${fn}: ${nameA} and ${nameB} must have the same batch size, got ${nameA} ${shapeStr(a)} and ${nameB} ${shapeStr(b)}`,
    );
  }
}

/** Asserts two matrices have the same number of columns (feature or class dimension). */
export function checkSameWidth(
  fn: string,
  nameA: string,
  a: tf.Tensor,
  nameB: string,
  b: tf.Tensor,
  axis: string,
): void {
  if (a.shape[1] !== b.shape[1]) {
    throw new Error(
      `${fn}: ${nameA} and ${nameB} must have the same ${axis}, got ${nameA} ${shapeStr(a)} and ${nameB} ${shapeStr(b)}`,
    );
  }
}

/**
 * Asserts `a` and `b` are float32 matrices (axes `what`, e.g. '[batch, dim]') with the same number
 * of rows and of columns (`axis` names the columns, e.g. 'feature dimension'): the checks of every
 * loss over an image/text pair.
 */
export function checkMatrixPair(
  fn: string,
  nameA: string,
  a: tf.Tensor,
  nameB: string,
  b: tf.Tensor,
  what: string,
  axis: string,
): void {
  checkMatrix(fn, nameA, a, what);
  checkMatrix(fn, nameB, b, what);
  checkSameBatch(fn, nameA, a, nameB, b);
  checkSameWidth(fn, nameA, a, nameB, b, axis);
}

/**
 * The checks of a loss over `imageFeats` and `textFeats` (float32 `[batch, dim]`) and, when given,
 * their identities `pids` (int32 `[batch]`); returns the batch size.
 */
export function checkFeaturePair(fn: string, imageFeats: tf.Tensor, textFeats: tf.Tensor, pids?: tf.Tensor): number {
  checkMatrixPair(fn, 'imageFeats', imageFeats, 'textFeats', textFeats, '[batch, dim]', 'feature dimension');
  const batch = imageFeats.shape[0];
  if (pids !== undefined) checkIntVector(fn, 'pids', pids, batch, 'imageFeats');
  return batch;
}

/** Asserts `t` is a rank-1 int32 tensor of `length` elements (one per row of `rowsName`). */
export function checkIntVector(fn: string, name: string, t: tf.Tensor, length: number, rowsName: string): void {
  if (t.rank !== 1) {
    throw new Error(`${fn}: ${name} must be rank 1 [${length}], got rank ${t.rank} with shape ${shapeStr(t)}`);
  }
  if (t.dtype !== 'int32') {
    throw new Error(`${fn}: ${name} must be int32, got ${t.dtype}`);
  }
  if (t.shape[0] !== length) {
    throw new Error(`${fn}: ${name} must have ${length} entries (one per row of ${rowsName}), got ${t.shape[0]}`);
  }
}

/**
 * Asserts every value of `values` lies in `[0, upper)`.
 */
function checkRange(fn: string, name: string, values: Int32Array, upper: number, upperName: string): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v < 0 || v >= upper) {
      throw new Error(`${fn}: ${name}[${i}] = ${v} is out of range: expected 0 <= ${name} < ${upperName} = ${upper}`);
    }
  }
}

/**
 * The values of an int32 label vector of `length` entries (one per row of `rowsName`), each in
 * `[0, upper)`. An `Int32Array` is checked where it is (no device read); a tensor is checked for
 * rank, dtype and length, then read back once with `dataSync` (label vectors are small).
 */
export function intLabels(
  fn: string,
  name: string,
  labels: tf.Tensor | Int32Array,
  length: number,
  rowsName: string,
  upper: number,
  upperName: string,
): Int32Array {
  if (labels instanceof Int32Array) {
    if (labels.length !== length) {
      throw new Error(`${fn}: ${name} must have ${length} entries (one per row of ${rowsName}), got ${labels.length}`);
    }
    checkRange(fn, name, labels, upper, upperName);
    return labels;
  }
  if (!isTensor(labels)) {
    throw new Error(`${fn}: ${name} must be an int32 tensor or an Int32Array, got ${describe(labels)}`);
  }
  checkIntVector(fn, name, labels, length, rowsName);
  const values = labels.dataSync() as Int32Array;
  checkRange(fn, name, values, upper, upperName);
  return values;
}

function isTensor(x: unknown): x is tf.Tensor {
  return typeof x === 'object' && x !== null && 'dataSync' in x && 'shape' in x && 'dtype' in x;
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (ArrayBuffer.isView(x)) return x.constructor.name;
  if (Array.isArray(x)) return 'an array';
  return typeof x;
}

/** Asserts `value` is a finite number greater than zero. */
export function checkPositive(fn: string, name: string, value: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new Error(`${fn}: ${name} must be a finite number > 0, got ${String(value)}`);
  }
}

/** Asserts `value` is a finite number greater than or equal to zero. */
export function checkNonNegative(fn: string, name: string, value: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new Error(`${fn}: ${name} must be a finite number >= 0, got ${String(value)}`);
  }
}
