/**
 * The page of `irra-tfjs search --html`: one self-contained HTML file (no external resource) with,
 * per query, its hits as inline thumbnails (PNG data: URLs), their cosine scores, and the query's
 * cross-attention map (`PersonSearch.explain`) drawn over each hit as a translucent PNG overlay.
 */
import { PNG } from 'pngjs';
import type { DecodedImage } from '../data/image';
import { resizeBilinearPil } from '../data/transforms';

/** Defaults of the search page. */
export const SEARCH_HTML_DEFAULTS = Object.freeze({
  /** Thumbnail height in pixels (the width keeps the image's aspect ratio). */
  thumbnailHeight: 192,
  /** Opacity of the heat map where the attention is largest (0 where it is smallest). */
  heatOpacity: 0.65,
});

/** One hit on the page. */
export interface PageHit {
  id: string;
  /** Cosine similarity, written as the JSON output writes it (`String(score)`) and shown to 4 decimals. */
  score: number;
  rank: number;
  /** Thumbnail data: URL, or null with `error` when the image could not be read. */
  thumbnail: string | null;
  /** Heat map overlay data: URL (null when the model has no fusion encoder or it failed). */
  heatmap: string | null;
  /** Why the thumbnail or heat map is missing. */
  error?: string;
}

/** Everything the page shows. */
export interface SearchPage {
  /** The checkpoint, for the heading. */
  checkpoint: string;
  /** The gallery (`--index 'FILE'` or `--store lancedb://DIR`), for the heading. */
  index: string;
  /** Why there are no heat maps at all (a CLIP-only checkpoint), or null. */
  noHeatmaps: string | null;
  queries: Array<{ query: string; hits: PageHit[] }>;
}

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

const pngDataUrl = (png: PNG): string => `data:image/png;base64,${PNG.sync.write(png).toString('base64')}`;

/** A PNG data: URL of `image` scaled (Pillow's bilinear) to `height` rows, keeping its aspect ratio. */
export function thumbnailDataUrl(image: DecodedImage, height: number = SEARCH_HTML_DEFAULTS.thumbnailHeight): string {
  const h = Math.min(height, image.height);
  const w = Math.max(1, Math.round((image.width * h) / image.height));
  const small = resizeBilinearPil(image, [h, w]);
  const png = new PNG({ width: w, height: h });
  for (let i = 0; i < w * h; i++) {
    png.data[i * 4] = small.data[i * 3];
    png.data[i * 4 + 1] = small.data[i * 3 + 1];
    png.data[i * 4 + 2] = small.data[i * 3 + 2];
    png.data[i * 4 + 3] = 255;
  }
  return pngDataUrl(png);
}

/** Blue → cyan → yellow → red for t in [0, 1]. */
function heatColour(t: number): [number, number, number] {
  const stops: Array<[number, number, number]> = [
    [40, 60, 220],
    [40, 200, 230],
    [250, 230, 40],
    [230, 30, 30],
  ];
  const x = Math.min(Math.max(t, 0), 1) * (stops.length - 1);
  const i = Math.min(Math.floor(x), stops.length - 2);
  const f = x - i;
  const [a, b] = [stops[i], stops[i + 1]];
  return [0, 1, 2].map((c) => Math.round(a[c] + (b[c] - a[c]) * f)) as [number, number, number];
}

/**
 * A PNG data: URL of a cross-attention map on its patch grid (row-major `[grid[0], grid[1]]`),
 * min-max scaled, coloured and made transparent where the attention is low. The page stretches
 * it over the whole thumbnail: the model saw the whole image resized to its image size.
 */
export function heatmapDataUrl(map: Float32Array, grid: readonly [number, number]): string {
  const [rows, cols] = grid;
  if (map.length !== rows * cols) {
    throw new Error(`heatmapDataUrl: map has ${map.length} values for a ${rows}×${cols} grid`);
  }
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (const v of map) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  const span = hi - lo > 0 ? hi - lo : 1;
  const png = new PNG({ width: cols, height: rows });
  for (let i = 0; i < map.length; i++) {
    const t = (map[i] - lo) / span;
    const [r, g, b] = heatColour(t);
    png.data.set([r, g, b, Math.round(255 * SEARCH_HTML_DEFAULTS.heatOpacity * t)], i * 4);
  }
  return pngDataUrl(png);
}

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;background:#fafafa}
h1{font-size:20px;margin:0 0 4px}
.meta{color:#666;margin:0 0 16px}
.note{background:#fff4d6;border:1px solid #e6c86e;padding:8px 12px;border-radius:6px}
section.query{margin:24px 0;padding:12px 16px;background:#fff;border:1px solid #ddd;border-radius:8px}
section.query h2{font-size:16px;margin:0 0 12px}
ol.hits{list-style:none;display:flex;flex-wrap:wrap;gap:12px;margin:0;padding:0}
li.hit figure{margin:0;width:min-content}
.frame{position:relative;display:inline-block;line-height:0;background:#eee}
.frame img.thumb{display:block;height:${SEARCH_HTML_DEFAULTS.thumbnailHeight}px;width:auto}
.frame img.heatmap{position:absolute;left:0;top:0;width:100%;height:100%;image-rendering:auto}
#show-heat:not(:checked)~section img.heatmap{display:none}
figcaption{font-size:12px;margin-top:4px;white-space:nowrap}
.rank{font-weight:600}.score{font-variant-numeric:tabular-nums}.id{color:#555}
.missing{color:#a00}
`;

function renderHit(hit: PageHit): string {
  const frame =
    hit.thumbnail === null
      ? `<div class="frame missing">${escapeHtml(hit.error ?? 'image unavailable')}</div>`
      : `<div class="frame"><img class="thumb" src="${hit.thumbnail}" alt="${escapeHtml(hit.id)}">${
          hit.heatmap === null ? '' : `<img class="heatmap" src="${hit.heatmap}" alt="cross-attention map">`
        }</div>`;
  const note = hit.thumbnail !== null && hit.error ? `<div class="missing">${escapeHtml(hit.error)}</div>` : '';
  return `<li class="hit" data-id="${escapeHtml(hit.id)}" data-rank="${hit.rank}" data-score="${String(hit.score)}"><figure>${frame}<figcaption><span class="rank">#${hit.rank}</span> <span class="score">${hit.score.toFixed(4)}</span> <span class="id">${escapeHtml(hit.id)}</span>${note}</figcaption></figure></li>`;
}

/** The whole page as one HTML string (inline style, inline images, no script, no external resource). */
export function renderSearchPage(page: SearchPage): string {
  const sections = page.queries.map(
    (q, i) =>
      `<section class="query" data-query="${escapeHtml(q.query)}"><h2>${i + 1}. “${escapeHtml(q.query)}”</h2><ol class="hits">${q.hits
        .map(renderHit)
        .join('')}</ol></section>`,
  );
  const heat =
    page.noHeatmaps === null
      ? '<input type="checkbox" id="show-heat" checked> <label for="show-heat">cross-attention heat maps</label>'
      : `<p class="note no-heatmaps">${escapeHtml(page.noHeatmaps)}</p>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>irra-tfjs search</title>
<meta name="viewport" content="width=device-width,initial-scale=1"><style>${STYLE}</style></head>
<body><h1>irra-tfjs search</h1><p class="meta">checkpoint ${escapeHtml(page.checkpoint)} · gallery ${escapeHtml(page.index)} · score = cosine similarity</p>
${heat}
${sections.join('\n')}
</body></html>
`;
}
