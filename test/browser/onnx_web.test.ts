import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-web';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportOnnx, exportOnnxAsync } from '../../src/export/onnx';
import type { IRRA } from '../../src/model';
import { createOnnxEngine } from '../../src/search/engines/onnxruntime';
import { expectClose } from '../helpers/compare';
import { fixtureRaw } from '../helpers/fixtures';
import { useFixtureModel } from '../helpers/model_fixtures';

// The exporter and the onnxruntime engine in the page: graphs exported from the tfjs model here,
// run by onnxruntime-web, compared with the same model's tfjs features on this project's backend.
// onnxruntime-web's .wasm files are served by the test server from node_modules.
ort.env.wasm.wasmPaths = '/node_modules/onnxruntime-web/dist/';
// onnxruntime's warnings (shape ops placed on the CPU beside WebGPU) are expected here.
ort.env.logLevel = 'error';

/** onnxruntime-web features against tfjs's: max|onnx − tfjs| ≤ 1e-5 · max|tfjs| (the bound). */
const ONNX_TOL = { rel: 1e-5, abs: 0 };

const read = async (t: tf.Tensor): Promise<Float32Array> => {
  try {
    return Float32Array.from(await t.data());
  } finally {
    t.dispose();
  }
};

for (const name of ['tiny_a', 'tiny_overlap']) {
  describe(`exportOnnx and onnxruntime-web in ${tf.getBackend()} Chromium on ${name}`, () => {
    let model: IRRA;
    let file: string;
    let nchw: Float32Array;
    let dims: number[];
    let ids: Int32Array;
    let idDims: number[];
    let wantImage: Float32Array;
    let wantText: Float32Array;
    useFixtureModel(name, (fixture) => {
      ({ model, file } = fixture);
    });
    beforeAll(async () => {
      const images = fixtureRaw(file, 'input.images');
      nchw = Float32Array.from(images.data);
      dims = images.shape;
      const captions = fixtureRaw(file, 'input.caption_ids');
      ids = Int32Array.from(captions.data);
      idDims = captions.shape;
      const nhwc = tf.transpose(tf.tensor4d(nchw, dims as [number, number, number, number]), [0, 2, 3, 1]);
      wantImage = await read(model.encodeImage(nhwc as tf.Tensor4D));
      nhwc.dispose();
      const idTensor = tf.tensor2d(ids, idDims as [number, number], 'int32');
      wantText = await read(model.encodeText(idTensor));
      idTensor.dispose();
    });

    it('wasm EP: the exported graphs give the tfjs features', async () => {
      const options = { executionProviders: ['wasm'] };
      const before = tf.memory().numTensors;
      const imageBytes = exportOnnx(model, { part: 'image' });
      const textBytes = await exportOnnxAsync(model, { part: 'text' });
      expect(tf.memory().numTensors).toBe(before);
      const image = await ort.InferenceSession.create(imageBytes, options);
      const text = await ort.InferenceSession.create(textBytes, options);
      try {
        expect(image.inputNames).toEqual(['pixel_values']);
        expect(text.outputNames).toEqual(['text_embeds']);
        const gotImage = await image.run({ pixel_values: new ort.Tensor('float32', nchw, dims) });
        expectClose(gotImage.image_embeds.data as Float32Array, wantImage, {
          tol: ONNX_TOL,
          label: `${name} image_embeds (ort-web wasm)`,
          group: `onnxruntime-web wasm ${name}`,
        });
        const feed = new ort.Tensor(
          'int64',
          BigInt64Array.from(ids, (v) => BigInt(v)),
          idDims,
        );
        const gotText = await text.run({ input_ids: feed });
        expectClose(gotText.text_embeds.data as Float32Array, wantText, {
          tol: ONNX_TOL,
          label: `${name} text_embeds (ort-web wasm)`,
          group: `onnxruntime-web wasm ${name}`,
        });
      } finally {
        await image.release();
        await text.release();
      }
    });

    it('createOnnxEngine loads onnxruntime-web itself and gives the tfjs features (WebGPU when offered)', async () => {
      const engine = await createOnnxEngine(model);
      try {
        expect(engine.runtime).toBe('onnxruntime-web');
        const gpu = (navigator as Navigator & { gpu?: { requestAdapter(): Promise<unknown> } }).gpu;
        const hasAdapter = gpu ? (await gpu.requestAdapter()) != null : false;
        expect(engine.executionProviders).toEqual(hasAdapter ? ['webgpu', 'wasm'] : ['wasm']);
        console.log(
          `[onnxruntime-web] ${name}: providers ${engine.executionProviders.join(', ')}; crossOriginIsolated ${globalThis.crossOriginIsolated}, wasm threads ${ort.env.wasm.numThreads}`,
        );
        const nhwc = await read(
          tf.transpose(tf.tensor4d(nchw, dims as [number, number, number, number]), [0, 2, 3, 1]),
        );
        expectClose(await engine.encodeImages(nhwc, dims[0]), wantImage, {
          tol: ONNX_TOL,
          label: `${name} engine images (${engine.executionProviders[0]})`,
          group: `onnxruntime-web engine ${name}`,
        });
        expectClose(await engine.encodeTexts(ids, idDims[0]), wantText, {
          tol: ONNX_TOL,
          label: `${name} engine texts (${engine.executionProviders[0]})`,
          group: `onnxruntime-web engine ${name}`,
        });
      } finally {
        await engine.dispose();
      }
    });
  });
}

afterAll(() => {
  ort.env.wasm.wasmPaths = undefined;
});
