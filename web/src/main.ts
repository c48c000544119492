/**
 * The demo page: loads the model exported by `npm run demo:export` (web/public/model/), encodes the
 * held-out SynthPedes gallery once, then ranks it for the description typed in the text box and
 * draws the fusion encoder's cross-attention of the description over every shown result.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgl';
import '@tensorflow/tfjs-backend-webgpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import wasmPlain from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimd from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreaded from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import type { DemoExportGallery, DemoExportManifest, DemoExportVocabulary } from '../../src/cli/demo_export';
import { buildTransforms, crossAttentionMap, IRRA, type IRRAConfig, loadWeights, selectBackend } from '../../src/index';
import { heatColor, rankTopK } from './ranking';
import { pageVocabulary } from './vocabulary';

/** Settings of the page. */
const PAGE_DEFAULTS = {
  /** Backends tried in order (override with `?backend=webgl,wasm`). */
  backends: ['webgpu', 'webgl', 'wasm'],
  /** Results shown (override with `?k=`). */
  topK: 10,
  /** Images per gallery encoding batch. */
  batch: 32,
  /** Display scale of the gallery images. */
  scale: 4,
} as const;

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const statusEl = $<HTMLSpanElement>('status');
const backendEl = $<HTMLElement>('backend');
const queryEl = $<HTMLInputElement>('query');
const searchEl = $<HTMLButtonElement>('search');
const resultsEl = $<HTMLElement>('results');
const unknownEl = $<HTMLParagraphElement>('unknown');
const showAttentionEl = $<HTMLInputElement>('show-attention');

function setStatus(text: string, state: 'loading' | 'ready' | 'busy' | 'error'): void {
  statusEl.textContent = text;
  statusEl.dataset.state = state;
}

async function fetchJson<T>(url: string): Promise<T> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status} (run npm run demo:export first)`);
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
      notes.push(`${name}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
    }
  }
  throw new Error(`no tfjs backend works here: ${notes.join('; ')}`);
}

