/**
 * Annotation parsers for the text-based person retrieval datasets IRRA trains on, with the
 * semantics of the reference's `datasets/cuhkpedes.py`, `icfgpedes.py` and `rstpreid.py`:
 *
 * - an annotation is `{ split, id, captions, file_path | img_path }`; `split` 'train' and 'test'
 *   select those splits and *any other value* goes to 'val' (as the reference does);
 * - training: one image id per annotation (counted from 0 in file order) and one training pair
 *   per caption; the training pids must be exactly `0 … n-1` (CUHK-PEDES subtracts 1 first,
 *   ICFG-PEDES and RSTPReid use the ids as they are);
 * - test/val: `{ imagePids, imgPaths, captionPids, captions }` with the raw ids (no shift);
 * - image paths are `imageRoot/imgs/<file_path>` for the reference layouts;
 * - a split may be empty (the real ICFG-PEDES.json has no val records: the reference builds an
 *   empty val split and reads it only under `--val_dataset val`); a file with no annotations at
 *   all is an error, and {@link assertSplitNotEmpty} refuses an empty split where one is read.
 *
 * Unlike the reference, problems are reported with an Error naming the file, the annotation
 * index and the field, instead of a KeyError or an assertion deep inside training.
 */
import { nodeFs } from '../util/node';

/** One training pair: an image and one of its captions. */
export interface TrainSample {
  /** Identity label in `[0, numClasses)`. */
  pid: number;
  /** Index of the annotation (image) the caption belongs to, from 0 in file order. */
  imageId: number;
  /** Path of the image file (image root joined with the annotation's path). */
  imgPath: string;
  /** The raw caption text. */
  caption: string;
}

/** A query/gallery split: one entry per image and one per caption (reference test/val dict). */
export interface EvalSplit {
  /** Identity of each image (raw ids from the file). */
  imagePids: number[];
  /** Path of each image. */
  imgPaths: string[];
  /** Identity of each caption. */
  captionPids: number[];
  /** Caption texts, grouped by image in file order. */
  captions: string[];
}

/** A parsed dataset: training pairs plus the test and val splits. */
export interface PersonDataset {
  /** Dataset name ('CUHK-PEDES', 'ICFG-PEDES', 'RSTPReid' or the generic file's name). */
  name: string;
  /** Training pairs, one per caption. */
  train: TrainSample[];
  /** Test split (used for the final evaluation). */
  test: EvalSplit;
  /** Validation split. */
  val: EvalSplit;
  /** Number of training identities (the classifier size); training pids are `0 … numClasses-1`. */
  numClasses: number;
  /** Counts per split, as the reference's dataset table: ids, images, captions. */
  stats: Record<'train' | 'test' | 'val', { ids: number; images: number; captions: number }>;
}

/** Names accepted by {@link loadDataset}. */
export type DatasetName = 'CUHK-PEDES' | 'ICFG-PEDES' | 'RSTPReid' | 'generic';

/**
 * Layout of each reference dataset under the root directory (reference `dataset_dir`,
 * `imgs/`, annotation file). ICFG-PEDES ships as `ICFG-PEDES.json` (the reference's name);
 * `ICFG_PEDES.json` is accepted as an alternative.
 */
export const DATASET_LAYOUTS = {
  'CUHK-PEDES': { dir: 'CUHK-PEDES', files: ['reid_raw.json'], pathField: 'file_path', pidShift: -1 },
  'ICFG-PEDES': {
    dir: 'ICFG-PEDES',
    files: ['ICFG-PEDES.json', 'ICFG_PEDES.json'],
    pathField: 'file_path',
    pidShift: 0,
  },
  RSTPReid: { dir: 'RSTPReid', files: ['data_captions.json'], pathField: 'img_path', pidShift: 0 },
} as const;

type ReferenceName = keyof typeof DATASET_LAYOUTS;

/** The splits of a {@link PersonDataset}. */
export type SplitName = 'train' | 'test' | 'val';

const SPLIT_NAMES: readonly SplitName[] = ['train', 'test', 'val'];

/** Joins path parts with '/', ignoring empty parts and doubled separators (no `node:path`, so browsers work). */
export function joinPath(...parts: string[]): string {
  const kept = parts.filter((p) => p.length > 0);
  return kept
    .map((p, i) => {
      let s = p;
      if (i > 0) s = s.replace(/^\/+/, '');
      if (i < kept.length - 1) s = s.replace(/\/+$/, '');
      return s;
    })
    .join('/');
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return `an array of length ${x.length}`;
  if (typeof x === 'string') return `the string ${JSON.stringify(x.length > 40 ? `${x.slice(0, 40)}…` : x)}`;
  if (typeof x === 'object') return 'an object';
  return `${typeof x} ${String(x)}`;
}

