/**
 * The demo page. Two galleries, searched the same way through `PersonSearch`:
 * - the demo: the model exported by `npm run demo:export` (web/public/model/) and its held-out
 *   SynthPedes gallery, queried with the demo's word vocabulary;
 * - "Open your own": a checkpoint file (anything `IRRA.load` reads) and a folder or a drop of
 *   images, indexed in the browser, queried with CLIP's BPE tokenizer (the vocabulary shipped in
 *   the package).
 * Typing searches (debounced); the fusion encoder's cross-attention of the query is drawn over
 * every hit (`PersonSearch.explain`) when the model has one.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgl';
import '@tensorflow/tfjs-backend-webgpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import type { DemoExportGallery, DemoExportManifest, DemoExportVocabulary } from '../../src/cli/demo_export';
import {
  ClipTokenizer,
  describeBackend,
  IRRA,
  type IRRAConfig,
  type LoadProgress,
  PersonSearch,
  type SearchHit,
  selectBackend,
} from '../../src/index';
import { drawHeat, drawPixels } from './draw';
import { pageVocabulary } from './vocabulary';

/** Settings of the page. */
const PAGE_DEFAULTS = {
  /** Backends tried in order (override with `?backend=webgl,wasm`). */
  backends: ['webgpu', 'webgl', 'wasm'],
  /** Results shown (override with `?k=`). */
  topK: 10,
  /** Images per encoding batch. */
  batch: 32,
  /** Display height of a result, CSS pixels. */
  frameHeight: 256,
  /** Quiet time after the last keystroke before searching, ms. */
  debounceMs: 250,
  /** File names indexed from a folder or a drop. */
  imagePattern: /\.(png|jpe?g|webp|bmp|gif)$/i,
} as const;

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const statusEl = $<HTMLSpanElement>('status');
const backendEl = $<HTMLElement>('backend');
const backendDetailEl = $<HTMLSpanElement>('backend-detail');
const queryEl = $<HTMLInputElement>('query');
const searchEl = $<HTMLButtonElement>('search');
const resultsEl = $<HTMLElement>('results');
const unknownEl = $<HTMLParagraphElement>('unknown');
const showAttentionEl = $<HTMLInputElement>('show-attention');
const galleryNameEl = $<HTMLSpanElement>('gallery-name');
const own = {
  checkpoint: $<HTMLInputElement>('own-checkpoint'),
  height: $<HTMLInputElement>('own-height'),
  width: $<HTMLInputElement>('own-width'),
  stride: $<HTMLInputElement>('own-stride'),
  load: $<HTMLButtonElement>('own-load'),
  drop: $<HTMLDivElement>('own-drop'),
  folder: $<HTMLInputElement>('own-folder'),
  files: $<HTMLInputElement>('own-files'),
  progress: $<HTMLProgressElement>('own-progress'),
  rate: $<HTMLSpanElement>('own-rate'),
  status: $<HTMLParagraphElement>('own-status'),
  note: $<HTMLParagraphElement>('own-note'),
};

function setStatus(text: string, state: 'loading' | 'ready' | 'busy' | 'idle' | 'error'): void {
  statusEl.textContent = text;
  statusEl.dataset.state = state;
}

type OwnState = 'idle' | 'loading' | 'loaded' | 'indexing' | 'indexed' | 'error';
function setOwnStatus(text: string, state: OwnState): void {
  own.status.textContent = text;
  own.status.dataset.state = state;
}

const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** A gallery the query box searches. */
interface Gallery {
  kind: 'demo' | 'own';
  model: IRRA;
  search: PersonSearch;
  /** What the status line says about it. */
  summary: string;
  /** The picture of a hit, stretched to the model's image size as the model sees it. */
  picture(id: string): HTMLElement;
  /** Adds what is known about a hit to its card (data attributes, a caption line). */
  annotate(card: HTMLElement, id: string): string;
  /** A remark on the query (e.g. words the vocabulary does not know). */
  remark(text: string): string;
}

const galleries: { demo: Gallery | null; own: Gallery | null } = { demo: null, own: null };
let active: Gallery | null = null;

async function fetchJson<T>(url: string): Promise<T> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return (await r.json()) as T;
}

