import * as tf from '@tensorflow/tfjs-core';
import fc from 'fast-check';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { irraConfig } from '../src/config';
import { EXPORT_ONNX_DEFAULTS, exportOnnx, exportOnnxAsync } from '../src/export/onnx';
import { IRRA } from '../src/model';
import { expectClose, expectNoLeak } from './helpers/compare';
import { fixtureRaw } from './helpers/fixtures';
import { useFixtureModel } from './helpers/model_fixtures';

const backend = process.env.IRRA_TEST_BACKEND;
/** ONNX features against tfjs's: max|onnx − tfjs| ≤ 1e-5 · max|tfjs| (the bound). */
const ONNX_TOL = { rel: 1e-5, abs: 0 };

async function runImage(session: ort.InferenceSession, nchw: Float32Array, dims: number[]): Promise<Float32Array> {
  const out = await session.run({ pixel_values: new ort.Tensor('float32', nchw, dims) });
  return out.image_embeds.data as Float32Array;
}

async function runText(session: ort.InferenceSession, ids: ArrayLike<number>, dims: number[]): Promise<Float32Array> {
  const out = await session.run({ input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), dims) });
  return out.text_embeds.data as Float32Array;
}

/** tfjs features of NCHW pixels (transposed to the model's NHWC). */
function tfjsImage(model: IRRA, nchw: Float32Array, dims: number[]): Float32Array {
  return tf.tidy(() => {
    const x = tf.transpose(tf.tensor4d(nchw, dims as [number, number, number, number]), [0, 2, 3, 1]);
    return model.encodeImage(x as tf.Tensor4D).dataSync() as Float32Array;
  });
}

function tfjsText(model: IRRA, ids: ArrayLike<number>, dims: number[]): Float32Array {
  return tf.tidy(
    () =>
      model.encodeText(tf.tensor2d(Int32Array.from(ids), dims as [number, number], 'int32')).dataSync() as Float32Array,
  );
}

/** Rows `rows` of a row-major `[n, width]` array, stacked. */
function pickRows(data: Float32Array, width: number, rows: readonly number[]): Float32Array {
  const out = new Float32Array(rows.length * width);
  rows.forEach((r, i) => {
    out.set(data.subarray(r * width, (r + 1) * width), i * width);
  });
  return out;
}

/** A written model, decoded with onnx-proto: the model, its nodes and its initializers' names. */
function decodeModel(bytes: Uint8Array): {
  model: onnxProto.onnx.ModelProto;
  ops: string[];
  domains: string[];
  inits: string[];
} {
  const model = onnxProto.onnx.ModelProto.decode(bytes);
  const graph = model.graph as onnxProto.onnx.GraphProto;
  return {
    model,
    ops: graph.node.map((n) => String(n.opType)),
    domains: graph.node.map((n) => n.domain ?? ''),
    inits: graph.initializer.map((t) => String(t.name)),
  };
}

for (const name of ['tiny_a', 'tiny_overlap']) {
  describe(`exportOnnx on the ${name} fixture model`, () => {
    let model: IRRA;
    let file: string;
    let image: ort.InferenceSession;
    let text: ort.InferenceSession;
    useFixtureModel(name, (fixture) => {
      ({ model, file } = fixture);
    });
    beforeAll(async () => {
      image = await ort.InferenceSession.create(expectNoLeak(() => exportOnnx(model, { part: 'image' })));
      text = await ort.InferenceSession.create(expectNoLeak(() => exportOnnx(model, { part: 'text' })));
    });
    afterAll(async () => {
      await image?.release();
      await text?.release();
    });

    it('give the features of tfjs encodeImage / encodeText, and of the reference', async () => {
      const pixels = fixtureRaw(file, 'input.images');
      const nchw = Float32Array.from(pixels.data);
      const ids = fixtureRaw(file, 'input.caption_ids');
      const cases = [
        { part: 'image', got: await runImage(image, nchw, pixels.shape), tfjs: tfjsImage(model, nchw, pixels.shape) },
        { part: 'text', got: await runText(text, ids.data, ids.shape), tfjs: tfjsText(model, ids.data, ids.shape) },
      ];
      for (const { part, got, tfjs } of cases) {
        expectClose(got, tfjs, { tol: ONNX_TOL, label: `${name} ${part}_embeds vs tfjs`, group: `onnx ${name}` });
        expectClose(got, Float32Array.from(fixtureRaw(file, `output.${part}_feats`).data), {
          kind: 'forward',
          label: `${name} ${part}_embeds vs reference`,
          group: 'onnx vs reference outputs',
        });
      }
    });

    it('property: any ids with an end-of-text id give tfjs encodeText features', async () => {
      const { contextLength: l, vocabSize: v } = model.config;
      const row = fc
        .tuple(
          fc.integer({ min: 1, max: l - 1 }),
          fc.array(fc.integer({ min: 0, max: v - 2 }), { minLength: l, maxLength: l }),
        )
        .map(([eotAt, ids]) => ids.map((id, i) => (i < eotAt ? id : i === eotAt ? v - 1 : 0)));
      await fc.assert(
        fc.asyncProperty(fc.array(row, { minLength: 1, maxLength: 4 }), async (rows) => {
          const ids = rows.flat();
          const dims = [rows.length, l];
          expectClose(await runText(text, ids, dims), tfjsText(model, ids, dims), {
            tol: ONNX_TOL,
            label: `${name} text_embeds (property)`,
            group: `onnx ${name}`,
          });
        }),
        { numRuns: 15, seed: 14 },
      );
    });
  });
}

