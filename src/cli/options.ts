/**
 * Command-line options shared by `irra-tfjs train`, `eval` and `encode`: a declarative option
 * table per command (kind, help, choices), parsed with `node:util` parseArgs into typed values
 * with clear errors, help text generated from the table and the command's DEFAULTS object, and
 * the helpers every command needs (backend, vocabulary, loading a model from a checkpoint).
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type * as tf from '@tensorflow/tfjs-core';
import { BACKENDS_DEFAULTS, selectBackend } from '../backends';
import { type IRRAConfig, LOSS_NAMES, type LossName, type PresetName, patchGrid, presets } from '../config';
import type { DatasetName, PersonDataset } from '../data/annotations';
import { evaluationBatches } from '../data/batch';
import { buildTransforms } from '../data/transforms';
import { Evaluator, type EvaluatorOptions } from '../eval/evaluator';
import { IRRA } from '../model/irra';
import { ClipTokenizer } from '../tokenizer/clip_tokenizer';
import { isTrainerCheckpoint, parseTrainerCheckpoint } from '../train/checkpoint_io';
import { disposeCheckpoint } from '../train/trainer';
import { loadCheckpoint } from '../weights/checkpoint';
import { adaptStateDict } from '../weights/pos_embed';
import { parseSafetensors } from '../weights/safetensors';

/** How an option's text is turned into a value. */
export type OptionKind =
  /** an integer (`min` applies) */
  | 'int'
  /** a finite number (`min` applies; `exclusiveMin` makes it strict) */
  | 'number'
  /** text (`choices` restricts it) */
  | 'string'
  /** text, may be given several times: a list */
  | 'strings'
  /** a switch without a value */
  | 'flag'
  /** `H,W` (or `HxW`): two positive integers */
  | 'size'
  /** comma-separated integers */
  | 'ints'
  /** loss names joined by `+` */
  | 'losses';

/** One option of a command. */
export interface OptionSpec {
  kind: OptionKind;
  /** One line of help. */
  help: string;
  /** Placeholder shown in the help (default from the kind). */
  arg?: string;
  /** Allowed values of a 'string' option. */
  choices?: readonly string[];
  /** Smallest allowed value of 'int' / 'number' / 'ints' options. */
  min?: number;
  /** With `min`: the value must be greater than `min`. */
  exclusiveMin?: boolean;
  /** Help text for the default when the DEFAULTS object holds none (e.g. "the preset's"). */
  defaultText?: string;
}

/** A titled group of options, as the help lists them. */
export interface OptionGroup {
  title: string;
  options: Record<string, OptionSpec>;
}

/** A parsed option value. */
export type OptionValue = string | number | boolean | number[] | string[] | LossName[] | [number, number];

/** Where a command writes: progress and results (`write`, stdout by default) and warnings (`warn`, stderr). */
export interface CommandIO {
  /** Writes text as it is (lines end with '\n'). */
  write(text: string): void;
  /** True when `write` goes to a terminal (the trainer then draws a progress bar). */
  isTTY?: boolean;
  /** Writes one warning line. */
  warn(line: string): void;
}

/** The process's stdout and stderr as a {@link CommandIO}. */
export function processIO(): CommandIO {
  return {
    write: (text) => {
      process.stdout.write(text);
    },
    isTTY: process.stdout.isTTY === true,
    warn: (line) => {
      process.stderr.write(`warning: ${line}\n`);
    },
  };
}

/** Options every command has. */
export const COMMON_OPTIONS: OptionGroup = {
  title: 'runtime',
  options: {
    backend: {
      kind: 'string',
      choices: ['cpu', 'wasm', 'webgl', 'webgpu', 'tensorflow'],
      help: 'tfjs backend (tensorflow = @tensorflow/tfjs-node, when installed)',
      defaultText: `the first that loads of ${BACKENDS_DEFAULTS.preferred.join(', ')}`,
    },
    vocab: {
      kind: 'string',
      arg: 'PATH',
      help: "CLIP BPE merges file bpe_simple_vocab_16e6.txt.gz (from openai/CLIP's repository)",
      defaultText: '$IRRA_CLIP_VOCAB',
    },
    help: { kind: 'flag', help: 'show this help and exit' },
  },
};

/** The dataset names the commands accept (`--dataset_name`); 'generic' reads the library's JSON format from `--root_dir`. */
export const DATASET_NAMES: readonly DatasetName[] = ['CUHK-PEDES', 'ICFG-PEDES', 'RSTPReid', 'generic'];

