import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandEncode, ENCODE_DEFAULTS, encodeHelp, parseEncodeOptions } from '../src/cli/encode_command';
import { commandEval, EVAL_DEFAULTS, evalHelp, parseEvalOptions } from '../src/cli/eval_command';
import { encodeNpy } from '../src/cli/npy';
import { integerFlag } from '../src/cli/options';
import { commandTrain, parseTrainOptions, TRAIN_DEFAULTS, trainConfig, trainHelp } from '../src/cli/train_command';
import { irraConfig } from '../src/config';
import { IRRA } from '../src/model/irra';
import { parseTrainerCheckpoint } from '../src/train/checkpoint_io';
import { disposeCheckpoint } from '../src/train/trainer';
import { parseSafetensors, serializeSafetensors } from '../src/weights/safetensors';
import { captureIO } from './helpers/command_io';
import { vocabPath } from './helpers/fixtures';

const COLORS: [number, number, number][] = [
  [220, 30, 30],
  [30, 200, 40],
  [40, 60, 230],
  [230, 220, 30],
  [200, 40, 220],
  [30, 210, 220],
];
const WORDS = ['red', 'green', 'blue', 'yellow', 'purple', 'cyan'];

/** A 40×20 PNG: a coat of the identity's colour over grey trousers, shifted by `variant`. */
function personPng(pid: number, variant: number): Buffer {
  const png = new PNG({ width: 20, height: 40 });
  const [r, g, b] = COLORS[pid % COLORS.length];
  for (let y = 0; y < 40; y++) {
    for (let x = 0; x < 20; x++) {
      const i = (y * 20 + x) * 4;
      const coat = y >= 4 + variant && y < 22 + variant && x >= 3 && x < 17;
      const legs = y >= 22 + variant && x >= 5 && x < 15;
      png.data[i] = coat ? r : legs ? 90 : 240;
      png.data[i + 1] = coat ? g : legs ? 90 : 240;
      png.data[i + 2] = coat ? b : legs ? 90 : 240;
      png.data[i + 3] = 255;
    }
  }
  return PNG.sync.write(png);
}

/** Writes a generic-format dataset: 4 training identities × 2 images, 3 test identities; returns the JSON path. */
function writeDataset(dir: string): string {
  mkdirSync(join(dir, 'images'), { recursive: true });
  const entry = (split: string, pid: number, k: number) => {
    const image = `${split}_${pid}_${k}.png`;
    writeFileSync(join(dir, 'images', image), personPng(pid, k));
    return { pid, image, captions: [`a person in a ${WORDS[pid % WORDS.length]} coat and grey trousers`] };
  };
  const train = [10, 11, 12, 13].flatMap((pid) => [entry('train', pid, 0), entry('train', pid, 1)]);
  const test = [0, 1, 2].map((pid) => entry('test', pid + 3, 2));
  const path = join(dir, 'annotations.json');
  writeFileSync(path, JSON.stringify({ name: 'tiny-generic', imageRoot: 'images', train, test }));
  return path;
}

const TINY_MODEL = [
  '--preset',
  'tiny',
  '--img_size',
  '32,16',
  '--stride_size',
  '8',
  '--patch_size',
  '8',
  '--text_length',
  '16',
  '--embed_dim',
  '32',
  '--vision_width',
  '32',
  '--vision_layers',
  '1',
  '--transformer_width',
  '32',
  '--transformer_layers',
  '1',
  '--cmt_depth',
  '1',
];

