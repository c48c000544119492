import { readdir, stat } from 'node:fs/promises';
import { dirname, extname, join, relative, resolve, sep } from 'node:path';
import type { IRRA } from '../model/irra';
import { loadSharp } from '../search/image_source';
import {
  type AddImagesProgress,
  type AddImagesReport,
  PERSON_SEARCH_DEFAULTS,
  PersonSearch,
} from '../search/person_search';
import type { GalleryStore } from '../search/types';
import { activateBackend, type CommandIO, formatHelp, type OptionGroup, parseOptions, processIO } from './options';
import { terminalBar } from './progress';
import {
  type ENGINE_NAMES,
  fingerprintError,
  loadSearchModel,
  loadSearchTokenizer,
  makePointer,
  openLanceStore,
  parseStoreOption,
  readStorePointer,
  SEARCH_COMMON_DEFAULTS,
  SEARCH_MODEL_OPTIONS,
  STORE_PREFIX,
  writeAtomically,
} from './search_common';

/** Values of `irra-tfjs index`'s options. */
export interface IndexCommandOptions {
  checkpoint: string;
  images: string;
  out?: string;
  img_size?: [number, number];
  stride_size?: number;
  workers: number;
  batch_size: number;
  skip_invalid: boolean;
  engine: (typeof ENGINE_NAMES)[number];
  store?: string;
  backend?: string;
  vocab?: string;
}

/** Defaults of `irra-tfjs index`. */
export const INDEX_DEFAULTS: Readonly<
  Omit<IndexCommandOptions, 'checkpoint' | 'images' | 'out' | 'img_size' | 'stride_size' | 'store'>
> = Object.freeze({
  workers: 1,
  batch_size: PERSON_SEARCH_DEFAULTS.batchSize,
  skip_invalid: false,
  engine: SEARCH_COMMON_DEFAULTS.engine,
});

/** Extensions indexed from `--images` (`.webp` only when the optional sharp package loads). */
export const INDEX_EXTENSIONS: readonly string[] = ['.jpg', '.jpeg', '.png', '.webp'];

/** Option groups of `irra-tfjs index`. */
export const INDEX_OPTION_GROUPS: readonly OptionGroup[] = [
  {
    title: 'gallery',
    options: {
      images: {
        kind: 'string',
        arg: 'DIR',
        help: 'folder of images, read recursively: .jpg .jpeg .png, and .webp when sharp is installed (required)',
      },
      out: {
        kind: 'string',
        arg: 'FILE',
        help: `the index file (required without --store); with --store: a small JSON pointer to the store, for search --index (optional)`,
      },
      store: {
        kind: 'string',
        arg: `${STORE_PREFIX}DIR`,
        help: 'keep the features in a LanceDB folder instead of memory: resumable (a second run adds only what is missing)',
      },
      skip_invalid: {
        kind: 'flag',
        help: 'list images that cannot be decoded and index the rest, instead of stopping',
      },
      workers: { kind: 'int', min: 1, help: 'worker threads encoding images (tfjs engine)' },
      batch_size: { kind: 'int', min: 1, help: 'images per encoder call (and per LanceDB commit)' },
    },
  },
  SEARCH_MODEL_OPTIONS,
];

const DESCRIPTION = `
Indexes every image under --images (recursively, sorted) for 'irra-tfjs search': decodes each,
resizes it to the model's image size as the reference's test transform does, encodes it and keeps
its L2-normalised feature. Ids are the paths relative to --images, with '/' separators. The index
records the images folder, so that 'search --html' finds the thumbnails.`;

/** The help text of `irra-tfjs index`. */
export function indexHelp(): string {
  return formatHelp('index', DESCRIPTION, INDEX_OPTION_GROUPS, INDEX_DEFAULTS as unknown as Record<string, unknown>);
}

