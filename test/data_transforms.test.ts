import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DecodedImage } from '../src/data/image';
import { seededRng } from '../src/data/random';
import {
  applyTransform,
  buildTransforms,
  normalizeImage,
  resizeBilinearPil,
  sampleTransformParams,
  TRANSFORM_DEFAULTS,
  type TransformParams,
} from '../src/data/transforms';
import { expectNoLeak } from './helpers/compare';

const f32 = Math.fround;
const MEAN = TRANSFORM_DEFAULTS.mean.map(f32);
const STD = TRANSFORM_DEFAULTS.std.map(f32);

/** torchvision ToTensor + Normalize of one 8-bit value in float32 arithmetic. */
const norm = (v: number, c: number) => f32(f32(f32(v / 255) - MEAN[c]) / STD[c]);

/** A `h × w` RGB image whose pixel (r, c, ch) is `(r * w + c) * 3 + ch` (mod 256). */
function ramp(h: number, w: number): DecodedImage {
  return { data: Uint8Array.from({ length: h * w * 3 }, (_, i) => i % 256), height: h, width: w };
}

function gray(rows: number[][]): DecodedImage {
  const h = rows.length;
  const w = rows[0].length;
  const data = new Uint8Array(h * w * 3);
  for (let r = 0; r < h; r++) {
    for (let c = 0; c < w; c++) data.fill(rows[r][c], (r * w + c) * 3, (r * w + c) * 3 + 3);
  }
  return { data, height: h, width: w };
}

const channel0 = (img: DecodedImage) => Array.from({ length: img.height * img.width }, (_, i) => img.data[3 * i]);

const none: TransformParams = { flip: false, crop: null, erase: null };

describe('resizeBilinearPil (Pillow BILINEAR)', () => {
  it('antialiases when shrinking: [0, 70, 140, 210] → [50, 160] (triangle filter of half-width 2)', () => {
    // out 0: centre 1, taps at pixels 0,1,2 with weights 3/7, 3/7, 1/7 → 30 + 20 = 50;
    // out 1: centre 3, taps 1,2,3 with 1/7, 3/7, 3/7 → 10 + 60 + 90 = 160.
    // (tf.image.resizeBilinear, which does not antialias, would give [35, 175].)
    const out = resizeBilinearPil(gray([[0, 70, 140, 210]]), [1, 2]);
    expect(channel0(out)).toEqual([50, 160]);
  });

  it('interpolates at half-pixel centres when enlarging, clamping at the edges: [0, 100] → [0, 25, 75, 100]', () => {
    const out = resizeBilinearPil(gray([[0], [100]]), [4, 1]);
    expect(channel0(out)).toEqual([0, 25, 75, 100]);
    // 0.25 and 0.75 of one level: Pillow rounds half up in fixed point → 0 and 1
    expect(channel0(resizeBilinearPil(gray([[0], [1]]), [4, 1]))).toEqual([0, 0, 1, 1]);
  });

  it('resizes width first, then height, each rounded to 8 bits', () => {
    // 2×4 → 1×2: width pass gives rows [50, 160] and [0, 0]; height pass averages → [25, 80]
    const out = resizeBilinearPil(
      gray([
        [0, 70, 140, 210],
        [0, 0, 0, 0],
      ]),
      [1, 2],
    );
    expect(channel0(out)).toEqual([25, 80]);
  });

  it('keeps constant images constant and returns the input when the size is unchanged', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 255 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 9 }),
        (v, oh, ow) => {
          const img = { data: new Uint8Array(5 * 7 * 3).fill(v), height: 5, width: 7 };
          const out = resizeBilinearPil(img, [oh, ow]);
          return out.data.length === oh * ow * 3 && out.data.every((x) => x === v);
        },
      ),
      { numRuns: 50 },
    );
    const img = ramp(3, 2);
    expect(resizeBilinearPil(img, [3, 2])).toBe(img);
  });

  it('rejects bad input', () => {
    expect(() => resizeBilinearPil({ data: new Uint8Array(5), height: 1, width: 2 }, [2, 2])).toThrow(
      'resizeBilinearPil: image: data must hold height*width*3 = 6 RGB bytes for 1×2, got 5',
    );
    expect(() => resizeBilinearPil(ramp(2, 2), [0, 2])).toThrow(
      'resizeBilinearPil: size: expected [height, width] of positive integers, got [0,2]',
    );
  });
});

