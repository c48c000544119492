import { readFile, stat, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { IRRA } from '../model/irra';
import { decodeBytes } from '../search/image_source';
import { PERSON_SEARCH_DEFAULTS, PersonSearch } from '../search/person_search';
import type { SearchHit } from '../search/types';
import { parseSafetensors } from '../weights/safetensors';
import { activateBackend, type CommandIO, formatHelp, type OptionGroup, parseOptions, processIO } from './options';
import {
  type ENGINE_NAMES,
  fingerprintError,
  type IndexPointer,
  loadSearchModel,
  loadSearchTokenizer,
  openLanceStore,
  parseStoreOption,
  pointerFromBytes,
  readStorePointer,
  SEARCH_COMMON_DEFAULTS,
  SEARCH_MODEL_OPTIONS,
  STORE_PREFIX,
} from './search_common';
import { heatmapDataUrl, type PageHit, renderSearchPage, thumbnailDataUrl } from './search_html';

/** Values of `irra-tfjs search`'s options (the queries are the positional arguments). */
export interface SearchCommandOptions {
  index?: string;
  store?: string;
  checkpoint: string;
  k: number;
  json: boolean;
  html?: string;
  queries?: string;
  images?: string;
  img_size?: [number, number];
  stride_size?: number;
  engine: (typeof ENGINE_NAMES)[number];
  backend?: string;
  vocab?: string;
}

/** Defaults of `irra-tfjs search`. */
export const SEARCH_DEFAULTS: Readonly<
  Omit<
    SearchCommandOptions,
    'index' | 'store' | 'checkpoint' | 'html' | 'queries' | 'images' | 'img_size' | 'stride_size'
  >
> = Object.freeze({
  k: PERSON_SEARCH_DEFAULTS.k,
  json: false,
  engine: SEARCH_COMMON_DEFAULTS.engine,
});

/** Option groups of `irra-tfjs search`. */
export const SEARCH_OPTION_GROUPS: readonly OptionGroup[] = [
  {
    title: 'gallery',
    options: {
      index: {
        kind: 'string',
        arg: 'FILE',
        help: 'the file written by irra-tfjs index --out (an index, or the pointer to a --store)',
      },
      store: {
        kind: 'string',
        arg: `${STORE_PREFIX}DIR`,
        help: 'search the LanceDB gallery built by irra-tfjs index --store (instead of, or overriding, --index)',
      },
      images: {
        kind: 'string',
        arg: 'DIR',
        help: 'the folder the ids are relative to, for --html thumbnails',
        defaultText: 'the folder the index was built from',
      },
    },
  },
  {
    title: 'queries and output',
    options: {
      queries: { kind: 'string', arg: 'FILE', help: 'a text file, one query per line (blank lines skipped)' },
      k: { kind: 'int', min: 1, help: 'hits per query (more than the gallery holds: all of it)' },
      json: {
        kind: 'flag',
        help: 'print exactly one JSON line per query: {"query": ..., "results": [{"id", "score", "rank"}, ...]}',
      },
      html: {
        kind: 'string',
        arg: 'OUT.html',
        help: 'also write one self-contained page: thumbnails, scores and the cross-attention heat map over each hit',
      },
    },
  },
  SEARCH_MODEL_OPTIONS,
];

const DESCRIPTION = `
Searches a gallery indexed by 'irra-tfjs index' with free-text descriptions, given as arguments
and/or --queries FILE; prints, per query, the rank, cosine score and id of the best --k images.
Example: irra-tfjs search --index gallery.index --checkpoint best.pth "a woman in a red coat"`;

/** The help text of `irra-tfjs search`. */
export function searchHelp(): string {
  return formatHelp('search', DESCRIPTION, SEARCH_OPTION_GROUPS, SEARCH_DEFAULTS as unknown as Record<string, unknown>);
}

/** Parses `irra-tfjs search` arguments: options and the queries given as arguments (`null` for `--help`). */
export function parseSearchOptions(
  argv: readonly string[],
): { options: SearchCommandOptions; queries: string[] } | null {
  const { help, values, positionals } = parseOptions('search', SEARCH_OPTION_GROUPS, argv, { positionals: true });
  if (help) return null;
  if (!values.checkpoint)
    throw new Error('search: --checkpoint PATH is required (the one the gallery was indexed with)');
  if (values.store !== undefined) parseStoreOption('search', values.store as string);
  else if (!values.index) throw new Error(`search: --index FILE is required (or --store ${STORE_PREFIX}DIR)`);
  if (positionals.length === 0 && values.queries === undefined) {
    throw new Error('search: give at least one query, e.g. "a woman in a red coat", or --queries FILE');
  }
  positionals.forEach((q, i) => {
    if (q.trim().length === 0) {
      throw new Error(`search: query ${i + 1} is empty; describe the person, e.g. "a woman in a red coat"`);
    }
  });
  return { options: { ...SEARCH_DEFAULTS, ...values } as SearchCommandOptions, queries: positionals };
}

/** The queries of `--queries FILE`: one per line, trimmed, blank lines skipped. */
async function readQueryFile(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new Error(`search: --queries: cannot read '${path}' (${(e as Error).message})`);
  }
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  if (lines.length === 0) throw new Error(`search: --queries: '${path}' holds no query`);
  return lines;
}

