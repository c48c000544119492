/** Drawing for the page: gallery pixels and cross-attention heat overlays. */

/** A heat colour for `t` in [0, 1]: dark blue → cyan → yellow → red, as 8-bit RGB. */
export function heatColor(t: number): [number, number, number] {
  const stops: [number, number, number][] = [
    [20, 30, 140],
    [0, 190, 230],
    [250, 230, 40],
    [220, 20, 20],
  ];
  const x = Math.min(1, Math.max(0, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const [a, b] = [stops[i], stops[i + 1]];
  return [0, 1, 2].map((c) => Math.round(a[c] + (b[c] - a[c]) * f)) as [number, number, number];
}

/** Draws HWC uint8 RGB pixels on a canvas of the image's own size. */
export function drawPixels(canvas: HTMLCanvasElement, pixels: Uint8Array, h: number, w: number): void {
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

/** Where a heat map lies: the patch grid, the patch size and stride, the model's image size. */
export interface HeatGeometry {
  grid: [number, number];
  patch: number;
  stride: number;
  imageSize: [number, number];
}

/**
 * Draws a `[gridY, gridX]` attention map (min–max scaled) as a translucent heat overlay on a
 * canvas of `pixelsPerPixel` canvas pixels per model-image pixel, covering the patches, smoothly
 * upscaled.
 */
export function drawHeat(canvas: HTMLCanvasElement, map: Float32Array, g: HeatGeometry, pixelsPerPixel: number): void {
  const [gy, gx] = g.grid;
  const [h, w] = g.imageSize;
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
    const [r, gr, b] = heatColor(t);
    img.data.set([r, gr, b, Math.round(255 * 0.6 * t)], i * 4);
  }
  sctx.putImageData(img, 0, 0);
  const scale = pixelsPerPixel;
  canvas.width = Math.round(w * scale);
  canvas.height = Math.round(h * scale);
  const ctx = canvas.getContext('2d') as CanvasRenderingContext2D;
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'high';
  // patch centres sit at stride·i + patch/2: stretch the grid so that cell centres land there
  const offset = (g.patch / 2 - g.stride / 2) * scale;
  ctx.drawImage(small, offset, offset, gx * g.stride * scale, gy * g.stride * scale);
}
