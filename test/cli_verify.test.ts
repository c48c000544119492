import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandEncode } from '../src/cli/encode_command';
import { commandEval, evalHelp } from '../src/cli/eval_command';
import { commandTrain, trainHelp } from '../src/cli/train_command';
import { DatasetImagesError } from '../src/data/verify';
import { captureIO } from './helpers/command_io';
import { vocabPath } from './helpers/fixtures';

/** A 40×20 PNG whose coat colour depends on the identity. */
function personPng(pid: number): Buffer {
  const png = new PNG({ width: 20, height: 40 });
  for (let i = 0; i < 20 * 40; i++) {
    const coat = i >= 80 && i < 440;
    png.data[4 * i] = coat ? (pid * 70) % 256 : 240;
    png.data[4 * i + 1] = coat ? (pid * 130) % 256 : 240;
    png.data[4 * i + 2] = coat ? (pid * 200) % 256 : 240;
    png.data[4 * i + 3] = 255;
  }
  return PNG.sync.write(png);
}

/** A tiny model (the `tiny` preset, narrower and shallower): the checks, not the training, are under test. */
const TINY_MODEL =
  '--preset tiny --embed_dim 32 --vision_width 32 --vision_layers 1 --transformer_width 32 --transformer_layers 1 --cmt_depth 1'.split(
    ' ',
  );

const COLORS = ['red', 'green', 'blue', 'yellow', 'purple', 'cyan'];

/**
 * Writes `<root>/ICFG-PEDES/` shaped like the real dataset: ICFG-PEDES.json with train and test
 * records only (no val), one caption per image, images under imgs/train/<id>/ and imgs/test/<id>/.
 * Returns the image paths by split.
 */
function writeIcfg(root: string, testImages: number): { train: string[]; test: string[] } {
  const dir = join(root, 'ICFG-PEDES');
  const paths = { train: [] as string[], test: [] as string[] };
  const records: Record<string, unknown>[] = [];
  const add = (split: 'train' | 'test', id: number, k: number) => {
    const filePath = `${split}/${String(id).padStart(4, '0')}/${String(id).padStart(4, '0')}_00${k}_01_0303morning_00${k}0_0.png`;
    mkdirSync(join(dir, 'imgs', split, String(id).padStart(4, '0')), { recursive: true });
    writeFileSync(join(dir, 'imgs', filePath), personPng(id));
    paths[split].push(join(dir, 'imgs', filePath));
    const caption = `a person in a ${COLORS[id % COLORS.length]} coat`;
    records.push({ split, captions: [caption], file_path: filePath, processed_tokens: [caption.split(' ')], id });
  };
  for (let id = 0; id < 4; id++) for (let k = 0; k < 2; k++) add('train', id, k);
  for (let k = 0; k < testImages; k++) add('test', 4 + (k % 3), k);
  writeFileSync(join(dir, 'ICFG-PEDES.json'), JSON.stringify(records));
  return paths;
}

