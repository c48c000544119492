import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { Evaluator, type RetrievalEncoder } from '../src/eval/evaluator';
import { rank } from '../src/eval/rank';

// A stand-in encoder: images [B, 1, 1, D] and "ids" [B, D] map straight to features, so the
// expected similarity is computable by hand.
const encoder: RetrievalEncoder = {
  encodeImage: (x) => tf.reshape(x, [x.shape[0], x.shape[3]]) as tf.Tensor2D,
  encodeText: (ids) => tf.cast(ids, 'float32') as tf.Tensor2D,
};

const textRows = [
  [3, 0, 0],
  [0, 2, 1],
  [1, 1, 5],
  [0, 4, 0],
  [2, 0, 1],
];
const textPids = [0, 1, 2, 1, 0];
const imageRows = [
  [1, 0.1, 0],
  [0.2, 1, 0],
  [0, 0.3, 1],
  [0.5, 0.5, 0.5],
];
const imagePids = [0, 1, 2, 2];

function data(batch: number) {
  return {
    captions: function* () {
      for (let i = 0; i < textRows.length; i += batch) {
        const rows = textRows.slice(i, i + batch);
        yield { pids: textPids.slice(i, i + batch), captionIds: tf.tensor2d(rows, undefined, 'int32') };
      }
    },
    gallery: async function* () {
      for (let i = 0; i < imageRows.length; i += batch) {
        const rows = imageRows.slice(i, i + batch);
        yield { pids: imagePids.slice(i, i + batch), images: tf.tensor4d(rows.flat(), [rows.length, 1, 1, 3]) };
      }
    },
  };
}

function expected(i2t: boolean) {
  const sim = tf.tidy(() => {
    const norm = (m: number[][]) => {
      const t = tf.tensor2d(m);
      return tf.div(t, tf.norm(t, 'euclidean', 1, true));
    };
    const s = tf.matMul(norm(textRows), norm(imageRows), false, true);
    return (i2t ? tf.transpose(s) : s) as tf.Tensor2D;
  });
  try {
    return i2t ? rank(sim, imagePids, textPids, { maxRank: 4 }) : rank(sim, textPids, imagePids, { maxRank: 4 });
  } finally {
    sim.dispose();
  }
}

describe('Evaluator', () => {
  it('matches rank() on the normalized cosine similarity, whatever the batch and chunk sizes', async () => {
    for (const [batch, chunk] of [
      [1, 1],
      [2, 3],
      [8, 1024],
    ]) {
      const result = await new Evaluator(data(batch), { i2t: true, similarityChunk: chunk, maxRank: 4 }).evaluate(
        encoder,
      );
      const t2i = expected(false);
      const i2t = expected(true);
      expect(result.numQueries).toBe(5);
      expect(result.numGallery).toBe(4);
      expect(result.t2i.R1).toBeCloseTo(t2i.R1, 4);
      expect(result.t2i.mAP).toBeCloseTo(t2i.mAP, 4);
      expect(result.t2i.mINP).toBeCloseTo(t2i.mINP, 4);
      expect(result.i2t?.mAP).toBeCloseTo(i2t.mAP, 4);
    }
  });

  it('leaves no tensors behind, including the batches it was given', async () => {
    const before = tf.memory().numTensors;
    await new Evaluator(data(2), { i2t: true }).evaluate(encoder);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('omits i2t unless asked, and formats the reference table', async () => {
    const result = await new Evaluator(data(3)).evaluate(encoder);
    expect(result.i2t).toBeUndefined();
    const table = Evaluator.formatTable(result);
    expect(table).toMatch(/\| task \|\s+R1 \|\s+R5 \|\s+R10 \|\s+mAP \|\s+mINP \|/);
    expect(table).toMatch(new RegExp(`\\|\\s+t2i \\|\\s+${result.t2i.R1.toFixed(2)} \\|`));
  });

  it('rejects bad input clearly and disposes what it was given', async () => {
    const before = tf.memory().numTensors;
    const mismatched = {
      captions: [{ pids: [0, 1], captionIds: tf.tensor2d([[1, 2, 3]], undefined, 'int32') }],
      gallery: [{ pids: [0], images: tf.ones([1, 1, 1, 3]) as tf.Tensor4D }],
    };
    await expect(new Evaluator(mismatched).evaluate(encoder)).rejects.toThrow(/caption batch has 1 rows but 2 pids/);
    mismatched.gallery[0].images.dispose();
    await expect(new Evaluator({ captions: [], gallery: [] }).evaluate(encoder)).rejects.toThrow(
      /caption source yielded no batches/,
    );
    expect(tf.memory().numTensors).toBe(before);
    expect(() => new Evaluator(data(1), { similarityChunk: 0 })).toThrow(/similarityChunk/);
  });
});