/** A backend that gives a correct matMul with an asynchronous read, among `names`, in order. */
async function chooseBackend(names: readonly string[]): Promise<{ name: string; notes: string[] }> {
  setWasmPaths({
    'tfjs-backend-wasm.wasm': wasmPlain,
    'tfjs-backend-wasm-simd.wasm': wasmSimd,
    'tfjs-backend-wasm-threaded-simd.wasm': wasmThreaded,
  });
  const notes: string[] = [];
  for (const name of names) {
    try {
      await selectBackend([name]);
      const a = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
      const b = tf.tensor2d([1, 0, 0, 1, 1, 1], [3, 2]);
      const c = tf.matMul(a, b);
      const v = await c.data();
      tf.dispose([a, b, c]);
      if ([4, 5, 10, 11].every((x, i) => Math.abs(v[i] - x) < 1e-4)) return { name, notes };
      notes.push(`${name}: wrong matMul result`);
    } catch (e) {
      notes.push(`${name}: ${errorText(e).split('\n')[0]}`);
    }
  }
  throw new Error(`no tfjs backend works here: ${notes.join('; ')}`);
}

/** Frame size of a hit: the model's image aspect at {@link PAGE_DEFAULTS}.frameHeight. */
function frameSize(model: IRRA): { width: number; height: number; scale: number } {
  const [h, w] = model.config.imageSize;
  const scale = PAGE_DEFAULTS.frameHeight / h;
  return { width: Math.round(w * scale), height: PAGE_DEFAULTS.frameHeight, scale };
}

// ---------------------------------------------------------------- the demo gallery