describe.runIf(process.env.IRRA_TEST_BACKEND === 'cpu')('train / eval / encode check the dataset first', () => {
  let dir = '';
  const common = () => ['--backend', 'cpu', '--vocab', vocabPath()];
  const icfg = (root: string) => ['--dataset_name', 'ICFG-PEDES', '--root_dir', root];
  const trainArgs = (root: string, out: string) => [
    ...common(),
    ...icfg(root),
    ...TINY_MODEL,
    '--batch_size',
    '4',
    '--test_batch_size',
    '4',
    '--num_epoch',
    '1',
    '--warmup_epochs',
    '0',
    '--lrscheduler',
    'step',
    '--output_dir',
    out,
    '--loss_names',
    'sdm+id',
  ];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'irra-cli-verify-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('ICFG-PEDES as it ships (train and test, no val): train, eval and encode run on it', async () => {
    const root = join(dir, 'icfg-ok');
    writeIcfg(root, 3);
    const before = tf.memory().numTensors;
    const out = join(dir, 'run-ok');
    const io = captureIO();
    expect(await commandTrain(trainArgs(root, out), io)).toBe(0);
    expect(io.text()).toMatch(/ICFG-PEDES: train 4 ids \/ 8 images \/ 8 captions; test 3 \/ 3 \/ 3; val 0 \/ 0 \/ 0/);
    expect(io.text()).toMatch(/images: all 11 of train, test exist \([\d.]+ s\)\n/);
    expect(io.text()).toMatch(/done: 1 epochs run/);
    const evalIo = captureIO();
    const ckpt = join(out, 'best.safetensors');
    expect(await commandEval([...common(), ...icfg(root), '--checkpoint', ckpt], evalIo)).toBe(0);
    expect(evalIo.text()).toMatch(/images: all 3 of test exist/);
    expect(evalIo.text()).toMatch(/ICFG-PEDES test: 3 captions → 3 images/);
    const features = join(dir, 'icfg-test.npy');
    expect(
      await commandEncode(
        [...common(), ...icfg(root), '--checkpoint', ckpt, '--split', 'test', '--output', features],
        captureIO(),
      ),
    ).toBe(0);
    expect(existsSync(features)).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('--val_dataset val (encode: --split val) on a dataset without val names the split and the dataset', async () => {
    const root = join(dir, 'icfg-noval');
    writeIcfg(root, 3);
    const message = "ICFG-PEDES has no 'val' split: it holds 0 images and 0 captions (splits with data: train, test)";
    const out = join(dir, 'run-noval');
    await expect(commandTrain([...trainArgs(root, out), '--val_dataset', 'val'], captureIO())).rejects.toThrow(
      `train: --val_dataset val: ${message}`,
    );
    expect(existsSync(out)).toBe(false);
    await expect(
      commandEval(
        [...common(), ...icfg(root), '--checkpoint', 'unused.safetensors', '--val_dataset', 'val'],
        captureIO(),
      ),
    ).rejects.toThrow(`eval: --val_dataset val: ${message}`);
    await expect(
      commandEncode(
        [
          ...common(),
          ...icfg(root),
          '--checkpoint',
          'unused.safetensors',
          '--split',
          'val',
          '--modality',
          'text',
          '--output',
          join(dir, 'v.npy'),
        ],
        captureIO(),
      ),
    ).rejects.toThrow(`encode: --split val: ${message}`);
  });

  it('a generic file without training records: train refuses it, eval reads it', async () => {
    const folder = join(dir, 'eval-only');
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'p.png'), personPng(1));
    const annotations = join(folder, 'annotations.json');
    writeFileSync(
      annotations,
      JSON.stringify({ name: 'eval-only', train: [], test: [{ pid: 1, image: 'p.png', captions: ['a man'] }] }),
    );
    await expect(
      commandTrain(
        [...trainArgs(dir, join(dir, 'run-eval-only')), '--dataset_name', 'generic', '--root_dir', annotations],
        captureIO(),
      ),
    ).rejects.toThrow(
      "train: eval-only has no 'train' split: it holds 0 images and 0 captions (splits with data: test, val)",
    );
    // eval gets past the data checks and stops at the (missing) checkpoint.
    await expect(
      commandEval(
        [...common(), '--dataset_name', 'generic', '--root_dir', annotations, '--checkpoint', join(dir, 'none.pth')],
        captureIO(),
      ),
    ).rejects.toThrow(/eval: --checkpoint: cannot read/);
  });

  it('missing images stop train and eval before anything runs: the count and the first ten paths', async () => {
    const root = join(dir, 'icfg-missing');
    const paths = writeIcfg(root, 14);
    const gone = [paths.train[3], ...paths.test.slice(2)]; // 1 + 12 = 13 missing
    for (const p of gone) rmSync(p);
    const out = join(dir, 'run-missing');
    const io = captureIO();
    const err = (await commandTrain(trainArgs(root, out), io).catch((e: unknown) => e)) as DatasetImagesError;
    expect(err).toBeInstanceOf(DatasetImagesError);
    expect(err.message).toBe(
      [
        'train: 13 of 22 images of ICFG-PEDES (train, test) are missing:',
        ...gone.slice(0, 10).map((p) => `  ${p}`),
        '  ... and 3 more',
      ].join('\n'),
    );
    expect(err.report.missing.map((p) => p.path)).toEqual(gone);
    // Nothing was built or written: no model line, no steps, no output folder.
    expect(io.text()).not.toMatch(/model:|steps per epoch/);
    expect(existsSync(out)).toBe(false);
    // eval checks only the split it evaluates, before it reads the checkpoint.
    const evalErr = (await commandEval(
      [...common(), ...icfg(root), '--checkpoint', join(dir, 'none.pth')],
      captureIO(),
    ).catch((e: unknown) => e)) as Error;
    expect(evalErr.message.split('\n')[0]).toBe('eval: 12 of 14 images of ICFG-PEDES (test) are missing:');
    expect(evalErr.message.split('\n')[1]).toBe(`  ${paths.test[2]}`);
  });

  it('--verify_images decodes every image: corrupt ones stop the command, with their decoder error', async () => {
    const root = join(dir, 'icfg-corrupt');
    const paths = writeIcfg(root, 3);
    writeFileSync(paths.train[1], 'this is not a PNG');
    writeFileSync(paths.test[2], personPng(2).subarray(0, 60));
    const out = join(dir, 'run-corrupt');
    // Without --verify_images the files exist, so the check passes (and fails later, on the checkpoint).
    await expect(
      commandTrain([...trainArgs(root, out), '--pretrain_choice', join(dir, 'no-clip.pt')], captureIO()),
    ).rejects.toThrow(/train: --pretrain_choice/);
    const io = captureIO();
    const err = (await commandTrain([...trainArgs(root, out), '--verify_images'], io).catch(
      (e: unknown) => e,
    )) as DatasetImagesError;
    const lines = err.message.split('\n');
    expect(lines[0]).toBe('train: 2 of 11 images of ICFG-PEDES (train, test) cannot be decoded:');
    expect(lines[1]).toBe(
      `  ${paths.train[1]}: decodeImage: bytes must be a JPEG or PNG file, got a file starting with [74 68 69 73]`,
    );
    expect(lines[2]).toMatch(new RegExp(`^  ${paths.test[2]}: decodeImage: invalid PNG data`));
    expect(lines).toHaveLength(3);
    expect(io.text()).not.toMatch(/model:|steps per epoch/);
    const evalErr = (await commandEval(
      [...common(), ...icfg(root), '--checkpoint', join(dir, 'none.pth'), '--verify_images'],
      captureIO(),
    ).catch((e: unknown) => e)) as Error;
    expect(evalErr.message.split('\n')[0]).toBe('eval: 1 of 3 images of ICFG-PEDES (test) cannot be decoded:');
  });

  it('--verify_images shows progress: log lines off a terminal, a bar (done/total, images/s, ETA) on one', async () => {
    const root = join(dir, 'icfg-progress');
    writeIcfg(root, 3);
    const args = [...common(), ...icfg(root), '--checkpoint', join(dir, 'none.pth'), '--verify_images'];
    const lines = captureIO();
    await expect(commandEval(args, lines)).rejects.toThrow(/eval: --checkpoint: cannot read/);
    expect(lines.text()).toMatch(/^verify_images: 1\/3 images \(\d+ images\/s, ETA \d+ s\)\n/);
    expect(lines.text()).toMatch(/verify_images: 3\/3 images \(\d+ images\/s, ETA 0 s\)\n/);
    expect(lines.text()).toMatch(/images: all 3 of test exist and decode \([\d.]+ s\)\n/);
    const tty = captureIO(true);
    await expect(commandEval(args, tty)).rejects.toThrow(/eval: --checkpoint: cannot read/);
    expect(tty.text()).toMatch(/verify_images \[[^\]]+\] 3\/3 images \| \d+ images\/s \| ETA \S+/);
    expect(tty.text()).not.toMatch(/verify_images: \d/);
    // --json keeps stdout one JSON object: no check lines.
    const json = captureIO();
    await expect(commandEval([...args, '--json'], json)).rejects.toThrow(/cannot read/);
    expect(json.text()).toBe('');
    expect(trainHelp()).toMatch(/--verify_images\s+decode every image of train and --val_dataset/);
    expect(evalHelp()).toMatch(/--verify_images\s+decode every image of the split/);
  });
});