/** Parses `irra-tfjs index` arguments (`null` for `--help`). */
export function parseIndexOptions(argv: readonly string[]): IndexCommandOptions | null {
  const { help, values } = parseOptions('index', INDEX_OPTION_GROUPS, argv);
  if (help) return null;
  if (!values.checkpoint) throw new Error('index: --checkpoint PATH is required');
  if (!values.images) throw new Error('index: --images DIR is required');
  if (values.store !== undefined) parseStoreOption('index', values.store as string);
  else if (!values.out) throw new Error(`index: --out FILE is required (or --store ${STORE_PREFIX}DIR)`);
  const o = { ...INDEX_DEFAULTS, ...values } as IndexCommandOptions;
  if (o.workers > 1 && o.engine !== 'tfjs') {
    throw new Error(`index: --workers ${o.workers} needs --engine tfjs, got --engine ${o.engine}`);
  }
  return o;
}

/** The images under `root`, recursively: relative POSIX ids in code-unit order, and their paths. */
export async function listGallery(
  root: string,
  extensions: readonly string[],
): Promise<{ ids: string[]; paths: string[]; skipped: string[] }> {
  const found: string[] = [];
  const skipped: string[] = [];
  const walk = async (dir: string) => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile() || entry.isSymbolicLink()) {
        const ext = extname(entry.name).toLowerCase();
        if (extensions.includes(ext)) found.push(path);
        else if (INDEX_EXTENSIONS.includes(ext)) skipped.push(path);
      }
    }
  };
  await walk(root);
  const rows = found.map((path) => ({ path, id: relative(root, path).split(sep).join('/') }));
  rows.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { ids: rows.map((r) => r.id), paths: rows.map((r) => r.path), skipped: skipped.sort() };
}