function placeholder(spec: OptionSpec): string {
  if (spec.arg) return spec.arg;
  switch (spec.kind) {
    case 'int':
      return 'N';
    case 'number':
      return 'X';
    case 'size':
      return 'H,W';
    case 'ints':
      return 'N,N,...';
    case 'losses':
      return 'a+b+...';
    case 'flag':
      return '';
    default:
      return spec.choices ? spec.choices.join('|') : 'TEXT';
  }
}

function showDefault(v: unknown): string {
  if (Array.isArray(v)) return v.join(v.every((x) => typeof x === 'string') ? '+' : ',');
  return String(v);
}

const HELP_WIDTH = 100;
const HELP_INDENT = 30;

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  lines.push(line);
  return lines;
}

/**
 * The help text of a command: usage, description, then each group's options with their
 * defaults read from `defaults` (the object the command's code uses).
 */
export function formatHelp(
  command: string,
  description: string,
  groups: readonly OptionGroup[],
  defaults: Readonly<Record<string, unknown>>,
): string {
  const lines = [`usage: irra-tfjs ${command} [options]`, '', description.trim()];
  for (const g of groups) {
    lines.push('', `${g.title}:`);
    for (const [name, spec] of Object.entries(g.options)) {
      const arg = placeholder(spec);
      const left = `  --${name}${arg ? ` ${arg}` : ''}`;
      const d = defaults[name];
      let dflt = '';
      if (spec.kind !== 'flag' || d === true) {
        if (d !== undefined && d !== '') dflt = ` (default ${showDefault(d)})`;
        else if (spec.defaultText) dflt = ` (default ${spec.defaultText})`;
      }
      const text = wrap(`${spec.help}${dflt}`, HELP_WIDTH - HELP_INDENT);
      const pad = ' '.repeat(HELP_INDENT);
      const body = text.join(`\n${pad}`);
      lines.push(left.length < HELP_INDENT ? `${left.padEnd(HELP_INDENT)}${body}` : `${left}\n${pad}${body}`);
    }
  }
  return lines.join('\n');
}

function convert(command: string, name: string, spec: OptionSpec, raw: string | boolean | string[]): OptionValue {
  const where = command ? `${command}: --${name}` : `--${name}`;
  if (spec.kind === 'flag') return raw === true;
  if (spec.kind === 'strings') return raw as string[];
  const text = raw as string;
  const checkMin = (v: number) => {
    if (spec.min === undefined) return;
    if (spec.exclusiveMin ? v <= spec.min : v < spec.min) {
      throw new Error(`${where}: expected a value ${spec.exclusiveMin ? '>' : '>='} ${spec.min}, got '${text}'`);
    }
  };
  const int = (s: string): number => {
    const v = Number(s);
    if (s.trim() === '' || !Number.isInteger(v)) throw new Error(`${where}: expected an integer, got '${text}'`);
    checkMin(v);
    return v;
  };
  switch (spec.kind) {
    case 'int':
      return int(text);
    case 'number': {
      const v = Number(text);
      if (text.trim() === '' || !Number.isFinite(v)) throw new Error(`${where}: expected a number, got '${text}'`);
      checkMin(v);
      return v;
    }
    case 'ints':
      return text.split(',').map(int);
    case 'size': {
      const parts = text.split(/[,x×]/);
      const v = parts.map(Number);
      if (parts.length !== 2 || !v.every((x) => Number.isInteger(x) && x > 0)) {
        throw new Error(`${where}: expected two positive integers HEIGHT,WIDTH (e.g. 384,128), got '${text}'`);
      }
      return [v[0], v[1]];
    }
    case 'losses': {
      const names = text.split('+').map((s) => s.trim());
      for (const n of names) {
        if (!(LOSS_NAMES as readonly string[]).includes(n)) {
          throw new Error(
            `${where}: unknown loss '${n}' in '${text}' (known: ${LOSS_NAMES.join(', ')}; join with '+')`,
          );
        }
      }
      if (new Set(names).size !== names.length) throw new Error(`${where}: a loss is repeated in '${text}'`);
      return names as LossName[];
    }
    default:
      if (spec.choices && !spec.choices.includes(text)) {
        throw new Error(`${where}: expected one of ${spec.choices.join(', ')}, got '${text}'`);
      }
      return text;
  }
}