describe('irra-tfjs option parsing and help', () => {
  it('train: reference option names and defaults, overrides parsed and typed', () => {
    const o = parseTrainOptions([
      '--dataset_name',
      'RSTPReid',
      '--batch_size',
      '64',
      '--lr',
      '3e-6',
      '--loss_names',
      'sdm+mlm',
      '--img_aug',
      '--MLM',
      '--img_size',
      '256x128',
      '--milestones',
      '10,40',
      '--resume',
      '--resume_ckpt_file=last.safetensors',
      '--optimizer_state',
      'host',
      '--gradient_checkpointing',
    ]);
    expect(o).not.toBeNull();
    expect(o).toMatchObject({
      dataset_name: 'RSTPReid',
      batch_size: 64,
      lr: 3e-6,
      loss_names: ['sdm', 'mlm'],
      img_aug: true,
      MLM: true,
      img_size: [256, 128],
      milestones: [10, 40],
      resume: true,
      resume_ckpt_file: 'last.safetensors',
      optimizer_state: 'host',
      gradient_checkpointing: true,
      test_batch_size: 512,
      num_epoch: 60,
      optimizer: 'Adam',
      lrscheduler: 'cosine',
      warmup_epochs: 5,
      weight_decay: 4e-5,
    });
    const d = parseTrainOptions([]);
    expect(d).toEqual({ ...TRAIN_DEFAULTS });
    expect(d?.loss_names).toEqual(['sdm', 'id', 'mlm']);
  });

  it('train: the config follows the preset unless an option overrides it', () => {
    const base = trainConfig(parseTrainOptions([]) as NonNullable<ReturnType<typeof parseTrainOptions>>, 11003);
    expect(base).toMatchObject({ imageSize: [384, 128], strideSize: 16, contextLength: 77, embedDim: 512 });
    const tiny = trainConfig(parseTrainOptions(TINY_MODEL) as NonNullable<ReturnType<typeof parseTrainOptions>>, 4);
    expect(tiny).toMatchObject({ imageSize: [32, 16], embedDim: 32, visionLayers: 1, vocabSize: 49408, numClasses: 4 });
  });

  it('--help lists every option with the defaults the code uses', () => {
    const train = trainHelp();
    expect(train).toMatch(/^usage: irra-tfjs train \[options\]/);
    for (const name of Object.keys(TRAIN_DEFAULTS)) expect(train).toContain(`--${name}`);
    expect(train).toMatch(/--batch_size N +training pairs per batch \(default 128\)/);
    expect(train).toMatch(/--loss_names a\+b\+\.\.\. .*\(default sdm\+id\+mlm\)/);
    expect(train).toMatch(/--lr X .*\(default 0\.00001\)|--lr X .*\(default 1e-5\)/);
    expect(train).toContain('--backend cpu|wasm|webgl|webgpu|tensorflow');
    expect(train).toContain('--vocab PATH');
    const evalText = evalHelp();
    expect(evalText).toMatch(/^usage: irra-tfjs eval/);
    expect(evalText).toMatch(/--test_batch_size N .*\(default 512\)/);
    expect(evalText).toContain('--checkpoint PATH');
    const enc = encodeHelp();
    expect(enc).toMatch(/--batch_size N .*\(default 64\)/);
    expect(enc).toContain('--output PATH');
    expect(ENCODE_DEFAULTS.batch_size).toBe(64);
    expect(EVAL_DEFAULTS.test_batch_size).toBe(512);
  });

  it('--help makes each command print its help and return 0', async () => {
    for (const [run, head] of [
      [commandTrain, 'usage: irra-tfjs train'],
      [commandEval, 'usage: irra-tfjs eval'],
      [commandEncode, 'usage: irra-tfjs encode'],
    ] as const) {
      const io = captureIO();
      expect(await run(['--help'], io)).toBe(0);
      expect(io.text().startsWith(head)).toBe(true);
      const io2 = captureIO();
      expect(await run(['-h'], io2)).toBe(0);
      expect(io2.text()).toBe(io.text());
    }
  });

  it('bad options are clear errors', () => {
    expect(() => parseTrainOptions(['--bogus', '1'])).toThrow(
      "train: unknown option '--bogus' (see 'irra-tfjs train --help')",
    );
    expect(() => parseTrainOptions(['--batch_size', 'many'])).toThrow(
      "train: --batch_size: expected an integer, got 'many'",
    );
    expect(() => parseTrainOptions(['--batch_size', '0'])).toThrow(
      "train: --batch_size: expected a value >= 1, got '0'",
    );
    expect(() => parseTrainOptions(['--lr', 'fast'])).toThrow("train: --lr: expected a number, got 'fast'");
    expect(() => parseTrainOptions(['--lr', '0'])).toThrow("train: --lr: expected a value > 0, got '0'");
    expect(() => parseTrainOptions(['--dataset_name', 'Market1501'])).toThrow(
      "train: --dataset_name: expected one of CUHK-PEDES, ICFG-PEDES, RSTPReid, generic, got 'Market1501'",
    );
    expect(() => parseTrainOptions(['--loss_names', 'sdm+triplet'])).toThrow(/--loss_names: unknown loss 'triplet'/);
    expect(() => parseTrainOptions(['--img_size', '384'])).toThrow(/--img_size: expected two positive integers/);
    expect(() => parseTrainOptions(['--backend', 'cuda'])).toThrow(/--backend: expected one of cpu, wasm/);
    expect(() => parseTrainOptions(['--optimizer_state', 'gpu'])).toThrow(
      /--optimizer_state: expected one of backend, host, got 'gpu'/,
    );
    expect(() => parseTrainOptions(['--resume'])).toThrow(/--resume needs --resume_ckpt_file/);
    expect(() => parseTrainOptions(['--num_epoch', '3'])).toThrow(
      'train: --num_epoch (3) must exceed --warmup_epochs (5) with --lrscheduler cosine',
    );
    expect(() => parseTrainOptions(['--batch_size'])).toThrow(/train: .*--batch_size/);
    expect(() => parseTrainOptions(['stray'])).toThrow("train: unexpected argument 'stray'");
    expect(() => parseEvalOptions([])).toThrow('eval: --checkpoint PATH is required');
    expect(() => parseEncodeOptions(['--checkpoint', 'a'])).toThrow(/encode: --output PATH .* is required/);
    expect(() => parseEncodeOptions(['--checkpoint', 'a', '--output', 'f.txt', '--captions', 'c'])).toThrow(
      "encode: --output must end in .safetensors or .npy, got 'f.txt'",
    );
    expect(() => parseEncodeOptions(['--checkpoint', 'a', '--output', 'f.npy'])).toThrow(
      'encode: give exactly one of --images, --captions, --split, got none',
    );
    expect(() =>
      parseEncodeOptions(['--checkpoint', 'a', '--output', 'f.npy', '--captions', 'c', '--images', 'd']),
    ).toThrow(/got --images and --captions/);
  });

  it('integerFlag (demo:export): default when absent, integers ≥ min, errors naming the flag', () => {
    expect(integerFlag('seed', undefined, 7)).toBe(7);
    expect(integerFlag('seed', '-3', 7)).toBe(-3);
    expect(integerFlag('epochs', '1', 8, 1)).toBe(1);
    expect(() => integerFlag('seed', '1.5', 7)).toThrow("--seed: expected an integer, got '1.5'");
    expect(() => integerFlag('seed', '-1', 0, 0)).toThrow("--seed: expected a value >= 0, got '-1'");
    expect(() => integerFlag('epochs', '', 8, 1)).toThrow("--epochs: expected an integer, got ''");
  });
});