async function loadDemo(): Promise<Gallery> {
  const base = new URL('model/', location.href).href;
  const [config, vocabJson, gallery, manifest] = await Promise.all([
    fetchJson<IRRAConfig>(`${base}config.json`),
    fetchJson<DemoExportVocabulary>(`${base}vocab.json`),
    fetchJson<DemoExportGallery>(`${base}gallery.json`),
    fetchJson<DemoExportManifest>(`${base}export.json`),
  ]);
  const vocab = pageVocabulary(vocabJson);
  const model = await IRRA.load(`${base}model.json`, { imageSize: config.imageSize, strideSize: config.strideSize });
  try {
    const pixelsResponse = await fetch(`${base}gallery.bin`);
    if (!pixelsResponse.ok) throw new Error(`${base}gallery.bin: HTTP ${pixelsResponse.status}`);
    const pixels = new Uint8Array(await pixelsResponse.arrayBuffer());
    const { height: h, width: w, count } = gallery;
    if (pixels.length !== count * h * w * 3) {
      throw new Error(`gallery.bin holds ${pixels.length} bytes, expected ${count} × ${h} × ${w} × 3`);
    }
    $<HTMLSpanElement>('metrics').textContent =
      `demo model: trained R1 ${manifest.trained.R1.toFixed(1)}% · untrained ${manifest.untrained.R1.toFixed(1)}% · chance ${manifest.chanceR1.toFixed(1)}% (held-out identities)`;
    const imageOf = (i: number) => pixels.subarray(i * h * w * 3, (i + 1) * h * w * 3);
    const search = await PersonSearch.create({ model, tokenizer: vocab.encode, batchSize: PAGE_DEFAULTS.batch });
    const t0 = performance.now();
    const ids = Array.from({ length: count }, (_, i) => String(i));
    await search.addImages(
      ids.map((_, i) => ({ data: imageOf(i), height: h, width: w })),
      { ids, onProgress: (p) => setStatus(`encoding the demo gallery… ${p.done}/${p.total}`, 'loading') },
    );
    const seconds = (performance.now() - t0) / 1000;
    return {
      kind: 'demo',
      model,
      search,
      summary: `demo gallery of ${count} images encoded in ${seconds.toFixed(1)} s`,
      picture: (id) => {
        const canvas = document.createElement('canvas');
        drawPixels(canvas, imageOf(Number(id)), h, w);
        return canvas;
      },
      annotate: (card, id) => {
        const item = gallery.items[Number(id)];
        const a = item.attributes;
        card.dataset.index = id;
        card.dataset.pid = String(item.pid);
        card.title = item.captions.join('\n');
        return `person ${item.pid} · ${a.gender}; ${a.upper.color} ${a.upper.type}; ${a.lower.color} ${a.lower.type}${a.bag ? `; ${a.bag.color} ${a.bag.type}` : ''}${a.hat ? `; ${a.hat.color} cap` : ''}`;
      },
      remark: (text) => {
        const unknown = vocab.unknownWords(text);
        return unknown.length ? `not in the demo's vocabulary (ignored as unknown): ${unknown.join(', ')}` : '';
      },
    };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

// ---------------------------------------------------------------- your own checkpoint and images

let clipTokenizer: Promise<ClipTokenizer> | null = null;
/** The CLIP tokenizer with the vocabulary shipped in the package (fetched once, beside the bundle). */
function loadClipTokenizer(): Promise<ClipTokenizer> {
  clipTokenizer ??= ClipTokenizer.load();
  return clipTokenizer;
}

/** Your model, its search, and the files indexed into it by id. */
interface OwnSession {
  model: IRRA;
  search: PersonSearch;
  name: string;
  files: Map<string, File>;
  urls: Map<string, string>;
}
let ownSession: OwnSession | null = null;
/** Set once a backend is active: loading waits for it. */
let backendChosen = false;
/** Images chosen before a checkpoint was loaded: indexed as soon as one is. */
let waitingImages: Array<{ id: string; file: File }> = [];

function positiveInteger(input: HTMLInputElement, name: string): number {
  const v = Number(input.value);
  if (!Number.isSafeInteger(v) || v < 1) throw new Error(`${name} must be a positive integer, got '${input.value}'`);
  return v;
}

function showLoadProgress(p: LoadProgress): void {
  if (p.message) own.note.textContent = [own.note.textContent, p.message].filter(Boolean).join('\n');
  if (p.total) {
    own.progress.max = p.total;
    own.progress.value = p.loaded;
  } else own.progress.removeAttribute('value');
  const what = { download: 'reading', parse: 'parsing', build: 'building the model' }[p.phase];
  own.rate.textContent =
    p.phase === 'build'
      ? `${what}: ${p.loaded}/${p.total ?? '?'} weights`
      : `${what}: ${(p.loaded / 1e6).toFixed(1)} MB`;
}

/** Frees your model and search; its results leave the page, and the demo gallery (if any) takes over. */
async function disposeOwn(): Promise<void> {
  const s = ownSession;
  ownSession = null;
  if (!s) return;
  const wasActive = active !== null && active === galleries.own;
  galleries.own = null;
  if (wasActive) {
    resultsEl.replaceChildren();
    delete resultsEl.dataset.query;
    activate(galleries.demo);
  }
  for (const url of s.urls.values()) URL.revokeObjectURL(url);
  await s.search.dispose();
  s.model.dispose();
}

async function loadOwnCheckpoint(): Promise<void> {
  const file = own.checkpoint.files?.[0];
  if (!file) throw new Error('choose a checkpoint file first');
  const imageSize: [number, number] = [
    positiveInteger(own.height, 'image height'),
    positiveInteger(own.width, 'width'),
  ];
  const strideSize = positiveInteger(own.stride, 'stride');
  own.note.textContent = '';
  setOwnStatus(`loading ${file.name} (${(file.size / 1e6).toFixed(1)} MB)…`, 'loading');
  // the images of the previous checkpoint are indexed again with this one
  if (ownSession?.files.size) waitingImages = [...ownSession.files].map(([id, f]) => ({ id, file: f }));
  await disposeOwn();
  refreshGalleryChoice();
  const t0 = performance.now();
  const [tokenizer, model] = await Promise.all([
    loadClipTokenizer(),
    IRRA.load(file, { imageSize, strideSize, onProgress: showLoadProgress }),
  ]);
  try {
    const c = model.config;
    if (c.vocabSize !== tokenizer.vocabSize) {
      throw new Error(
        `${file.name}: its text tower has a vocabulary of ${c.vocabSize} tokens, but the page tokenizes queries with CLIP's BPE vocabulary of ${tokenizer.vocabSize} tokens. It needs a checkpoint trained with CLIP's vocabulary (IRRA's best.pth and CLIP's own checkpoints are; the demo's word-vocabulary model, or a train checkpoint made with another tokenizer, is not).`,
      );
    }
    const search = await PersonSearch.create({ model, tokenizer, batchSize: PAGE_DEFAULTS.batch });
    ownSession = { model, search, name: file.name, files: new Map(), urls: new Map() };
  } catch (e) {
    model.dispose();
    throw e;
  }
  const c = model.config;
  const notes = [...model.warnings];
  if (!model.crossModal) {
    notes.push('CLIP-only model: it has no IRR fusion encoder, so the results come without cross-attention heat maps.');
  }
  own.note.textContent = notes.join('\n');
  own.note.dataset.fusion = String(model.crossModal !== null);
  setOwnStatus(
    `${file.name} loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s: ViT ${c.visionLayers}×${c.visionWidth}, patch ${c.visionPatchSize}, stride ${c.strideSize}, images ${c.imageSize[0]}×${c.imageSize[1]}, ${c.embedDim}-d features${model.crossModal ? ', with the fusion encoder' : ', CLIP towers only'}. ${waitingImages.length ? '' : 'Now choose a folder of images or drop them here.'}`,
    'loaded',
  );
  if (waitingImages.length) {
    const images = waitingImages;
    waitingImages = [];
    await indexOwnImages(images);
  }
}

/** Files whose names look like images, with ids (a relative path where known, else the name); first of each id wins. */
function imageEntries(files: Array<{ id: string; file: File }>): Array<{ id: string; file: File }> {
  const seen = new Set<string>();
  return files.filter(({ id, file }) => {
    if (!PAGE_DEFAULTS.imagePattern.test(file.name) || seen.has(id)) return false;
    seen.add(id);
    return true;
  });
}

const fileEntry = (file: File) => ({
  id: (file as File & { webkitRelativePath?: string }).webkitRelativePath || file.name,
  file,
});

async function indexOwnImages(chosen: Array<{ id: string; file: File }>): Promise<void> {
  const images = imageEntries(chosen);
  if (images.length === 0) throw new Error(`none of the ${chosen.length} files chosen is an image (png, jpg, webp)`);
  const session = ownSession;
  if (!session) {
    waitingImages = images;
    setOwnStatus(`${images.length} images chosen: load a checkpoint to index them`, 'idle');
    return;
  }
  setOwnStatus(`indexing ${images.length} images…`, 'indexing');
  own.progress.max = images.length;
  own.progress.value = 0;
  own.rate.textContent = '';
  const report = await session.search.addImages(
    images.map((x) => x.file),
    {
      ids: images.map((x) => x.id),
      skipInvalid: true,
      skipExisting: true,
      onProgress: (p) => {
        own.progress.value = p.done;
        own.rate.textContent = `${p.done}/${p.total} · ${p.imagesPerSecond.toFixed(1)} images/s${p.etaSeconds !== null && p.done < p.total ? ` · ${Math.ceil(p.etaSeconds)} s left` : ''}`;
      },
    },
  );
  if (ownSession !== session) return;
  for (const x of images) if (!session.files.has(x.id)) session.files.set(x.id, x.file);
  for (const bad of report.invalid) session.files.delete(bad.id);
  const rate = report.added / Math.max(report.seconds, 1e-9);
  own.progress.value = own.progress.max;
  own.rate.textContent = `${images.length}/${images.length} · ${rate.toFixed(1)} images/s`;
  const skipped = [
    report.existing.length ? `${report.existing.length} already indexed` : '',
    report.invalid.length
      ? `${report.invalid.length} could not be read (${report.invalid
          .slice(0, 3)
          .map((x) => `${x.id}: ${x.error}`)
          .join('; ')})`
      : '',
  ].filter(Boolean);
  setOwnStatus(
    `indexed ${report.added} images in ${report.seconds.toFixed(1)} s (${rate.toFixed(1)} images/s); gallery of ${session.search.size}${skipped.length ? `; ${skipped.join('; ')}` : ''}. Type a description above.`,
    'indexed',
  );
  galleries.own = ownGallery(session);
  activate(galleries.own);
}

function ownGallery(session: OwnSession): Gallery {
  return {
    kind: 'own',
    model: session.model,
    search: session.search,
    summary: `your gallery of ${session.search.size} images, ${session.name}`,
    picture: (id) => {
      const img = document.createElement('img');
      let url = session.urls.get(id);
      const file = session.files.get(id);
      if (!url && file) {
        url = URL.createObjectURL(file);
        session.urls.set(id, url);
      }
      if (url) img.src = url;
      img.alt = id;
      return img;
    },
    annotate: (card, id) => {
      card.title = id;
      return id;
    },
    remark: () => '',
  };
}

/** The files of a drop: folders are walked (ids are their paths), plain files keep their names. */
async function droppedFiles(dt: DataTransfer): Promise<Array<{ id: string; file: File }>> {
  // entries must be taken while the event is being handled
  const entries = Array.from(dt.items)
    .map((item) => (item.kind === 'file' ? item.webkitGetAsEntry() : null))
    .filter((e): e is FileSystemEntry => e !== null);
  if (entries.length === 0) return Array.from(dt.files).map(fileEntry);
  const out: Array<{ id: string; file: File }> = [];
  const walk = async (entry: FileSystemEntry): Promise<void> => {
    if (entry.isFile) {
      const file = await new Promise<File>((ok, fail) => (entry as FileSystemFileEntry).file(ok, fail));
      out.push({ id: entry.fullPath.replace(/^\//, ''), file });
    } else if (entry.isDirectory) {
      const reader = (entry as FileSystemDirectoryEntry).createReader();
      for (;;) {
        const batch = await new Promise<FileSystemEntry[]>((ok, fail) => reader.readEntries(ok, fail));
        if (batch.length === 0) break;
        for (const e of batch) await walk(e);
      }
    }
  };
  for (const e of entries) await walk(e);
  return out;
}

function failOwn(e: unknown): void {
  console.warn(e);
  setOwnStatus(`error: ${errorText(e)}`, 'error');
}

function wireOwn(): void {
  own.checkpoint.addEventListener('change', () => {
    own.load.disabled = !own.checkpoint.files?.length || !backendChosen;
  });
  own.load.addEventListener('click', () => {
    own.load.disabled = true;
    loadOwnCheckpoint()
      .catch(failOwn)
      .finally(() => {
        own.load.disabled = !own.checkpoint.files?.length || !backendChosen;
      });
  });
  for (const input of [own.folder, own.files]) {
    input.addEventListener('change', () => {
      const files = Array.from(input.files ?? []);
      input.value = '';
      if (files.length) indexOwnImages(files.map(fileEntry)).catch(failOwn);
    });
  }
  own.drop.addEventListener('dragover', (ev) => {
    ev.preventDefault();
    own.drop.dataset.over = 'true';
  });
  own.drop.addEventListener('dragleave', () => {
    own.drop.dataset.over = 'false';
  });
  own.drop.addEventListener('drop', (ev) => {
    ev.preventDefault();
    own.drop.dataset.over = 'false';
    if (!ev.dataTransfer) return;
    droppedFiles(ev.dataTransfer)
      .then((files) => indexOwnImages(files))
      .catch(failOwn);
  });
}

// ---------------------------------------------------------------- searching

/** Lists the galleries one can switch between beside the query box. */
function refreshGalleryChoice(): void {
  galleryNameEl.replaceChildren();
  const available = [galleries.demo, galleries.own].filter((g): g is Gallery => g !== null);
  if (!active) return;
  galleryNameEl.append(`searching ${active.kind === 'demo' ? 'the demo gallery' : 'your gallery'}`);
  for (const g of available) {
    if (g === active) continue;
    const b = document.createElement('button');
    b.type = 'button';
    b.id = `use-${g.kind}`;
    b.textContent = g.kind === 'demo' ? 'use the demo gallery' : 'use your gallery';
    b.addEventListener('click', () => activate(g));
    galleryNameEl.append(' · ', b);
  }
}

function activate(g: Gallery | null): void {
  active = g;
  refreshGalleryChoice();
  queryEl.disabled = !g;
  searchEl.disabled = !g;
  if (!g) return;
  lastShown = '';
  setStatus(`ready · ${g.summary}`, 'ready');
  const text = queryEl.value.trim();
  if (text) requestSearch(text, true);
}

let searching = false;
let pending: { text: string; force: boolean } | null = null;
/** The query and gallery the results show, so the same query is not searched twice in a row. */
let lastShown = '';
let debounce: ReturnType<typeof setTimeout> | undefined;

/** Searches `text` now, or after the search in progress (only the latest request waits). */
function requestSearch(text: string, force = false): void {
  pending = { text, force: force || pending?.force === true };
  if (searching) return;
  searching = true;
  (async () => {
    while (pending) {
      const next = pending;
      pending = null;
      const g = active;
      if (!g || !next.text) continue;
      const key = `${g.kind}\n${next.text}\n${showAttentionEl.checked}`;
      if (!next.force && key === lastShown) continue;
      await runSearch(g, next.text);
      lastShown = key;
    }
  })()
    .catch(fail)
    .finally(() => {
      searching = false;
    });
}

async function runSearch(g: Gallery, text: string): Promise<void> {
  setStatus('searching…', 'busy');
  const tq = performance.now();
  unknownEl.textContent = g.remark(text);
  const params = new URLSearchParams(location.search);
  const k = Number(params.get('k') ?? PAGE_DEFAULTS.topK);
  const hits: SearchHit[] = await g.search.search(text, { k });
  const withHeat = showAttentionEl.checked && g.model.crossModal !== null;
  const { width, height, scale } = frameSize(g.model);
  const c = g.model.config;
  const cards: HTMLElement[] = [];
  for (const hit of hits) {
    const card = document.createElement('div');
    card.className = 'result';
    card.dataset.id = hit.id;
    card.dataset.rank = String(hit.rank);
    card.dataset.score = String(hit.score);
    card.style.width = `${width}px`;
    const frame = document.createElement('div');
    frame.className = 'frame';
    frame.style.width = `${width}px`;
    frame.style.height = `${height}px`;
    frame.append(g.picture(hit.id));
    if (withHeat) {
      const e = await g.search.explain(text, hit.id);
      const heat = document.createElement('canvas');
      heat.className = 'heat';
      drawHeat(
        heat,
        e.map,
        { grid: e.grid, patch: c.visionPatchSize, stride: c.strideSize, imageSize: e.imageSize },
        scale,
      );
      frame.append(heat);
    }
    const label = document.createElement('div');
    const rank = document.createElement('span');
    rank.className = 'rank';
    rank.textContent = `#${hit.rank}`;
    label.append(rank, ` score ${hit.score.toFixed(3)}`);
    const about = document.createElement('div');
    about.className = 'attrs';
    about.textContent = g.annotate(card, hit.id);
    card.append(frame, label, about);
    cards.push(card);
  }
  resultsEl.replaceChildren(...cards);
  resultsEl.dataset.gallery = g.kind;
  resultsEl.dataset.query = text;
  const note = g.model.crossModal ? '' : ' · no heat maps (CLIP-only model)';
  setStatus(`ready · ${g.summary} · query ${((performance.now() - tq) / 1000).toFixed(2)} s${note}`, 'ready');
}

function wireQuery(): void {
  $<HTMLFormElement>('query-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    clearTimeout(debounce);
    requestSearch(queryEl.value.trim());
  });
  queryEl.addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => requestSearch(queryEl.value.trim()), PAGE_DEFAULTS.debounceMs);
  });
  showAttentionEl.addEventListener('change', () => requestSearch(queryEl.value.trim(), true));
}

// ---------------------------------------------------------------- start

async function start(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const wanted = params.get('backend')?.split(',').filter(Boolean) ?? [...PAGE_DEFAULTS.backends];
  wireQuery();
  wireOwn();
  setStatus('choosing a backend…', 'loading');
  const backend = await chooseBackend(wanted);
  backendEl.textContent = backend.name;
  backendEl.dataset.backend = backend.name;
  if (backend.notes.length) backendEl.title = `not used: ${backend.notes.join('; ')}`;
  const d = await describeBackend();
  backendDetailEl.dataset.threads = d.threads === undefined ? '' : String(d.threads);
  backendDetailEl.dataset.isolated = String(globalThis.crossOriginIsolated === true);
  backendDetailEl.textContent = [
    d.threads !== undefined ? `${d.threads} wasm thread${d.threads === 1 ? '' : 's'}${d.simd ? ', SIMD' : ''}` : '',
    globalThis.crossOriginIsolated ? 'cross-origin isolated' : 'not cross-origin isolated (wasm runs one thread)',
  ]
    .filter(Boolean)
    .join(' · ');
  backendChosen = true;
  own.load.disabled = !own.checkpoint.files?.length;

  setStatus('loading the demo model…', 'loading');
  try {
    galleries.demo = await loadDemo();
  } catch (e) {
    console.warn(e);
    setStatus(
      `no demo model here (${errorText(e)}; run npm run demo:export before building) — open your own checkpoint below`,
      'idle',
    );
    return;
  }
  if (!active) activate(galleries.demo);
  else refreshGalleryChoice();
  if (active === galleries.demo) queryEl.focus();
}

function fail(e: unknown): void {
  console.error(e);
  setStatus(`error: ${errorText(e)}`, 'error');
}

start().catch(fail);