function asJson(json: unknown, source: string): unknown {
  if (typeof json !== 'string') return json;
  try {
    return JSON.parse(json);
  } catch (e) {
    throw new Error(`${source}: not valid JSON (${(e as Error).message})`);
  }
}

/** Reference `int(anno['id'])`: integers, or strings of decimal digits; anything else is an error. */
function readPid(value: unknown, where: string): number {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  if (typeof value === 'string' && /^\s*[-+]?\d+\s*$/.test(value)) return Number.parseInt(value, 10);
  throw new Error(`${where}: expected an integer person id, got ${describe(value)}`);
}

function readString(entry: Record<string, unknown>, field: string, where: string): string {
  if (!(field in entry)) throw new Error(`${where}: missing field '${field}'`);
  const v = entry[field];
  if (typeof v !== 'string') throw new Error(`${where}: field '${field}' must be a string, got ${describe(v)}`);
  return v;
}

function readCaptions(entry: Record<string, unknown>, field: string, where: string): string[] {
  if (!(field in entry)) throw new Error(`${where}: missing field '${field}'`);
  const v = entry[field];
  if (!Array.isArray(v)) throw new Error(`${where}: field '${field}' must be an array of strings, got ${describe(v)}`);
  v.forEach((c, j) => {
    if (typeof c !== 'string') throw new Error(`${where}: ${field}[${j}] must be a string, got ${describe(c)}`);
  });
  return v as string[];
}

interface Anno {
  pid: number;
  path: string;
  captions: string[];
}

function buildTrain(annos: Anno[], source: string, split: string): { train: TrainSample[]; numClasses: number } {
  const train: TrainSample[] = [];
  const ids = new Set<number>();
  annos.forEach((a, imageId) => {
    ids.add(a.pid);
    for (const caption of a.captions) train.push({ pid: a.pid, imageId, imgPath: a.path, caption });
  });
  const sorted = [...ids].sort((x, y) => x - y);
  sorted.forEach((pid, idx) => {
    if (pid !== idx) {
      throw new Error(
        `${source}: ${split} person ids must be exactly 0..${sorted.length - 1} after the dataset's shift ` +
          `(the reference asserts this), but the ${idx}-th smallest is ${pid}`,
      );
    }
  });
  return { train, numClasses: sorted.length };
}

function buildEval(annos: Anno[]): EvalSplit {
  const out: EvalSplit = { imagePids: [], imgPaths: [], captionPids: [], captions: [] };
  for (const a of annos) {
    out.imagePids.push(a.pid);
    out.imgPaths.push(a.path);
    for (const c of a.captions) {
      out.captions.push(c);
      out.captionPids.push(a.pid);
    }
  }
  return out;
}

function evalStats(s: EvalSplit): { ids: number; images: number; captions: number } {
  return { ids: new Set(s.imagePids).size, images: s.imgPaths.length, captions: s.captions.length };
}

function assemble(name: string, source: string, splits: Record<SplitName, Anno[]>): PersonDataset {
  if (SPLIT_NAMES.every((split) => splits[split].length === 0)) {
    throw new Error(`${source}: no annotations (the train, test and val splits are all empty)`);
  }
  const { train, numClasses } = buildTrain(splits.train, source, 'train');
  const test = buildEval(splits.test);
  const val = buildEval(splits.val);
  return {
    name,
    train,
    test,
    val,
    numClasses,
    stats: {
      train: { ids: numClasses, images: splits.train.length, captions: train.length },
      test: evalStats(test),
      val: evalStats(val),
    },
  };
}

/**
 * Checks that a split of a dataset holds at least one image and one caption, for the code that
 * reads it: training needs `'train'`, evaluation the split it evaluates. The parsers accept empty
 * splits (ICFG-PEDES ships without val, as the reference reads it), so this is where an empty one
 * is refused.
 *
 * @param dataset a parsed dataset.
 * @param split the split about to be read.
 * @throws Error naming the dataset and the split, with the split's counts and the splits that do
 *   hold data, e.g. `ICFG-PEDES has no 'val' split: it holds 0 images and 0 captions (splits with
 *   data: train, test)`.
 * @example
 * const ds = await loadDataset('ICFG-PEDES', '/data');
 * assertSplitNotEmpty(ds, 'test'); // passes
 * assertSplitNotEmpty(ds, 'val');  // throws: ICFG-PEDES has no 'val' split ...
 */
export function assertSplitNotEmpty(dataset: PersonDataset, split: SplitName): void {
  if (!SPLIT_NAMES.includes(split)) {
    throw new Error(`assertSplitNotEmpty: split must be one of ${SPLIT_NAMES.join(', ')}, got ${describe(split)}`);
  }
  const { images, captions } = dataset.stats[split];
  if (images > 0 && captions > 0) return;
  const withData = SPLIT_NAMES.filter((s) => dataset.stats[s].images > 0 && dataset.stats[s].captions > 0);
  throw new Error(
    `${dataset.name} has no '${split}' split: it holds ${images} images and ${captions} captions ` +
      `(splits with data: ${withData.length > 0 ? withData.join(', ') : 'none'})`,
  );
}