const clock = (seconds: number | null): string => {
  if (seconds === null || !Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
};

/**
 * Progress of the indexing: a cli-progress bar when `io` is a terminal (done/total, images/s,
 * ETA), else one log line after the first batch, then about every twentieth of the images, and the last.
 */
function indexProgress(io: CommandIO): { update: (p: AddImagesProgress) => void; stop: () => void } {
  if (!io.isTTY) {
    let next = 0;
    return {
      update: (p) => {
        if (p.done < next && p.done < p.total) return;
        next = p.done + Math.max(1, Math.ceil(p.total / 20));
        io.write(
          `index: ${p.done}/${p.total} images, ${p.imagesPerSecond.toFixed(2)} images/s, ETA ${clock(p.etaSeconds)}${p.skipped ? `, ${p.skipped} invalid` : ''}\n`,
        );
      },
      stop: () => {},
    };
  }
  const bar = terminalBar(io, 'index [{bar}] {value}/{total} images | {rate} images/s | ETA {left}');
  return {
    update: (p) => bar.update(p.done, p.total, { rate: p.imagesPerSecond.toFixed(2), left: clock(p.etaSeconds) }),
    stop: () => bar.stop(),
  };
}

/** Opens the store of `--store` (checking that it was built by this model) or a memory store. */
async function gallerySearch(
  o: IndexCommandOptions,
  model: IRRA,
  tokenizer: Awaited<ReturnType<typeof loadSearchTokenizer>>,
  io: CommandIO,
  root: string,
): Promise<PersonSearch> {
  const base = { model, tokenizer, engine: o.engine, batchSize: o.batch_size };
  if (o.store === undefined) return PersonSearch.create(base);
  const dir = parseStoreOption('index', o.store);
  const pointer = await readStorePointer('index', dir);
  const store: GalleryStore = await openLanceStore('index', dir);
  let search: PersonSearch;
  try {
    search = await PersonSearch.create({ ...base, store });
  } catch (e) {
    await store.close();
    throw new Error(`index: --store ${o.store}: ${(e as Error).message}`);
  }
  try {
    if (pointer && pointer.fingerprint !== search.fingerprint) {
      throw fingerprintError('index', `--store ${o.store}`, pointer.fingerprint, search.fingerprint);
    }
    if (!pointer && search.size > 0) {
      throw new Error(
        `index: --store ${o.store} holds ${search.size} rows but no ${SEARCH_COMMON_DEFAULTS.pointerFile}: they were not written by 'irra-tfjs index', so the model that encoded them is unknown; use an empty folder`,
      );
    }
    if (pointer && pointer.images_root !== root) {
      io.warn(`--store ${o.store} was built from '${pointer.images_root}'; its images folder is now '${root}'`);
    }
    // Written before the first row, so that a killed run leaves a store that says who built it.
    const next = makePointer(dir, search.fingerprint, root, model.config.embedDim);
    if (!pointer || pointer.images_root !== root) {
      await writeAtomically(join(dir, SEARCH_COMMON_DEFAULTS.pointerFile), `${JSON.stringify(next, null, 2)}\n`);
    }
    return search;
  } catch (e) {
    await search.dispose();
    throw e;
  }
}

/** `irra-tfjs index`: see {@link indexHelp}. Resolves to the exit code; leaves no tensors behind. */
export async function commandIndex(argv: readonly string[], io: CommandIO = processIO()): Promise<number> {
  const o = parseIndexOptions(argv);
  if (!o) {
    io.write(`${indexHelp()}\n`);
    return 0;
  }
  const root = resolve(o.images);
  const info = await stat(root).catch(() => null);
  if (!info?.isDirectory()) {
    throw new Error(`index: --images: '${o.images}' ${info ? 'is not a folder' : 'does not exist'}`);
  }
  if (o.out !== undefined) {
    const folder = await stat(dirname(resolve(o.out))).catch(() => null);
    if (!folder?.isDirectory()) throw new Error(`index: --out: the folder of '${o.out}' does not exist`);
  }
  const sharp = await loadSharp();
  const extensions = sharp ? INDEX_EXTENSIONS : INDEX_EXTENSIONS.filter((e) => e !== '.webp');
  const { ids, paths, skipped } = await listGallery(root, extensions);
  if (skipped.length > 0) {
    io.warn(
      `skipping ${skipped.length} .webp file(s) (e.g. '${relative(root, skipped[0])}'): decoding WebP needs the optional sharp package (npm install sharp)`,
    );
  }
  if (ids.length === 0) throw new Error(`index: --images: '${o.images}' holds no ${extensions.join(' ')} files`);
  const backend = await activateBackend(o.backend);
  const model = await loadSearchModel('index', io, o);
  let report: AddImagesReport;
  let size: number;
  try {
    const tokenizer = await loadSearchTokenizer('index', o.vocab, model);
    const search = await gallerySearch(o, model, tokenizer, io, root);
    try {
      const c = model.config;
      io.write(
        `index: ${ids.length} images under ${o.images}; model ${c.imageSize.join('×')}, stride ${c.strideSize}, embed ${c.embedDim}; engine ${search.engine.kind} (backend ${backend}); store ${search.store.kind}${search.size > 0 ? ` holding ${search.size}` : ''}\n`,
      );
      const progress = indexProgress(io);
      try {
        report = await search.addImages(paths, {
          ids,
          workers: o.workers,
          skipInvalid: o.skip_invalid,
          skipExisting: o.store !== undefined,
          onProgress: progress.update,
        });
      } catch (e) {
        const message = (e as Error).message.replace(/^PersonSearch\.addImages: /, '');
        throw new Error(
          `index: ${message}${/cannot read image/.test(message) ? ' (--skip_invalid indexes the rest)' : ''}`,
        );
      } finally {
        progress.stop();
      }
      size = search.size;
      if (o.store === undefined) {
        await search.save(o.out as string, { metadata: { [SEARCH_COMMON_DEFAULTS.imagesRootKey]: root } });
      } else if (o.out) {
        const pointer = makePointer(parseStoreOption('index', o.store), search.fingerprint, root, c.embedDim);
        await writeAtomically(o.out, `${JSON.stringify(pointer, null, 2)}\n`);
      }
    } finally {
      await search.dispose();
    }
  } finally {
    model.dispose();
  }
  for (const bad of report.invalid) io.warn(`skipped '${bad.id}': ${bad.error}`);
  const parts = [`${report.added} added`];
  if (report.existing.length > 0) parts.push(`${report.existing.length} already stored`);
  if (report.invalid.length > 0) parts.push(`${report.invalid.length} invalid, skipped`);
  const rate = report.added / Math.max(report.seconds, 1e-9);
  const target = o.store === undefined ? (o.out as string) : `${o.store}${o.out ? ` (pointer ${o.out})` : ''}`;
  io.write(
    `index: ${parts.join(', ')} in ${report.seconds.toFixed(1)} s (${rate.toFixed(2)} images/s); ${size} images → ${target}\n`,
  );
  return 0;
}