/**
 * One `--json` line: `{"query": "...", "results": [{"id": "...", "score": 0.41, "rank": 1}, ...]}`
 * (keys in this order, `": "` and `", "` separators as Python's json.dumps writes them, scores as
 * JavaScript prints a double).
 */
export function searchJsonLine(query: string, hits: readonly SearchHit[]): string {
  const results = hits.map(
    (h) => `{"id": ${JSON.stringify(h.id)}, "score": ${JSON.stringify(h.score)}, "rank": ${h.rank}}`,
  );
  return `{"query": ${JSON.stringify(query)}, "results": [${results.join(', ')}]}`;
}

/** The table of one query: rank, score (4 decimals) and id. */
export function searchTable(n: number, query: string, hits: readonly SearchHit[]): string {
  const w = Math.max(4, String(hits.length).length);
  const lines = [`query ${n}: ${query}`, `  ${'rank'.padStart(w)}   score  id`];
  for (const h of hits) lines.push(`  ${String(h.rank).padStart(w)}  ${h.score.toFixed(4).padStart(6)}  ${h.id}`);
  return `${lines.join('\n')}\n`;
}

/** Where the gallery is: an index file's bytes, or a LanceDB folder (with the pointer that named it). */
type GalleryLocation =
  | { kind: 'file'; bytes: Uint8Array }
  | { kind: 'lance'; dir: string; pointer: IndexPointer | null };

/** Reads `--index` (an index, or a pointer to a store) or takes `--store`, before any model is loaded. */
async function locateGallery(o: SearchCommandOptions): Promise<GalleryLocation> {
  if (o.store !== undefined) return { kind: 'lance', dir: parseStoreOption('search', o.store), pointer: null };
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(o.index as string));
  } catch (e) {
    throw new Error(`search: --index: cannot read '${o.index}' (${(e as Error).message})`);
  }
  const pointer = pointerFromBytes('search', `--index '${o.index}'`, bytes);
  if (pointer === null) return { kind: 'file', bytes };
  return { kind: 'lance', dir: parseStoreOption('search', pointer.store), pointer };
}

/** The search over the located gallery, and its images folder. */
async function openGallery(
  o: SearchCommandOptions,
  where: GalleryLocation,
  model: IRRA,
  tokenizer: Awaited<ReturnType<typeof loadSearchTokenizer>>,
): Promise<{ search: PersonSearch; imagesRoot: string | null; label: string }> {
  const base = { model, tokenizer, engine: o.engine };
  if (where.kind === 'file') {
    const { bytes } = where;
    const label = `--index '${o.index}'`;
    let imagesRoot: string | null = null;
    try {
      imagesRoot = parseSafetensors(bytes).metadata[SEARCH_COMMON_DEFAULTS.imagesRootKey] ?? null;
    } catch {
      imagesRoot = null;
    }
    try {
      return { search: await PersonSearch.load(bytes, base), imagesRoot, label };
    } catch (e) {
      const message = (e as Error).message.replace(/^PersonSearch\.load: the index bytes/, label);
      throw new Error(`search: ${message}`);
    }
  }
  const { dir } = where;
  const label = `--store ${STORE_PREFIX}${dir}`;
  if (!(await stat(dir).catch(() => null))?.isDirectory()) {
    throw new Error(`search: ${label}: no such folder; build it with irra-tfjs index --store`);
  }
  const kept = (await readStorePointer('search', dir)) ?? where.pointer;
  const store = await openLanceStore('search', dir);
  let search: PersonSearch;
  try {
    search = await PersonSearch.create({ ...base, store });
  } catch (e) {
    await store.close();
    throw new Error(`search: ${label}: ${(e as Error).message}`);
  }
  try {
    if (search.size === 0) throw new Error(`search: ${label} holds no images; build it with irra-tfjs index --store`);
    if (!kept) {
      throw new Error(
        `search: ${label} has no ${SEARCH_COMMON_DEFAULTS.pointerFile}: it was not built by irra-tfjs index, so its model cannot be checked`,
      );
    }
    if (kept.fingerprint !== search.fingerprint)
      throw fingerprintError('search', label, kept.fingerprint, search.fingerprint);
    return { search, imagesRoot: kept.images_root, label };
  } catch (e) {
    await search.dispose();
    throw e;
  }
}

