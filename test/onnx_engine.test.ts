import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { irraConfig } from '../src/config';
import { IRRA } from '../src/model';
import { createOnnxEngine, type OnnxEngine } from '../src/search/engines/onnxruntime';
import { createTfjsEngine } from '../src/search/engines/tfjs';
import type { EncoderEngine } from '../src/search/types';
import { expectClose } from './helpers/compare';
import { fixtureRaw } from './helpers/fixtures';
import { useFixtureModel } from './helpers/model_fixtures';

/** onnxruntime features against tfjs's: max|onnx − tfjs| ≤ 1e-5 · max|tfjs| (the bound). */
const ONNX_TOL = { rel: 1e-5, abs: 0 };

/** The fixture's NCHW images as NHWC pixels, and its caption ids. */
function fixtureInputs(file: string): { pixels: Float32Array; count: number; ids: Int32Array; captions: number } {
  const images = fixtureRaw(file, 'input.images');
  const pixels = tf.tidy(
    () =>
      tf
        .transpose(
          tf.tensor4d(Float32Array.from(images.data), images.shape as [number, number, number, number]),
          [0, 2, 3, 1],
        )
        .dataSync() as Float32Array,
  );
  const ids = fixtureRaw(file, 'input.caption_ids');
  return { pixels, count: images.shape[0], ids: Int32Array.from(ids.data), captions: ids.shape[0] };
}

for (const name of ['tiny_a', 'tiny_overlap']) {
  describe(`onnxruntime and tfjs engines on ${name}`, () => {
    let model: IRRA;
    let file: string;
    let onnx: OnnxEngine;
    let tfjs: EncoderEngine;
    useFixtureModel(name, (fixture) => {
      ({ model, file } = fixture);
    });
    beforeAll(async () => {
      onnx = await createOnnxEngine(model);
      tfjs = createTfjsEngine(model);
    });
    afterAll(async () => {
      await onnx?.dispose();
      await tfjs?.dispose();
    });

    it('describe themselves', () => {
      expect(onnx.kind).toBe('onnxruntime');
      expect(onnx.runtime).toBe('onnxruntime-node');
      expect(onnx.executionProviders).toEqual(['cpu']);
      expect(onnx.parts).toEqual(['image', 'text']);
      expect(onnx.embedDim).toBe(model.config.embedDim);
      expect(tfjs.kind).toBe('tfjs');
      expect(tfjs.embedDim).toBe(model.config.embedDim);
    });

    it('give the same image features (NHWC in), the tfjs engine exactly encodeImage, leaving no tensor', async () => {
      const { pixels, count } = fixtureInputs(file);
      const [h, w] = model.config.imageSize;
      const direct = tf.tidy(() => model.encodeImage(tf.tensor4d(pixels, [count, h, w, 3])).dataSync() as Float32Array);
      const before = tf.memory().numTensors;
      const viaTfjs = await tfjs.encodeImages(pixels, count);
      const viaOnnx = await onnx.encodeImages(pixels, count);
      expect(tf.memory().numTensors).toBe(before);
      expect(viaTfjs).toEqual(direct);
      expect(viaOnnx.length).toBe(count * model.config.embedDim);
      expectClose(viaOnnx, viaTfjs, { tol: ONNX_TOL, label: `${name} engine images`, group: `onnx engine ${name}` });
    });

    it('give the same text features (int32 ids in), concurrent calls included', async () => {
      const { ids, captions } = fixtureInputs(file);
      const l = model.config.contextLength;
      const before = tf.memory().numTensors;
      const viaTfjs = await tfjs.encodeTexts(ids, captions);
      expect(tf.memory().numTensors).toBe(before);
      const [all, first] = await Promise.all([onnx.encodeTexts(ids, captions), onnx.encodeTexts(ids.slice(0, l), 1)]);
      expectClose(all, viaTfjs, { tol: ONNX_TOL, label: `${name} engine texts`, group: `onnx engine ${name}` });
      expectClose(first, viaTfjs.subarray(0, model.config.embedDim), {
        tol: ONNX_TOL,
        label: `${name} engine text row 0`,
        group: `onnx engine ${name}`,
      });
    });
  });
}