/**
 * Converts the text of one option as {@link parseOptions} does (the bench scripts and
 * `npm run demo:export` read single values with it).
 *
 * @throws Error `<command>: --<name>: expected …, got '<text>'` (no prefix when `command` is '').
 */
export function optionValue(command: string, name: string, spec: OptionSpec, text: string): OptionValue {
  return convert(command, name, spec, text);
}

/**
 * Parses `argv` against the command's option groups. Every option is `--name VALUE` (or
 * `--name=VALUE`); flags take no value. Values not given are absent from the result (the command
 * merges its DEFAULTS). Positional arguments are refused unless `accept.positionals` (then they
 * are returned in order; `--` ends the options).
 *
 * @returns `{ help: true }` when `--help`/`-h` was given, else the converted values and the
 *   positional arguments.
 * @throws Error naming the command and the option for an unknown option, a missing value, a
 *   value that is not a number / integer / size, a value out of range or not among the choices,
 *   and for positional arguments (unless accepted).
 */
export function parseOptions(
  command: string,
  groups: readonly OptionGroup[],
  argv: readonly string[],
  accept: { positionals?: boolean } = {},
): { help: boolean; values: Record<string, OptionValue>; positionals: string[] } {
  const specs: Record<string, OptionSpec> = {};
  for (const g of groups) Object.assign(specs, g.options);
  const config: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = {};
  for (const [name, spec] of Object.entries(specs)) {
    config[name] = {
      type: spec.kind === 'flag' ? 'boolean' : 'string',
      ...(spec.kind === 'strings' ? { multiple: true } : {}),
      ...(name === 'help' ? { short: 'h' } : {}),
    };
  }
  let parsed: { values: Record<string, string | boolean | (string | boolean)[] | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...argv], options: config, strict: true, allowPositionals: true });
  } catch (e) {
    const err = e as Error & { code?: string };
    const m = /'([^']+)'/.exec(err.message);
    const opt = m ? m[1] : '';
    if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      throw new Error(`${command}: unknown option '${opt}' (see 'irra-tfjs ${command} --help')`);
    }
    if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      throw new Error(`${command}: ${err.message.split('\n')[0]}`);
    }
    throw new Error(`${command}: ${err.message}`);
  }
  if (parsed.values.help === true) return { help: true, values: {}, positionals: [] };
  if (parsed.positionals.length > 0 && !accept.positionals) {
    throw new Error(
      `${command}: unexpected argument '${parsed.positionals[0]}' (every option is --name VALUE; see --help)`,
    );
  }
  const values: Record<string, OptionValue> = {};
  for (const [name, raw] of Object.entries(parsed.values)) {
    if (raw === undefined || name === 'help') continue;
    values[name] = convert(command, name, specs[name], raw as string | boolean | string[]);
  }
  return { help: false, values, positionals: parsed.positionals };
}

/** Activates `--backend` (or the first that loads of the defaults) and returns its name. */
export async function activateBackend(backend: string | undefined): Promise<string> {
  return selectBackend(backend ? [backend] : BACKENDS_DEFAULTS.preferred);
}

/**
 * Loads the CLIP tokenizer from `--vocab`, else from `$IRRA_CLIP_VOCAB`.
 * @throws Error saying where to get the file when neither is given, or naming the unreadable path.
 */
export async function loadTokenizer(command: string, vocab: string | undefined): Promise<ClipTokenizer> {
  const path = vocab || process.env.IRRA_CLIP_VOCAB;
  if (!path) {
    throw new Error(
      `${command}: --vocab: the CLIP BPE vocabulary is needed; pass --vocab PATH to bpe_simple_vocab_16e6.txt.gz ` +
        '(from the openai/CLIP repository) or set IRRA_CLIP_VOCAB',
    );
  }
  try {
    return await ClipTokenizer.fromFile(path);
  } catch (e) {
    throw new Error(`${command}: --vocab '${path}': ${(e as Error).message}`);
  }
}

/**
 * The evaluator of `--val_dataset` (shared by `eval` and `train`): text→image retrieval over the
 * `split` of `dataset`, its captions and gallery images in batches of `batchSize`, images resized
 * to `config.imageSize` without augmentation, captions tokenized to `config.contextLength`.
 * `options` go to the {@link Evaluator} (e.g. `{ i2t: true }`).
 */
