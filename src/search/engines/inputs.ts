/**
 * Input checks shared by the encoder engines: host arrays in the model's conventions, validated
 * before anything runs, with errors that name the argument, what was expected and what arrived.
 */
import type { IRRAConfig } from '../../config';

/** Checks `count` (a non-negative integer) and `pixels` (float32 NHWC `[count, H, W, 3]`). */
export function checkPixels(engine: string, pixels: Float32Array, count: number, config: IRRAConfig): void {
  checkCount(engine, 'encodeImages', count);
  const [h, w] = config.imageSize;
  if (!(pixels instanceof Float32Array)) {
    throw new Error(`${engine}.encodeImages: pixels must be a Float32Array, got ${describe(pixels)}`);
  }
  if (pixels.length !== count * h * w * 3) {
    throw new Error(
      `${engine}.encodeImages: pixels must hold float32 NHWC [${count}, ${h}, ${w}, 3] = ${count * h * w * 3} values (count ${count}), got ${pixels.length}`,
    );
  }
}

/**
 * Checks `count` and `ids` (int32 `[count, contextLength]`): every id in `[0, vocabSize)`, every
 * row holding the end-of-text id (`vocabSize - 1`), as `model.encodeText` requires.
 */
export function checkIds(engine: string, ids: Int32Array, count: number, config: IRRAConfig): void {
  checkCount(engine, 'encodeTexts', count);
  const l = config.contextLength;
  const v = config.vocabSize;
  if (!(ids instanceof Int32Array)) {
    throw new Error(`${engine}.encodeTexts: ids must be an Int32Array, got ${describe(ids)}`);
  }
  if (ids.length !== count * l) {
    throw new Error(
      `${engine}.encodeTexts: ids must hold int32 [${count}, ${l}] = ${count * l} values (count ${count}), got ${ids.length}`,
    );
  }
  for (let i = 0; i < ids.length; i++) {
    if (!(ids[i] >= 0 && ids[i] < v)) {
      throw new Error(
        `${engine}.encodeTexts: ids must be in [0, ${v}) (the vocabulary size), got ${ids[i]} at row ${Math.floor(i / l)}, position ${i % l}`,
      );
    }
  }
  for (let r = 0; r < count; r++) {
    if (!ids.subarray(r * l, (r + 1) * l).includes(v - 1)) {
      throw new Error(
        `${engine}.encodeTexts: ids row ${r} has no end-of-text id ${v - 1} (vocabSize - 1); every caption must end with it within ${l} tokens`,
      );
    }
  }
}

function checkCount(engine: string, method: string, count: number): void {
  if (!Number.isInteger(count) || count < 0) {
    throw new Error(`${engine}.${method}: count must be an integer ≥ 0, got ${count}`);
  }
}

function describe(x: unknown): string {
  if (x === null || x === undefined) return String(x);
  return typeof x === 'object' ? (x.constructor?.name ?? 'object') : typeof x;
}
