import * as tf from '@tensorflow/tfjs-core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { decodeImageBrowser } from '../src/data/image';

/**
 * Node has no `createImageBitmap`: a stand-in returns an ImageBitmap-like object that
 * `tf.browser.fromPixels` reads as PixelData (`{ width, height, data }` RGBA) and that records
 * `close()` calls.
 */
function fakeBitmap(width: number, height: number, valid = true) {
  const data = new Uint8Array(width * height * 4).map((_, i) => (i * 7) % 256);
  return {
    width,
    height,
    ...(valid ? { data } : {}),
    close: vi.fn(),
  };
}

describe('decodeImageBrowser', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it('closes the ImageBitmap it creates from a Blob, after reading its pixels', async () => {
    const bitmap = fakeBitmap(3, 2);
    vi.stubGlobal(
      'createImageBitmap',
      vi.fn(async () => bitmap),
    );
    const before = tf.memory().numTensors;
    const img = await decodeImageBrowser(new Blob([new Uint8Array([1, 2, 3])]));
    expect(img.height).toBe(2);
    expect(img.width).toBe(3);
    expect(Array.from(img.data.subarray(0, 6))).toEqual([0, 7, 14, 28, 35, 42]);
    expect(bitmap.close).toHaveBeenCalledTimes(1);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('closes the bitmap it creates from a URL, also when reading its pixels fails', async () => {
    const bitmap = fakeBitmap(3, 2, false);
    vi.stubGlobal(
      'createImageBitmap',
      vi.fn(async () => bitmap),
    );
    vi.stubGlobal(
      'fetch',
      vi.fn(async () => new Response(new Uint8Array([1, 2, 3]))),
    );
    await expect(decodeImageBrowser('https://example.test/a.png')).rejects.toThrow();
    expect(bitmap.close).toHaveBeenCalledTimes(1);
  });

  it('leaves an ImageBitmap the caller passed in open (the caller owns it)', async () => {
    const bitmap = fakeBitmap(2, 2);
    const img = await decodeImageBrowser(bitmap as unknown as ImageBitmap);
    expect(img.data.length).toBe(12);
    expect(bitmap.close).not.toHaveBeenCalled();
  });
});