describe('encodeNpy', () => {
  it('writes a version 1.0 header numpy reads, 64-byte aligned, then little-endian values', () => {
    const bytes = encodeNpy(new Float32Array([1, -2.5, 3, 4, 5, 6]), [2, 3]);
    expect(Array.from(bytes.subarray(0, 8))).toEqual([0x93, 78, 85, 77, 80, 89, 1, 0]);
    const headerLen = bytes[8] | (bytes[9] << 8);
    expect((10 + headerLen) % 64).toBe(0);
    const header = new TextDecoder().decode(bytes.subarray(10, 10 + headerLen));
    expect(header).toMatch(/^\{'descr': '<f4', 'fortran_order': False, 'shape': \(2, 3\), \} *\n$/);
    const values = new Float32Array(bytes.slice(10 + headerLen).buffer);
    expect(Array.from(values)).toEqual([1, -2.5, 3, 4, 5, 6]);
    const ints = encodeNpy(Int32Array.from([7, -1]), [2]);
    const h2 = ints[8] | (ints[9] << 8);
    expect(new TextDecoder().decode(ints.subarray(10, 10 + h2))).toContain(
      "'descr': '<i4', 'fortran_order': False, 'shape': (2,)",
    );
    expect(Array.from(new Int32Array(ints.slice(10 + h2).buffer))).toEqual([7, -1]);
  });

  it('refuses a shape that does not match the data', () => {
    expect(() => encodeNpy(new Float32Array(5), [2, 3])).toThrow(
      'encodeNpy: shape [2,3] holds 6 values but data has 5',
    );
    expect(() => encodeNpy(new Float32Array(0), [-1])).toThrow(/non-negative integers/);
  });
});