/** Draws HWC uint8 RGB pixels on a canvas of the image's own size. */
function drawPixels(canvas: HTMLCanvasElement, pixels: Uint8Array, h: number, w: number): void {
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext('2d') as CanvasRenderingContext2D;
  const img = ctx.createImageData(w, h);
  for (let i = 0, j = 0; i < h * w; i++, j += 3) {
    img.data[i * 4] = pixels[j];
    img.data[i * 4 + 1] = pixels[j + 1];
    img.data[i * 4 + 2] = pixels[j + 2];
    img.data[i * 4 + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

/**
 * Draws a `[gridY, gridX]` attention map (min–max scaled) as a translucent heat overlay covering
 * the patches (patch `p`, stride `s`) of an `h × w` image, smoothly upscaled.
 */
function drawHeat(
  canvas: HTMLCanvasElement,
  map: Float32Array,
  grid: [number, number],
  patch: number,
  stride: number,
  h: number,
  w: number,
): void {
  const [gy, gx] = grid;
  const small = document.createElement('canvas');
  small.width = gx;
  small.height = gy;
  const sctx = small.getContext('2d') as CanvasRenderingContext2D;
  const img = sctx.createImageData(gx, gy);
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const v of map) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  for (let i = 0; i < gy * gx; i++) {
    const t = hi > lo ? (map[i] - lo) / (hi - lo) : 0;
    const [r, g, b] = heatColor(t);
    img.data.set([r, g, b, Math.round(255 * 0.6 * t)], i * 4);
  }
  sctx.putImageData(img, 0, 0);
  const scale = PAGE_DEFAULTS.scale * 4;
  canvas.width = w * scale;
  canvas.height = h * scale;
  const ctx = canvas.getContext('2d') as CanvasRenderingContext2D;
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'high';
  // patch centres sit at stride·i + patch/2: stretch the grid so that cell centres land there
  const x0 = (patch / 2 - stride / 2) * scale;
  const y0 = (patch / 2 - stride / 2) * scale;
  ctx.drawImage(small, x0, y0, gx * stride * scale, gy * stride * scale);
}

async function start(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const wanted = params.get('backend')?.split(',').filter(Boolean) ?? [...PAGE_DEFAULTS.backends];
  const topK = Number(params.get('k') ?? PAGE_DEFAULTS.topK);

  setStatus('choosing a backend…', 'loading');
  const backend = await chooseBackend(wanted);
  backendEl.textContent = backend.name;
  backendEl.dataset.backend = backend.name;
  if (backend.notes.length) backendEl.title = `not used: ${backend.notes.join('; ')}`;

  setStatus('loading the model…', 'loading');
  const base = new URL('model/', location.href).href;
  const [config, vocabJson, gallery, manifest] = await Promise.all([
    fetchJson<IRRAConfig>(`${base}config.json`),
    fetchJson<DemoExportVocabulary>(`${base}vocab.json`),
    fetchJson<DemoExportGallery>(`${base}gallery.json`),
    fetchJson<DemoExportManifest>(`${base}export.json`),
  ]);
  const vocab = pageVocabulary(vocabJson);
  const model = IRRA.create(config, { seed: 0 });
  const weights = await loadWeights(`${base}model.json`);
  model.loadStateDict(weights);
  tf.dispose([...weights.values()]);
  const pixelsResponse = await fetch(`${base}gallery.bin`);
  if (!pixelsResponse.ok) throw new Error(`${base}gallery.bin: HTTP ${pixelsResponse.status}`);
  const pixels = new Uint8Array(await pixelsResponse.arrayBuffer());
  const { height: h, width: w, count } = gallery;
  if (pixels.length !== count * h * w * 3) {
    throw new Error(`gallery.bin holds ${pixels.length} bytes, expected ${count} × ${h} × ${w} × 3`);
  }
  $<HTMLSpanElement>('metrics').textContent =
    `trained R1 ${manifest.trained.R1.toFixed(1)}% · untrained ${manifest.untrained.R1.toFixed(1)}% · chance ${manifest.chanceR1.toFixed(1)}% (held-out identities)`;

  const transform = buildTransforms({ imageSize: [h, w], isTrain: false });
  const imageOf = (i: number) => pixels.subarray(i * h * w * 3, (i + 1) * h * w * 3);
  const imageTensor = (indices: number[]): tf.Tensor4D =>
    tf.tidy(() => tf.stack(indices.map((i) => transform({ data: imageOf(i), height: h, width: w }))) as tf.Tensor4D);

  const t0 = performance.now();
  const parts: tf.Tensor2D[] = [];
  for (let i = 0; i < count; i += PAGE_DEFAULTS.batch) {
    setStatus(`encoding the gallery… ${i}/${count}`, 'loading');
    const idx = Array.from({ length: Math.min(PAGE_DEFAULTS.batch, count - i) }, (_, j) => i + j);
    const images = imageTensor(idx);
    const feats = model.encodeImage(images);
    parts.push(tf.tidy(() => tf.div(feats, tf.norm(feats, 'euclidean', 1, true)) as tf.Tensor2D));
    tf.dispose([images, feats]);
    await parts[parts.length - 1].data();
  }
  const galleryFeats = tf.concat(parts) as tf.Tensor2D;
  tf.dispose(parts);
  const encodeSeconds = (performance.now() - t0) / 1000;

  let running = false;
  const search = async (): Promise<void> => {
    const text = queryEl.value.trim();
    if (!text || running) return;
    running = true;
    searchEl.disabled = true;
    try {
      await rank(text);
    } finally {
      running = false;
      searchEl.disabled = false;
    }
  };

  const rank = async (text: string): Promise<void> => {
    setStatus('searching…', 'busy');
    const tq = performance.now();
    const unknown = vocab.unknownWords(text);
    unknownEl.textContent = unknown.length ? `not in the vocabulary (ignored as unknown): ${unknown.join(', ')}` : '';
    const ids = vocab.toIds(text);
    const sims = tf.tidy(() => {
      const t = model.encodeText(tf.tensor2d(ids, [1, vocab.contextLength], 'int32'));
      const tn = tf.div(t, tf.norm(t, 'euclidean', 1, true));
      return tf.reshape(tf.matMul(galleryFeats, tn, false, true), [count]);
    });
    const scores = await sims.data();
    sims.dispose();
    const top = rankTopK(scores, topK);
    let maps: Float32Array | null = null;
    const grid: [number, number] = [model.visual.gridY, model.visual.gridX];
    if (showAttentionEl.checked) {
      const images = imageTensor(top);
      const rows = new Int32Array(top.length * vocab.contextLength);
      for (let r = 0; r < top.length; r++) rows.set(ids, r * vocab.contextLength);
      const idsT = tf.tensor2d(rows, [top.length, vocab.contextLength], 'int32');
      const m = crossAttentionMap(model, images, idsT);
      maps = (await m.data()) as Float32Array;
      tf.dispose([images, idsT, m]);
    }
    resultsEl.replaceChildren();
    resultsEl.dataset.query = text;
    top.forEach((gi, rank) => {
      const item = gallery.items[gi];
      const a = item.attributes;
      const card = document.createElement('div');
      card.className = 'result';
      card.dataset.index = String(gi);
      card.dataset.pid = String(item.pid);
      card.dataset.score = scores[gi].toFixed(4);
      card.title = item.captions.join('\n');
      const frame = document.createElement('div');
      frame.className = 'frame';
      frame.style.width = `${w * PAGE_DEFAULTS.scale}px`;
      frame.style.height = `${h * PAGE_DEFAULTS.scale}px`;
      card.style.width = `${w * PAGE_DEFAULTS.scale}px`;
      const pic = document.createElement('canvas');
      drawPixels(pic, imageOf(gi), h, w);
      frame.append(pic);
      if (maps) {
        const heat = document.createElement('canvas');
        heat.className = 'heat';
        const size = grid[0] * grid[1];
        drawHeat(
          heat,
          maps.subarray(rank * size, (rank + 1) * size),
          grid,
          config.visionPatchSize,
          config.strideSize,
          h,
          w,
        );
        frame.append(heat);
      }
      const label = document.createElement('div');
      label.innerHTML = `<span class="rank">#${rank + 1}</span> score ${scores[gi].toFixed(3)} · person ${item.pid}`;
      const attrs = document.createElement('div');
      attrs.className = 'attrs';
      attrs.textContent = `${a.gender}; ${a.upper.color} ${a.upper.type}; ${a.lower.color} ${a.lower.type}${a.bag ? `; ${a.bag.color} ${a.bag.type}` : ''}${a.hat ? `; ${a.hat.color} cap` : ''}`;
      card.append(frame, label, attrs);
      resultsEl.append(card);
    });
    setStatus(
      `ready · gallery of ${count} images encoded in ${encodeSeconds.toFixed(1)} s · query ${((performance.now() - tq) / 1000).toFixed(2)} s`,
      'ready',
    );
  };

  $<HTMLFormElement>('query-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    search().catch(fail);
  });
  showAttentionEl.addEventListener('change', () => {
    search().catch(fail);
  });
  queryEl.disabled = false;
  searchEl.disabled = false;
  setStatus(`ready · gallery of ${count} images encoded in ${encodeSeconds.toFixed(1)} s`, 'ready');
  queryEl.focus();
}

function fail(e: unknown): void {
  console.error(e);
  setStatus(`error: ${e instanceof Error ? e.message : String(e)}`, 'error');
}

start().catch(fail);