describe('engine inputs and options', () => {
  let model: IRRA;
  let engines: EncoderEngine[];
  beforeAll(async () => {
    model = IRRA.create(irraConfig({ preset: 'tiny' }), { seed: 4 });
    engines = [await createOnnxEngine(model, { threads: 1, runtime: ort }), createTfjsEngine(model)];
  });
  afterAll(async () => {
    for (const e of engines) await e.dispose();
    model.dispose();
  });

  it('reject wrong pixels, ids and counts, naming what was expected and what arrived', async () => {
    const pixels = new Float32Array(2 * 32 * 16 * 3);
    const ids = new Int32Array(16);
    ids.set([510, 7, 511]);
    for (const e of engines) {
      const who = `${e.kind === 'tfjs' ? 'tfjs' : 'onnxruntime'} engine`;
      await expect(e.encodeImages(pixels, 3)).rejects.toThrow(
        `${who}.encodeImages: pixels must hold float32 NHWC [3, 32, 16, 3] = 4608 values (count 3), got 3072`,
      );
      await expect(e.encodeImages(Array.from(pixels) as unknown as Float32Array, 2)).rejects.toThrow(
        `${who}.encodeImages: pixels must be a Float32Array, got Array`,
      );
      await expect(e.encodeImages(pixels, -1)).rejects.toThrow(
        `${who}.encodeImages: count must be an integer ≥ 0, got -1`,
      );
      await expect(e.encodeTexts(ids, 2)).rejects.toThrow(
        `${who}.encodeTexts: ids must hold int32 [2, 16] = 32 values`,
      );
      await expect(e.encodeTexts(Float32Array.from(ids) as unknown as Int32Array, 1)).rejects.toThrow(
        `${who}.encodeTexts: ids must be an Int32Array, got Float32Array`,
      );
      await expect(e.encodeTexts(Int32Array.from([510, 512, 511, ...new Array(13).fill(0)]), 1)).rejects.toThrow(
        `${who}.encodeTexts: ids must be in [0, 512) (the vocabulary size), got 512 at row 0, position 1`,
      );
      await expect(e.encodeTexts(Int32Array.from([510, 7, ...new Array(14).fill(0)]), 1)).rejects.toThrow(
        `${who}.encodeTexts: ids row 0 has no end-of-text id 511`,
      );
      expect(await e.encodeImages(new Float32Array(0), 0)).toEqual(new Float32Array(0));
      expect(await e.encodeTexts(new Int32Array(0), 0)).toEqual(new Float32Array(0));
    }
  });

  it('reject bad options, a missing tower and a disposed engine', async () => {
    await expect(createOnnxEngine(model, { threads: 0 })).rejects.toThrow(
      'createOnnxEngine: options.threads must be an integer ≥ 1, got 0',
    );
    await expect(createOnnxEngine(model, { parts: [] })).rejects.toThrow(
      `createOnnxEngine: options.parts must be a non-empty list of 'image' and 'text', got []`,
    );
    await expect(createOnnxEngine(model, { parts: ['image', 'both' as 'text'] })).rejects.toThrow(
      /got \["image","both"\]/,
    );
    await expect(createOnnxEngine(model, { executionProviders: [] })).rejects.toThrow(
      'createOnnxEngine: options.executionProviders must be a non-empty list, got []',
    );
    await expect(createOnnxEngine(model, { opset: 9 })).rejects.toThrow(
      /options\.opset must be an integer from 13 to 21, got 9/,
    );
    const textOnly = await createOnnxEngine(model, { parts: ['text'] });
    expect(textOnly.parts).toEqual(['text']);
    await expect(textOnly.encodeImages(new Float32Array(32 * 16 * 3), 1)).rejects.toThrow(
      `onnxruntime engine.encodeImages: this engine was created without the image tower (options.parts = ["text"])`,
    );
    await textOnly.dispose();
    await textOnly.dispose();
    await expect(textOnly.encodeTexts(new Int32Array(16), 1)).rejects.toThrow(
      'onnxruntime engine.encodeTexts: the engine has been disposed',
    );
    expect((engines[0] as OnnxEngine).runtime).toBe('user');
  });

  it('say what to install when onnxruntime-node cannot be loaded', async () => {
    vi.resetModules();
    vi.doMock('onnxruntime-node', () => {
      throw new Error("Cannot find package 'onnxruntime-node'");
    });
    try {
      const fresh = await import('../src/search/engines/onnxruntime');
      await expect(fresh.createOnnxEngine(model)).rejects.toThrow(
        /needs onnxruntime-node, an optional peer dependency of irra-tfjs that could not be loaded .*; install it: npm install onnxruntime-node/,
      );
    } finally {
      vi.doUnmock('onnxruntime-node');
      vi.resetModules();
    }
  });
});