describe.runIf(process.env.IRRA_TEST_BACKEND === 'cpu')('irra-tfjs train / eval / encode end to end (cpu)', () => {
  let dir = '';
  let annotations = '';
  const common = () => ['--backend', 'cpu', '--vocab', vocabPath()];
  /** The test's dataset: the generic annotation file written in beforeAll. */
  const genericData = () => ['--dataset_name', 'generic', '--root_dir', annotations];
  const trainArgs = (out: string, epochs: number) => [
    ...common(),
    ...genericData(),
    ...TINY_MODEL,
    '--batch_size',
    '4',
    '--test_batch_size',
    '2',
    '--num_epoch',
    String(epochs),
    '--warmup_epochs',
    '1',
    '--lr',
    '1e-3',
    '--output_dir',
    out,
    '--log_period',
    '1',
    '--seed',
    '3',
    '--loss_names',
    'sdm+id',
    // One thread: worker threads (the default, one per core) cost more than they save on a model this small.
    '--workers',
    '1',
  ];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'irra-cli-'));
    annotations = writeDataset(dir);
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('train writes best and last checkpoints; resume continues as an uninterrupted run; eval and encode read them', async () => {
    const before = tf.memory().numTensors;
    const run2 = join(dir, 'run2');
    const io = captureIO();
    expect(await commandTrain(trainArgs(run2, 2), io)).toBe(0);
    const log = io.text();
    expect(io.warnings.join('\n')).toMatch(/no --pretrain_choice: training from random initialization/);
    expect(log).toMatch(/tiny-generic: train 4 ids \/ 8 images \/ 8 captions; test 3 \/ 3 \/ 3/);
    expect(log).toMatch(/2 steps per epoch, epochs 1\.\.2/);
    expect(log).toMatch(/epoch 1\/2 step 2\/2 \([\d.]+ it\/s, ETA \d+s\) loss \d+\.\d{4}/);
    expect(log).toMatch(/epoch 2 done in .* t2i R1/);
    expect(log).toMatch(/\|\s+task \|\s+R1 \|/);
    expect(log).toMatch(/done: 2 epochs run, last epoch 2; best t2i R1 [\d.]+ at epoch [12]/);
    expect(tf.memory().numTensors).toBe(before);
    for (const f of ['best.safetensors', 'last.safetensors', 'train_options.json']) {
      expect(existsSync(join(run2, f)), f).toBe(true);
    }
    const last = parseTrainerCheckpoint(readFileSync(join(run2, 'last.safetensors')));
    expect(last.epoch).toBe(2);
    expect(last.config?.embedDim).toBe(32);
    expect(last.weights.get('base_model.visual.conv1.weight')?.shape).toEqual([32, 3, 8, 8]);
    expect(last.optimizer.step).toBe(4);
    disposeCheckpoint(last);

    // Resume to epoch 3 and compare with a run of 3 epochs from scratch: the same weights, also
    // when the resumed run keeps Adam's state in JS memory and recomputes blocks (same numbers).
    const io3 = captureIO();
    expect(
      await commandTrain(
        [
          ...trainArgs(run2, 3),
          '--resume',
          '--resume_ckpt_file',
          join(run2, 'last.safetensors'),
          '--optimizer_state',
          'host',
          '--gradient_checkpointing',
        ],
        io3,
      ),
    ).toBe(0);
    expect(io3.text()).toMatch(/resuming from .*last\.safetensors after epoch 2/);
    expect(io3.text()).toMatch(/epochs 3\.\.3/);
    expect(io3.text()).not.toMatch(/epoch 2 done/);
    const run3 = join(dir, 'run3');
    expect(await commandTrain(trainArgs(run3, 3), captureIO())).toBe(0);
    const resumed = parseSafetensors(readFileSync(join(run2, 'last.safetensors')));
    const straight = parseSafetensors(readFileSync(join(run3, 'last.safetensors')));
    expect(resumed.metadata.epoch).toBe('3');
    expect([...resumed.tensors.keys()]).toEqual([...straight.tensors.keys()]);
    for (const [name, t] of straight.tensors) {
      expect(Array.from(resumed.tensors.get(name)?.data ?? []), name).toEqual(Array.from(t.data));
    }
    expect(tf.memory().numTensors).toBe(before);

    // The IRR (MLM) path: masked captions, the fusion module and mlm_head end up in the checkpoint.
    const runMlm = join(dir, 'mlm');
    const ioMlm = captureIO();
    expect(
      await commandTrain(
        [...trainArgs(runMlm, 1), '--loss_names', 'sdm+id+mlm', '--MLM', '--batch_size', '8', '--warmup_epochs', '0'],
        ioMlm,
      ),
    ).toBe(0);
    expect(ioMlm.text()).toMatch(/epoch 1 done .*mlm_loss \d/);
    const mlm = parseSafetensors(readFileSync(join(runMlm, 'last.safetensors')));
    expect(mlm.tensors.get('mlm_head.fc.weight')?.shape).toEqual([49408, 32]);
    expect(mlm.tensors.has('__optimizer__/cross_attn.in_proj_weight/expAvg')).toBe(true);
    expect(tf.memory().numTensors).toBe(before);

    // eval on the best checkpoint prints the table.
    const ioEval = captureIO();
    expect(
      await commandEval(
        [...common(), '--checkpoint', join(run2, 'best.safetensors'), ...genericData(), '--i2t'],
        ioEval,
      ),
    ).toBe(0);
    expect(ioEval.text()).toMatch(/tiny-generic test: 3 captions → 3 images; .*trainer checkpoint, epoch \d/);
    expect(ioEval.text()).toMatch(/\|\s+t2i \|\s+[\d.]+ \|/);
    expect(ioEval.text()).toMatch(/\|\s+i2t \|/);
    const ioJson = captureIO();
    await commandEval(
      [...common(), '--checkpoint', join(run2, 'best.safetensors'), ...genericData(), '--json'],
      ioJson,
    );
    const parsed = JSON.parse(ioJson.text());
    expect(parsed.numQueries).toBe(3);
    expect(parsed.t2i.R1).toBeGreaterThanOrEqual(0);
    // The same weights as a plain state_dict (as the reference or PyTorch would save them): same numbers.
    const best = parseTrainerCheckpoint(readFileSync(join(run2, 'best.safetensors')));
    const plainPath = join(dir, 'weights.safetensors');
    writeFileSync(plainPath, serializeSafetensors(best.weights));
    disposeCheckpoint(best);
    const ioPlain = captureIO();
    await commandEval(
      [...common(), '--checkpoint', plainPath, '--img_size', '32,16', '--stride_size', '8', ...genericData(), '--json'],
      ioPlain,
    );
    expect(JSON.parse(ioPlain.text()).t2i).toEqual(parsed.t2i);
    expect(tf.memory().numTensors).toBe(before);

    // encode: a folder of images → safetensors; captions → npy; a split → features + pids.
    const imgOut = join(dir, 'images.safetensors');
    expect(
      await commandEncode(
        [
          ...common(),
          '--checkpoint',
          join(run2, 'best.safetensors'),
          '--images',
          join(dir, 'images'),
          '--output',
          imgOut,
        ],
        captureIO(),
      ),
    ).toBe(0);
    const img = parseSafetensors(readFileSync(imgOut));
    expect(img.tensors.get('features')?.shape).toEqual([11, 32]);
    expect(img.tensors.has('pids')).toBe(false);
    expect(JSON.parse(img.metadata.sources)).toHaveLength(11);
    const captions = join(dir, 'captions.txt');
    writeFileSync(captions, 'a person in a red coat\n\na person in a blue coat\n');
    const capOut = join(dir, 'captions.npy');
    expect(
      await commandEncode(
        [
          ...common(),
          '--checkpoint',
          join(run2, 'best.safetensors'),
          '--captions',
          captions,
          '--output',
          capOut,
          '--normalize',
        ],
        captureIO(),
      ),
    ).toBe(0);
    const npy = readFileSync(capOut);
    const headerLen = npy[8] | (npy[9] << 8);
    expect(npy.subarray(10, 10 + headerLen).toString()).toContain("'shape': (2, 32)");
    const rows = new Float32Array(npy.buffer.slice(npy.byteOffset + 10 + headerLen, npy.byteOffset + npy.byteLength));
    const norm = Math.hypot(...rows.subarray(0, 32));
    expect(norm).toBeCloseTo(1, 5);
    const splitOut = join(dir, 'test_text.safetensors');
    expect(
      await commandEncode(
        [
          ...common(),
          '--checkpoint',
          join(run2, 'best.safetensors'),
          '--split',
          'test',
          '--modality',
          'text',
          ...genericData(),
          '--output',
          splitOut,
        ],
        captureIO(),
      ),
    ).toBe(0);
    const split = parseSafetensors(readFileSync(splitOut));
    expect(split.tensors.get('features')?.shape).toEqual([3, 32]);
    expect(Array.from(split.tensors.get('pids')?.data ?? [])).toEqual([3, 4, 5]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('--pretrain_choice loads CLIP towers into the new model, resizing the position embeddings', async () => {
    const clipModel = IRRA.create(
      irraConfig({
        preset: 'tiny',
        imageSize: [32, 32],
        visionPatchSize: 8,
        strideSize: 8,
        contextLength: 20,
        vocabSize: 49408,
        embedDim: 32,
        visionWidth: 32,
        visionLayers: 1,
        transformerWidth: 32,
        transformerLayers: 1,
        lossNames: ['sdm'],
      }),
      { seed: 5 },
    );
    const all = clipModel.stateDict();
    const towers = new Map([...all].filter(([n]) => n.startsWith('base_model.')));
    const clipPath = join(dir, 'clip.safetensors');
    writeFileSync(clipPath, serializeSafetensors(towers));
    tf.dispose([...all.values()]);
    clipModel.dispose();
    const before = tf.memory().numTensors;
    const io = captureIO();
    expect(await commandTrain([...trainArgs(join(dir, 'pre'), 2), '--pretrain_choice', clipPath], io)).toBe(0);
    expect(io.warnings).toEqual([]);
    expect(io.text()).toMatch(
      new RegExp(`loaded ${towers.size} tensors from .*clip\\.safetensors; 2 parameters keep their initialization`),
    );
    expect(tf.memory().numTensors).toBe(before);
    await expect(
      commandTrain([...trainArgs(join(dir, 'pre2'), 2), '--pretrain_choice', join(dir, 'no-clip.pt')], captureIO()),
    ).rejects.toThrow(/train: --pretrain_choice '.*no-clip\.pt'/);
  });

  it('names what is wrong: missing dataset, vocabulary, checkpoint or image folder; too small a vocabulary', async () => {
    await expect(
      commandTrain([...common(), '--dataset_name', 'generic', '--root_dir', join(dir, 'nope.json')], captureIO()),
    ).rejects.toThrow(/annotation file '.*nope\.json' does not exist/);
    await expect(commandTrain(['--backend', 'cpu', '--vocab', join(dir, 'none.gz')], captureIO())).rejects.toThrow(
      /train: --vocab '.*none\.gz'/,
    );
    await expect(
      commandEval([...common(), '--checkpoint', join(dir, 'missing.safetensors'), ...genericData()], captureIO()),
    ).rejects.toThrow(/eval: --checkpoint: cannot read '.*missing\.safetensors'/);
    await expect(commandTrain([...trainArgs(join(dir, 'bad'), 2), '--vocab_size', '512'], captureIO())).rejects.toThrow(
      "train: --vocab_size must be at least the tokenizer's 49408, got 512",
    );
    await expect(
      commandEncode(
        [...common(), '--checkpoint', 'x', '--images', join(dir, 'no-such-dir'), '--output', join(dir, 'o.npy')],
        captureIO(),
      ),
    ).rejects.toThrow(/encode: --images: '.*no-such-dir' does not exist/);
  });
});