export function splitEvaluator(
  dataset: PersonDataset,
  split: 'test' | 'val',
  config: Pick<IRRAConfig, 'imageSize' | 'contextLength'>,
  tokenizer: ClipTokenizer,
  batchSize: number,
  options?: EvaluatorOptions,
): Evaluator {
  return new Evaluator(
    evaluationBatches(split === 'val' ? dataset.val : dataset.test, {
      batchSize,
      transform: buildTransforms({ imageSize: config.imageSize, isTrain: false }),
      encodeText: tokenizer,
      contextLength: config.contextLength,
    }),
    options,
  );
}

/**
 * Reads an integer flag of `npm run demo:export` ({@link optionValue} with an 'int' spec): `dflt`
 * when the flag is absent, else an integer ≥ `min` (default: any integer).
 *
 * @throws Error `--<name>: expected an integer, got '<text>'` or `--<name>: expected a value >= <min>, got '<text>'`.
 */
export function integerFlag(name: string, text: string | undefined, dflt: number, min?: number): number {
  if (text === undefined) return dflt;
  return optionValue('', name, { kind: 'int', help: '', ...(min === undefined ? {} : { min }) }, text) as number;
}

export { patchGrid };

/** What {@link loadModel} found in a checkpoint file. */
export interface LoadedModel {
  /** The model (the caller owns it: `dispose()`). */
  model: IRRA;
  /** 'trainer' (a checkpoint of `irra-tfjs train`) or 'weights' (IRRA / CLIP weights read by loadCheckpoint). */
  kind: 'trainer' | 'weights';
  /** The epoch of a trainer checkpoint. */
  epoch?: number;
}

/**
 * Builds a model for inference from a checkpoint file: a trainer checkpoint written by
 * `irra-tfjs train` (its stored config is used), or any file `loadCheckpoint` reads (an IRRA
 * `best.pth`, a CLIP `ViT-B-16.pt`, safetensors), shaped with `imageSize` / `strideSize` (the
 * image positional embedding is resized when the checkpoint's grid differs, as for CLIP).
 *
 * @throws Error naming the file when it cannot be read or does not describe a model.
 */
export async function loadModel(
  command: string,
  path: string,
  geometry: { imageSize: [number, number]; strideSize: number },
): Promise<LoadedModel> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (e) {
    throw new Error(`${command}: --checkpoint: cannot read '${path}' (${(e as Error).message})`);
  }
  let metadata: Record<string, string> | undefined;
  try {
    metadata = parseSafetensors(bytes).metadata;
  } catch {
    metadata = undefined;
  }
  if (isTrainerCheckpoint(metadata)) {
    const ckpt = parseTrainerCheckpoint(bytes);
    try {
      if (!ckpt.config) throw new Error(`${command}: --checkpoint '${path}' stores no model config`);
      return { model: IRRA.fromStateDict(ckpt.weights, ckpt.config), kind: 'trainer', epoch: ckpt.epoch };
    } finally {
      disposeCheckpoint(ckpt);
    }
  }
  let weights: Map<string, tf.Tensor>;
  try {
    weights = await loadCheckpoint(bytes);
  } catch (e) {
    throw new Error(`${command}: --checkpoint '${path}': ${(e as Error).message}`);
  }
  try {
    const conv = weights.get('base_model.visual.conv1.weight');
    const pos = weights.get('base_model.visual.positional_embedding');
    const text = weights.get('base_model.positional_embedding');
    if (conv && pos && text) {
      const grid = patchGrid(geometry.imageSize, conv.shape[3] as number, geometry.strideSize);
      if (grid[0] * grid[1] + 1 !== pos.shape[0]) {
        weights = adaptStateDict(weights, { grid, contextLength: text.shape[0] });
      }
    }
    return {
      model: IRRA.fromStateDict(weights, { imageSize: geometry.imageSize, strideSize: geometry.strideSize }),
      kind: 'weights',
    };
  } catch (e) {
    throw new Error(`${command}: --checkpoint '${path}': ${(e as Error).message}`);
  } finally {
    for (const t of weights.values()) t.dispose();
  }
}

/** The preset names, for `--preset`. */
export const PRESET_NAMES = Object.keys(presets) as PresetName[];

/** `IRRAConfig` fields that `--preset` fills when the matching option is not given, for the help text. */
export function presetDefaultText(field: keyof IRRAConfig): string {
  const v = presets['ViT-B/16'][field as keyof (typeof presets)['ViT-B/16']];
  return `the preset's; ViT-B/16: ${Array.isArray(v) ? v.join(',') : String(v)}`;
}