describe('exportOnnx graphs', () => {
  let model: IRRA;
  beforeAll(() => {
    model = IRRA.create(irraConfig({ preset: 'tiny', strideSize: 6 }), { seed: 3 });
  });
  afterAll(() => model.dispose());

  it('are standard ai.onnx models: IR version, opset, default-domain ops, reference-named weights', () => {
    const image = decodeModel(exportOnnx(model, { part: 'image' }));
    expect(Number(image.model.irVersion)).toBe(8);
    expect(image.model.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([['', 17]]);
    expect(image.model.producerName).toBe(EXPORT_ONNX_DEFAULTS.producer);
    expect(new Set(image.domains)).toEqual(new Set(['']));
    for (const op of ['Conv', 'LayerNormalization', 'Softmax', 'Sigmoid', 'MatMul']) expect(image.ops).toContain(op);
    expect(image.inits).toContain('base_model.visual.conv1.weight');
    expect(image.inits).toContain('base_model.visual.transformer.resblocks.1.mlp.c_fc.weight.T');
    expect(image.inits.filter((n) => !n.startsWith('base_model.visual.') && !n.startsWith('const_'))).toEqual([]);
    const text = decodeModel(exportOnnx(model, { part: 'text', opset: 21 }));
    expect(Number(text.model.irVersion)).toBe(10);
    expect(text.inits).toContain('base_model.token_embedding.weight');
    expect(text.inits.filter((n) => n.startsWith('base_model.visual.'))).toEqual([]);
    expect(decodeModel(exportOnnx(model, { part: 'image', opset: 16 })).ops).not.toContain('LayerNormalization');
  });

  it('give the same features at every accepted opset, with tfjs-equal values', async () => {
    const dims = [2, 3, 32, 16];
    const nchw = tf.tidy(() => tf.randomNormal(dims, 0, 1, 'float32', 5).dataSync() as Float32Array);
    const want = tfjsImage(model, nchw, dims);
    const ids = new Int32Array(2 * 16);
    ids.set([510, 4, 99, 511], 0);
    ids.set([510, 511], 16);
    const wantText = tfjsText(model, ids, [2, 16]);
    const { minOpset, maxOpset } = EXPORT_ONNX_DEFAULTS;
    for (const opset of [minOpset, 16, 17, 18, 19, maxOpset]) {
      const image = await ort.InferenceSession.create(exportOnnx(model, { part: 'image', opset }));
      const text = await ort.InferenceSession.create(exportOnnx(model, { part: 'text', opset }));
      expectClose(await runImage(image, nchw, dims), want, {
        tol: ONNX_TOL,
        label: `opset ${opset} image`,
        group: 'onnx tiny stride 6, opsets 13-21',
      });
      expectClose(await runText(text, ids, [2, 16]), wantText, {
        tol: ONNX_TOL,
        label: `opset ${opset} text`,
        group: 'onnx tiny stride 6, opsets 13-21',
      });
      await image.release();
      await text.release();
    }
  });

  it('exportOnnxAsync writes the same bytes as exportOnnx, leaving no tensor behind', async () => {
    for (const part of ['image', 'text'] as const) {
      const before = tf.memory().numTensors;
      const bytes = await exportOnnxAsync(model, { part });
      expect(tf.memory().numTensors).toBe(before);
      expect(Buffer.compare(bytes, exportOnnx(model, { part })), `${part}: same bytes`).toBe(0);
    }
  });

  it('reject bad options and a disposed model with clear errors', async () => {
    const bad = (o: unknown) => () => exportOnnx(model, o as Parameters<typeof exportOnnx>[1]);
    expect(bad({ part: 'both' })).toThrow(/options\.part must be 'image' or 'text', got "both"/);
    expect(bad(undefined)).toThrow(/options\.part must be 'image' or 'text', got undefined/);
    expect(bad({ part: 'image', opset: 12 })).toThrow(/options\.opset must be an integer from 13 to 21, got 12/);
    expect(bad({ part: 'text', opset: 22 })).toThrow(/from 13 to 21, got 22/);
    expect(bad({ part: 'text', opset: 17.5 })).toThrow(/from 13 to 21, got 17\.5/);
    await expect(exportOnnxAsync(model, { part: 'image', opset: 0 })).rejects.toThrow(/options\.opset/);
    const gone = IRRA.create(irraConfig({ preset: 'tiny' }), { seed: 1 });
    gone.dispose();
    expect(() => exportOnnx(gone, { part: 'image' })).toThrow(/disposed/);
  });
});

describe.runIf(backend === 'wasm')('exportOnnx on ViT-B/16 (random weights)', () => {
  it('matches tfjs at batch 2; names, dtypes and a dynamic batch (1 and 3 on the same sessions)', async () => {
    const model = IRRA.create(irraConfig({ preset: 'ViT-B/16' }), { seed: 0 });
    const c = model.config;
    const [h, w] = c.imageSize;
    let image: ort.InferenceSession | undefined;
    let text: ort.InferenceSession | undefined;
    try {
      const imageBytes = expectNoLeak(() => exportOnnx(model, { part: 'image' }));
      const textBytes = expectNoLeak(() => exportOnnx(model, { part: 'text' }));
      console.log(
        `ViT-B/16 image_encoder.onnx ${imageBytes.length} bytes, text_encoder.onnx ${textBytes.length} bytes`,
      );
      image = await ort.InferenceSession.create(imageBytes);
      text = await ort.InferenceSession.create(textBytes);
      expect(image.inputNames).toEqual(['pixel_values']);
      expect(image.outputNames).toEqual(['image_embeds']);
      expect(text.inputNames).toEqual(['input_ids']);
      expect(text.outputNames).toEqual(['text_embeds']);
      expect(image.inputMetadata[0]).toMatchObject({ type: 'float32', shape: ['batch', 3, h, w] });
      expect(image.outputMetadata[0]).toMatchObject({ type: 'float32', shape: ['batch', c.embedDim] });
      expect(text.inputMetadata[0]).toMatchObject({ type: 'int64', shape: ['batch', c.contextLength] });
      expect(text.outputMetadata[0]).toMatchObject({ type: 'float32', shape: ['batch', c.embedDim] });

      const dims = [2, 3, h, w];
      const nchw = tf.tidy(() => tf.randomNormal(dims, 0, 1, 'float32', 11).dataSync() as Float32Array);
      const want = tfjsImage(model, nchw, dims);
      const got = await runImage(image, nchw, dims);
      expect(got.length).toBe(2 * c.embedDim);
      expectClose(got, want, { tol: ONNX_TOL, label: 'ViT-B/16 image_embeds batch 2', group: 'onnx ViT-B/16' });
      const plane = 3 * h * w;
      const one = await runImage(image, nchw.slice(0, plane), [1, 3, h, w]);
      expectClose(one, pickRows(want, c.embedDim, [0]), {
        tol: ONNX_TOL,
        label: 'ViT-B/16 image batch 1',
        group: 'onnx ViT-B/16',
      });
      const three = new Float32Array(3 * plane);
      three.set(nchw.subarray(plane), 0);
      three.set(nchw.subarray(0, plane), plane);
      three.set(nchw.subarray(plane), 2 * plane);
      const got3 = await runImage(image, three, [3, 3, h, w]);
      expectClose(got3, pickRows(want, c.embedDim, [1, 0, 1]), {
        tol: ONNX_TOL,
        label: 'ViT-B/16 image batch 3',
        group: 'onnx ViT-B/16',
      });

      const l = c.contextLength;
      const ids = new Int32Array(2 * l);
      ids.set([49406, 320, 1125, 539, 518, 1746, 49407], 0);
      ids.set([49406, 1929, 49407], l);
      const wantText = tfjsText(model, ids, [2, l]);
      expectClose(await runText(text, ids, [2, l]), wantText, {
        tol: ONNX_TOL,
        label: 'ViT-B/16 text_embeds batch 2',
        group: 'onnx ViT-B/16',
      });
      expectClose(await runText(text, ids.subarray(l), [1, l]), pickRows(wantText, c.embedDim, [1]), {
        tol: ONNX_TOL,
        label: 'ViT-B/16 text batch 1',
        group: 'onnx ViT-B/16',
      });
      const ids3 = new Int32Array(3 * l);
      ids3.set(ids.subarray(l), 0);
      ids3.set(ids, l);
      expectClose(await runText(text, ids3, [3, l]), pickRows(wantText, c.embedDim, [1, 0, 1]), {
        tol: ONNX_TOL,
        label: 'ViT-B/16 text batch 3',
        group: 'onnx ViT-B/16',
      });
    } finally {
      await image?.release();
      await text?.release();
      model.dispose();
    }
  }, 400_000);
});