describe('normalizeImage', () => {
  it('is ToTensor + Normalize in float32, bit for bit', () => {
    const values = Array.from({ length: 256 * 3 }, (_, i) => Math.floor(i / 3));
    const x = tf.tensor2d(values, [256, 3], 'int32');
    const y = normalizeImage(x);
    expect(y.dtype).toBe('float32');
    const got = y.dataSync();
    const expected = Float32Array.from(values, (v, i) => norm(v, i % 3));
    expect(Array.from(got)).toEqual(Array.from(expected));
    tf.dispose([x, y]);
  });

  it('rejects a last axis other than 3', () => {
    const x = tf.zeros([2, 4]);
    expect(() => normalizeImage(x)).toThrow(
      'normalizeImage: expected pixels [..., 3] and 3 means/stds, got pixels [2,4]',
    );
    x.dispose();
  });
});

describe('applyTransform', () => {
  const H = 4;
  const W = 2;
  const img = ramp(H, W);
  const px = (r: number, c: number, ch: number) => img.data[(r * W + c) * 3 + ch];
  const run = (params: TransformParams) => {
    const t = applyTransform(img, params, { imageSize: [H, W] });
    expect(t.shape).toEqual([H, W, 3]);
    const out = Array.from(t.dataSync());
    t.dispose();
    return out;
  };
  const expectImage = (got: number[], value: (r: number, c: number, ch: number) => number) => {
    const expected: number[] = [];
    for (let r = 0; r < H; r++)
      for (let c = 0; c < W; c++) for (let ch = 0; ch < 3; ch++) expected.push(value(r, c, ch));
    expect(got).toEqual(expected);
  };

  it('without augmentation is resize + normalize (exact)', () => {
    expectImage(run(none), (r, c, ch) => norm(px(r, c, ch), ch));
  });

  it('flips left-right', () => {
    expectImage(run({ ...none, flip: true }), (r, c, ch) => norm(px(r, W - 1 - c, ch), ch));
  });

  it('pads with black (before normalization) and crops at the given corner', () => {
    for (const [top, left] of [
      [10, 10],
      [0, 0],
      [8, 9],
      [20, 20],
      [13, 11],
    ]) {
      const got = run({ ...none, crop: { top, left } });
      expectImage(got, (r, c, ch) => {
        const sr = r + top - 10;
        const sc = c + left - 10;
        return norm(sr >= 0 && sr < H && sc >= 0 && sc < W ? px(sr, sc, ch) : 0, ch);
      });
    }
  });

  it('flips before cropping', () => {
    const got = run({ flip: true, crop: { top: 9, left: 11 }, erase: null });
    expectImage(got, (r, c, ch) => {
      const sr = r - 1;
      const sc = c + 1;
      return norm(sr >= 0 && sr < H && sc >= 0 && sc < W ? px(sr, W - 1 - sc, ch) : 0, ch);
    });
  });

  it('erases after normalization with the raw mean values', () => {
    const erase = { top: 1, left: 1, height: 2, width: 1 };
    const got = run({ ...none, erase });
    expectImage(got, (r, c, ch) => (r >= 1 && r < 3 && c === 1 ? MEAN[ch] : norm(px(r, c, ch), ch)));
  });

  it('resizes a tensor input of another size like the same 8-bit image', () => {
    const big = ramp(8, 4);
    const asTensor = tf.tensor3d(Int32Array.from(big.data), [8, 4, 3], 'int32');
    const a = applyTransform(asTensor, none, { imageSize: [4, 2] });
    const b = applyTransform(big, none, { imageSize: [4, 2] });
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    tf.dispose([asTensor, a, b]);
  });

  it('rejects parameters outside the image', () => {
    expect(() => applyTransform(img, { ...none, crop: { top: 21, left: 0 } }, { imageSize: [H, W] })).toThrow(
      'applyTransform: params.crop corner must lie in [0, 20]²',
    );
    expect(() =>
      applyTransform(img, { ...none, erase: { top: 3, left: 0, height: 2, width: 1 } }, { imageSize: [H, W] }),
    ).toThrow('applyTransform: params.erase box must lie inside 4×2');
    const t = tf.zeros([4, 2, 4]) as tf.Tensor3D;
    expect(() => applyTransform(t, none, { imageSize: [H, W] })).toThrow(
      'applyTransform: image tensor must be [height, width, 3], got [4,2,4]',
    );
    t.dispose();
  });

  it('leaks no tensors', () => {
    expectNoLeak(() => {
      const t = applyTransform(
        img,
        { flip: true, crop: { top: 3, left: 4 }, erase: { top: 0, left: 0, height: 1, width: 1 } },
        { imageSize: [H, W] },
      );
      t.dispose();
    });
  });
});