function parseReference(name: ReferenceName, json: unknown, imageRoot: string, source: string): PersonDataset {
  const layout = DATASET_LAYOUTS[name];
  const data = asJson(json, source);
  if (!Array.isArray(data)) throw new Error(`${source}: expected a JSON array of annotations, got ${describe(data)}`);
  const splits: Record<SplitName, Anno[]> = { train: [], test: [], val: [] };
  data.forEach((entry: unknown, i: number) => {
    const where = `${source}: annotation ${i}`;
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
      throw new Error(`${where}: expected an object, got ${describe(entry)}`);
    }
    const e = entry as Record<string, unknown>;
    const split = readString(e, 'split', where);
    if (!('id' in e)) throw new Error(`${where}: missing field 'id'`);
    const raw = readPid(e.id, `${where}, field 'id'`);
    const path = joinPath(imageRoot, readString(e, layout.pathField, where));
    const captions = readCaptions(e, 'captions', where);
    const target: SplitName = split === 'train' ? 'train' : split === 'test' ? 'test' : 'val';
    splits[target].push({ pid: target === 'train' ? raw + layout.pidShift : raw, path, captions });
  });
  return assemble(name, source, splits);
}

/**
 * Parses CUHK-PEDES `reid_raw.json`: a JSON array of `{ split, captions, file_path, id, ... }`.
 * Training pids are `id - 1` and must then be `0 … n-1`; test/val pids are the raw ids.
 *
 * @param json the parsed JSON value, or its text.
 * @param imageRoot prefix joined to each `file_path` (the reference uses `<root>/CUHK-PEDES/imgs`);
 *   default '' keeps the paths as in the file.
 * @param source file name used in error messages.
 * @throws Error naming the file, annotation index and field for a missing field, a non-integer
 *   id or non-contiguous training ids, and for a file without annotations. Empty splits are
 *   accepted (see {@link assertSplitNotEmpty}).
 * @example
 * const ds = parseCuhkPedes(JSON.parse(text), 'data/CUHK-PEDES/imgs');
 * ds.train[0]; // { pid: 0, imageId: 0, imgPath: 'data/CUHK-PEDES/imgs/CUHK01/0363004.png', caption: '...' }
 */
export function parseCuhkPedes(json: unknown, imageRoot = '', source = 'reid_raw.json'): PersonDataset {
  return parseReference('CUHK-PEDES', json, imageRoot, source);
}

/**
 * Parses ICFG-PEDES `ICFG-PEDES.json`: records `{ split, id, file_path, captions,
 * processed_tokens }` (one caption per image), `split` 'train' (34,674 records) or 'test'
 * (19,848) and no 'val', so the val split comes out empty. Pids are used as they are (no shift)
 * and the training ones must be `0 … n-1`. Arguments and errors as {@link parseCuhkPedes}.
 */
export function parseIcfgPedes(json: unknown, imageRoot = '', source = 'ICFG-PEDES.json'): PersonDataset {
  return parseReference('ICFG-PEDES', json, imageRoot, source);
}

/**
 * Parses RSTPReid `data_captions.json`: records `{ split, captions, img_path, id, ... }` (note
 * `img_path`, not `file_path`); pids unshifted, training ones `0 … n-1`. Arguments and errors as
 * {@link parseCuhkPedes}.
 */
export function parseRstpReid(json: unknown, imageRoot = '', source = 'data_captions.json'): PersonDataset {
  return parseReference('RSTPReid', json, imageRoot, source);
}

/**
 * Parses the library's generic annotation format, for datasets of your own:
 *
 * ```json
 * {
 *   "name": "my-dataset",                       // optional
 *   "imageRoot": "images",                      // optional, relative to the JSON file's folder
 *   "train": [{ "pid": 17, "image": "a/1.jpg", "captions": ["a man in a red coat"] }],
 *   "test":  [{ "pid": 3,  "image": "b/9.jpg", "captions": ["...", "..."] }],
 *   "val":   [ ... ]                            // optional: the test split is used when absent
 * }
 * ```
 *
 * Each entry is one image. Training pids may be any integers: they are remapped to `0 … n-1` in
 * increasing order (`trainPidMap` returns the mapping); test/val pids are kept. Otherwise the
 * semantics are the reference's (one image id per entry, one training pair per caption).
 *
 * @param json the parsed JSON value, or its text.
 * @param imageRoot prefix joined before `imageRoot` of the file and each `image` (default '').
 * @param source file name used in error messages.
 * @returns the dataset plus `trainPidMap` (original pid → training label).
 * @throws Error naming the file, split, entry index and field for a missing or mistyped field or
 *   a non-integer pid, and for a file whose splits are all empty. An empty split (`"val": []`,
 *   `"train": []` for an evaluation-only file) is accepted (see {@link assertSplitNotEmpty}).
 */