/** The hits of one query, with thumbnails and (when the model has the fusion encoder) heat maps. */
async function pageHits(
  search: PersonSearch,
  root: string,
  query: string,
  hits: readonly SearchHit[],
): Promise<PageHit[]> {
  const out: PageHit[] = [];
  for (const h of hits) {
    const path = resolve(root, h.id);
    const hit: PageHit = { id: h.id, score: h.score, rank: h.rank, thumbnail: null, heatmap: null };
    try {
      hit.thumbnail = thumbnailDataUrl(await decodeBytes(new Uint8Array(await readFile(path))));
    } catch (e) {
      hit.error = `cannot read '${path}': ${(e as Error).message}`;
    }
    if (hit.thumbnail !== null && search.model.crossModal) {
      try {
        const heat = await search.explain(query, path);
        hit.heatmap = heatmapDataUrl(heat.map, heat.grid);
      } catch (e) {
        hit.error = `no heat map: ${(e as Error).message}`;
      }
    }
    out.push(hit);
  }
  return out;
}

/** `irra-tfjs search`: see {@link searchHelp}. Resolves to the exit code; leaves no tensors behind. */
export async function commandSearch(argv: readonly string[], io: CommandIO = processIO()): Promise<number> {
  const parsed = parseSearchOptions(argv);
  if (!parsed) {
    io.write(`${searchHelp()}\n`);
    return 0;
  }
  const o = parsed.options;
  const queries = [...parsed.queries, ...(o.queries !== undefined ? await readQueryFile(o.queries) : [])];
  const where = await locateGallery(o);
  await activateBackend(o.backend);
  const model = await loadSearchModel('search', io, o);
  try {
    const tokenizer = await loadSearchTokenizer('search', o.vocab, model);
    const { search, imagesRoot, label } = await openGallery(o, where, model, tokenizer);
    try {
      const root = o.images !== undefined ? resolve(o.images) : imagesRoot;
      if (o.html !== undefined && root === null) {
        throw new Error(`search: --html needs the images: ${label} does not record their folder; pass --images DIR`);
      }
      const results = await search.search(queries, { k: o.k });
      queries.forEach((q, i) => {
        io.write(
          o.json ? `${searchJsonLine(q, results[i])}\n` : `${i > 0 ? '\n' : ''}${searchTable(i + 1, q, results[i])}`,
        );
      });
      if (o.html !== undefined) {
        const page = {
          checkpoint: o.checkpoint,
          index: label,
          noHeatmaps: model.crossModal
            ? null
            : 'This checkpoint holds the CLIP towers only (no IRR cross-modal fusion encoder), so there is no cross-attention heat map to draw.',
          queries: [] as Array<{ query: string; hits: PageHit[] }>,
        };
        for (const [i, q] of queries.entries()) {
          page.queries.push({ query: q, hits: await pageHits(search, root as string, q, results[i]) });
        }
        try {
          await writeFile(o.html, renderSearchPage(page));
        } catch (e) {
          throw new Error(`search: --html: cannot write '${o.html}' (${(e as Error).message})`);
        }
        if (!o.json) io.write(`\nsearch: wrote ${o.html}\n`);
        const failed = page.queries.flatMap((q) => q.hits).filter((h) => h.error);
        for (const h of failed.slice(0, 5)) io.warn(`--html: ${h.id}: ${h.error}`);
      }
    } finally {
      await search.dispose();
    }
  } finally {
    model.dispose();
  }
  return 0;
}