describe('sampleTransformParams', () => {
  it('draws torchvision-distributed crops and erasing boxes inside the image', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 }), (seed) => {
        const p = sampleTransformParams(seededRng(seed), { imageSize: [384, 128], aug: true });
        if (!p.crop || p.crop.top < 0 || p.crop.top > 20 || p.crop.left < 0 || p.crop.left > 20) return false;
        if (p.erase) {
          const { top, left, height, width } = p.erase;
          if (top < 0 || left < 0 || top + height > 384 || left + width > 128) return false;
          // area within scale (0.02, 0.4) of 384×128, up to the rounding of h and w
          const lo = Math.sqrt(0.02 * 384 * 128);
          const area = height * width;
          if (area < (lo - 1) ** 2 * 0.9 || area > 0.4 * 384 * 128 * 1.1) return false;
        }
        return true;
      }),
      { numRuns: 300 },
    );
  });

  it('flips and erases about half the time and covers every crop offset', () => {
    const rng = seededRng(7);
    let flips = 0;
    let erases = 0;
    const tops = new Set<number>();
    const n = 4000;
    for (let i = 0; i < n; i++) {
      const p = sampleTransformParams(rng, { aug: true });
      flips += p.flip ? 1 : 0;
      erases += p.erase ? 1 : 0;
      tops.add(p.crop!.top);
    }
    expect(Math.abs(flips / n - 0.5)).toBeLessThan(0.03);
    expect(Math.abs(erases / n - 0.5)).toBeLessThan(0.03);
    expect([...tops].sort((a, b) => a - b)).toEqual(Array.from({ length: 21 }, (_, i) => i));
  });

  it('draws only the flip without aug', () => {
    const p = sampleTransformParams(seededRng(1));
    expect(p.crop).toBeNull();
    expect(p.erase).toBeNull();
  });
});

describe('buildTransforms', () => {
  const img = ramp(12, 6);

  it('eval transform = resize to imageSize + normalize, no randomness', () => {
    const t = buildTransforms({ imageSize: [6, 3], isTrain: false });
    const a = t(img);
    const resized = resizeBilinearPil(img, [6, 3]);
    expect(Array.from(a.dataSync())).toEqual(Array.from(resized.data, (v, i) => norm(v, i % 3)));
    a.dispose();
  });

  it('is reproducible from the rng and uses a per-call rng when given', () => {
    const t = buildTransforms({ imageSize: [6, 3], aug: true, rng: seededRng(3) });
    const a = t(img, seededRng(11));
    const b = t(img, seededRng(11));
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    const c = buildTransforms({ imageSize: [6, 3], aug: true })(img, seededRng(11));
    expect(Array.from(c.dataSync())).toEqual(Array.from(a.dataSync()));
    // the same as applying the drawn parameters
    const params = sampleTransformParams(seededRng(11), { imageSize: [6, 3], aug: true });
    const d = applyTransform(img, params, { imageSize: [6, 3] });
    expect(Array.from(d.dataSync())).toEqual(Array.from(a.dataSync()));
    tf.dispose([a, b, c, d]);
  });

  it('defaults to 384×128 and the reference order of steps', () => {
    const t = buildTransforms({ rng: seededRng(0) });
    const out = expectNoLeak(() => t(ramp(40, 20)), 1);
    expect(out.shape).toEqual([384, 128, 3]);
    out.dispose();
  });

  it('requires an rng for training transforms and a valid size', () => {
    expect(() => buildTransforms()(img)).toThrow('buildTransforms: a training transform needs an rng');
    expect(() => buildTransforms({ imageSize: [384, 0] as [number, number] })).toThrow(
      'buildTransforms: imageSize: expected [height, width] of positive integers, got [384,0]',
    );
  });
});
