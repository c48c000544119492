import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { commandExport, EXPORT_DEFAULTS, exportHelp, parseExportOptions } from '../src/cli/export_command';
import { loadModel } from '../src/cli/options';
import { ONNX_FILES } from '../src/export/preprocess';
import { captureIO } from './helpers/command_io';
import { expectClose } from './helpers/compare';
import { fixturePath } from './helpers/fixtures';
import { fixtureModels } from './helpers/model_fixtures';

const dirs: string[] = [];
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'irra-export-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('irra-tfjs export: options', () => {
  it('--help lists the options with their defaults', () => {
    expect(parseExportOptions(['--help'])).toBeNull();
    const help = exportHelp();
    for (const s of [
      '--checkpoint PATH',
      '--out DIR',
      '--format onnx',
      '--opset N',
      '--img_size H,W',
      '--stride_size N',
      '--verify',
    ]) {
      expect(help).toContain(s);
    }
    expect(help).toContain('(default 17)');
    expect(help).toContain('(default 384,128)');
    expect(help).not.toContain('--vocab');
  });

  it('parses snake_case flags over the defaults', () => {
    const o = parseExportOptions([
      '--checkpoint',
      'a.pth',
      '--out',
      'dir',
      '--img_size',
      '40,24',
      '--stride_size',
      '6',
      '--opset',
      '13',
    ]);
    expect(o).toEqual({
      ...EXPORT_DEFAULTS,
      checkpoint: 'a.pth',
      out: 'dir',
      img_size: [40, 24],
      stride_size: 6,
      opset: 13,
    });
  });

  it('rejects missing and bad values with errors naming the option', async () => {
    expect(() => parseExportOptions(['--out', 'd'])).toThrow('export: --checkpoint PATH is required');
    expect(() => parseExportOptions(['--checkpoint', 'a.pth'])).toThrow('export: --out DIR is required');
    expect(() => parseExportOptions(['--checkpoint', 'a', '--out', 'd', '--format', 'tflite'])).toThrow(
      "export: --format: expected one of onnx, got 'tflite'",
    );
    expect(() => parseExportOptions(['--checkpoint', 'a', '--out', 'd', '--opset', '12'])).toThrow(
      "export: --opset: expected a value >= 13, got '12'",
    );
    expect(() => parseExportOptions(['--checkpoint', 'a', '--out', 'd', '--opset', '22'])).toThrow(
      "export: --opset: expected a value from 13 to 21, got '22'",
    );
    expect(() => parseExportOptions(['--checkpoint', 'a', '--out', 'd', '--img_size', '40'])).toThrow(/--img_size/);
    const file = join(tempDir(), 'taken');
    writeFileSync(file, 'x');
    await expect(commandExport(['--checkpoint', 'a', '--out', file], captureIO())).rejects.toThrow(
      `export: --out '${file}' exists and is not a folder`,
    );
    await expect(
      commandExport(['--checkpoint', join(tempDir(), 'missing.pth'), '--out', tempDir()], captureIO()),
    ).rejects.toThrow(/export: --checkpoint: cannot read/);
  });
});

describe.runIf(process.env.IRRA_TEST_BACKEND === 'cpu')('irra-tfjs export --format onnx end to end (cpu)', () => {
  for (const name of ['tiny_a', 'tiny_overlap']) {
    it(`writes ${name}.irra.pth's towers and preprocess.json; onnxruntime-node gives the tfjs features`, async () => {
      const spec = fixtureModels[name].config as (typeof fixtureModels)[string]['config'] & {
        vocab_size: number;
        context_length: number;
        embed_dim: number;
      };
      const [h, w] = spec.image_resolution;
      const out = join(tempDir(), 'nested', name);
      const checkpoint = fixturePath(`${name}.irra.pth`);
      const io = captureIO();
      const geometry = ['--img_size', `${h},${w}`, '--stride_size', String(spec.stride_size), '--backend', 'cpu'];
      const before = tf.memory().numTensors;
      expect(await commandExport(['--checkpoint', checkpoint, '--out', out, ...geometry, '--verify'], io)).toBe(0);
      expect(tf.memory().numTensors).toBe(before);
      const text = io.text();
      expect(text).toContain(`${ONNX_FILES.image}`);
      expect(text).toContain('backend cpu');
      const verified = /= ([\d.e+-]+) \(image\), ([\d.e+-]+) \(text\)/.exec(text);
      expect(verified, text).not.toBeNull();
      expect(Number(verified?.[1])).toBeLessThanOrEqual(1e-5);
      expect(Number(verified?.[2])).toBeLessThanOrEqual(1e-5);

      const pre = JSON.parse(readFileSync(join(out, ONNX_FILES.preprocess), 'utf8'));
      expect(pre.image).toMatchObject({
        file: 'image_encoder.onnx',
        input: 'pixel_values',
        output: 'image_embeds',
        layout: 'NCHW',
        size: [h, w],
        interpolation: 'bilinear (Pillow)',
        mean: [0.48145466, 0.4578275, 0.40821073],
        std: [0.26862954, 0.26130258, 0.27577711],
      });
      const v = spec.vocab_size;
      expect(pre.text).toMatchObject({
        file: 'text_encoder.onnx',
        input: 'input_ids',
        output: 'text_embeds',
        tokenizer: 'clip-bpe',
        context_length: spec.context_length,
        special_tokens: { sot: v - 2, eot: v - 1, mask: v - 3 },
        dtype: 'int64',
      });
      expect(pre.embeddings).toMatchObject({ embed_dim: spec.embed_dim, normalized: false });

      // The files as another tool would load them, against tfjs on the same checkpoint.
      const { model } = await loadModel('test', checkpoint, { imageSize: [h, w], strideSize: spec.stride_size });
      const image = await ort.InferenceSession.create(join(out, ONNX_FILES.image));
      const textSession = await ort.InferenceSession.create(join(out, ONNX_FILES.text));
      try {
        expect(statSync(join(out, ONNX_FILES.image)).size).toBeGreaterThan(0);
        const b = 3;
        const nchw = tf.tidy(() => tf.randomNormal([b, 3, h, w], 0, 1, 'float32', 2).dataSync() as Float32Array);
        const got = await image.run({ pixel_values: new ort.Tensor('float32', nchw, [b, 3, h, w]) });
        const want = tf.tidy(
          () =>
            model
              .encodeImage(tf.transpose(tf.tensor4d(nchw, [b, 3, h, w]), [0, 2, 3, 1]) as tf.Tensor4D)
              .dataSync() as Float32Array,
        );
        expectClose(got.image_embeds.data as Float32Array, want, {
          tol: { rel: 1e-5, abs: 0 },
          label: `${name} export image`,
          group: 'cli export',
        });
        const l = spec.context_length;
        const ids = new Int32Array(b * l);
        for (let r = 0; r < b; r++) ids.set([v - 2, 5 + r, 9, v - 1].slice(0, Math.min(4, l)), r * l);
        const gotText = await textSession.run({
          input_ids: new ort.Tensor('int64', BigInt64Array.from(ids, BigInt), [b, l]),
        });
        const wantText = tf.tidy(() => model.encodeText(tf.tensor2d(ids, [b, l], 'int32')).dataSync() as Float32Array);
        expectClose(gotText.text_embeds.data as Float32Array, wantText, {
          tol: { rel: 1e-5, abs: 0 },
          label: `${name} export text`,
          group: 'cli export',
        });
      } finally {
        await image.release();
        await textSession.release();
        model.dispose();
      }
    });
  }
});