export function parseGenericAnnotations(
  json: unknown,
  imageRoot = '',
  source = 'annotations.json',
): PersonDataset & { trainPidMap: Map<number, number> } {
  const data = asJson(json, source);
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new Error(`${source}: expected a JSON object with 'train' and 'test' arrays, got ${describe(data)}`);
  }
  const obj = data as Record<string, unknown>;
  const name = obj.name === undefined ? source : readString(obj, 'name', source);
  const root = obj.imageRoot === undefined ? imageRoot : joinPath(imageRoot, readString(obj, 'imageRoot', source));
  const readSplit = (split: SplitName): Anno[] => {
    if (!(split in obj)) throw new Error(`${source}: missing field '${split}'`);
    const list = obj[split];
    if (!Array.isArray(list)) throw new Error(`${source}: field '${split}' must be an array, got ${describe(list)}`);
    return list.map((entry: unknown, i: number) => {
      const where = `${source}: ${split}[${i}]`;
      if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
        throw new Error(`${where}: expected an object, got ${describe(entry)}`);
      }
      const e = entry as Record<string, unknown>;
      if (!('pid' in e)) throw new Error(`${where}: missing field 'pid'`);
      const pid = e.pid;
      if (typeof pid !== 'number' || !Number.isSafeInteger(pid)) {
        throw new Error(`${where}, field 'pid': expected an integer person id, got ${describe(pid)}`);
      }
      return { pid, path: joinPath(root, readString(e, 'image', where)), captions: readCaptions(e, 'captions', where) };
    });
  };
  const train = readSplit('train');
  const test = readSplit('test');
  const val = obj.val === undefined ? test : readSplit('val');
  const trainPidMap = new Map<number, number>();
  const sortedPids = [...new Set(train.map((a) => a.pid))].sort((x, y) => x - y);
  for (let label = 0; label < sortedPids.length; label++) trainPidMap.set(sortedPids[label], label);
  const remapped = train.map((a) => ({ ...a, pid: trainPidMap.get(a.pid)! }));
  return { ...assemble(name, source, { train: remapped, test, val }), trainPidMap };
}

/**
 * Reads and parses a dataset from disk (Node only: `node:fs/promises` is imported on call, out of a bundler's sight).
 * For the reference datasets the layout is the reference's: `<rootDir>/<dir>/<annotation file>`
 * with images under `<rootDir>/<dir>/imgs/` (see {@link DATASET_LAYOUTS}). For `'generic'`,
 * `rootDir` is the path of the JSON file itself and image paths are relative to its folder.
 *
 * @throws Error naming the missing directory or file, or the parser's error.
 * @example
 * const ds = await loadDataset('CUHK-PEDES', '/data');  // reads /data/CUHK-PEDES/reid_raw.json
 */
export async function loadDataset(name: DatasetName, rootDir: string): Promise<PersonDataset> {
  const fs = await nodeFs();
  const exists = async (p: string): Promise<boolean> =>
    fs.stat(p).then(
      () => true,
      () => false,
    );
  if (name === 'generic') {
    if (!(await exists(rootDir))) throw new Error(`loadDataset: annotation file '${rootDir}' does not exist`);
    const text = await fs.readFile(rootDir, 'utf8');
    const folder = rootDir.includes('/') ? rootDir.slice(0, rootDir.lastIndexOf('/')) : '';
    return parseGenericAnnotations(text, folder, rootDir);
  }
  if (!(name in DATASET_LAYOUTS)) {
    throw new Error(
      `loadDataset: name must be one of ${[...Object.keys(DATASET_LAYOUTS), 'generic'].join(', ')}, got ${JSON.stringify(name)}`,
    );
  }
  const layout = DATASET_LAYOUTS[name as ReferenceName];
  const datasetDir = joinPath(rootDir, layout.dir);
  const imgDir = joinPath(datasetDir, 'imgs');
  if (!(await exists(datasetDir))) throw new Error(`loadDataset: '${datasetDir}' is not available`);
  if (!(await exists(imgDir))) throw new Error(`loadDataset: '${imgDir}' is not available`);
  let annoPath: string | null = null;
  for (const f of layout.files) {
    const p = joinPath(datasetDir, f);
    if (await exists(p)) {
      annoPath = p;
      break;
    }
  }
  if (annoPath === null) {
    throw new Error(`loadDataset: '${joinPath(datasetDir, layout.files[0])}' is not available`);
  }
  const text = await fs.readFile(annoPath, 'utf8');
  return parseReference(name as ReferenceName, text, imgDir, annoPath);
}
