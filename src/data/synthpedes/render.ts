/**
 * The SynthPedes painter: draws one person of given attributes into an HWC RGB pixel buffer, with
 * per-image pose, background, occlusion and lighting. Shapes are signed-distance primitives with a
 * one-pixel soft edge (anti-aliasing) and cylinder-like shading, rasterised over their bounding
 * boxes only, so an image is cheap to draw (docs/performance.md). Only correctly rounded arithmetic
 * (+ − × ÷ √) is used, so the bytes are the same on every JavaScript engine.
 */
import type { PersonAttributes } from './attributes';
import { GARMENT_RGB, HAIR_RGB, type Rgb, SKIN_RGB } from './palette';
import type { SynthRng } from './rng';

/** What varies between the images of one identity; stored with each sample. */
export interface SynthVariation {
  /** Horizontal offset of the figure's centre from the image centre, in pixels. */
  shiftX: number;
  /** Figure height (head top to soles) as a fraction of the image height. */
  scale: number;
  /** Sideways lean: horizontal offset of the head relative to the feet, in figure heights. */
  lean: number;
  /** Whether the figure is mirrored left–right. */
  flip: boolean;
  /** Seen from the front (face visible) or from the back (hair and backpack in full view). */
  view: 'front' | 'back';
  /** Global brightness factor (1 = as drawn). */
  brightness: number;
  /** Global contrast factor around mid-grey (1 = as drawn). */
  contrast: number;
  /** What, if anything, hides part of the person. */
  occlusion: 'none' | 'pole' | 'ground';
}

/** A pixel box `[x0, y0, x1, y1]`: columns x0..x1−1, rows y0..y1−1, clipped to the image. */
export type PixelBox = readonly [number, number, number, number];

/**
 * Where the person's parts were drawn in an image: small boxes that lie inside the part (for
 * checks and attention maps), not tight bounding boxes.
 */
export interface SynthRegions {
  /** Inside the head: the face in front views, the back of the head in back views. */
  head: PixelBox;
  /**
   * Inside the upper garment: one side of the chest and belly (may contain a bag strap); in back
   * views with a backpack, the strip below the pack (the skirt part, for a dress).
   */
  upper: PixelBox;
  /** Inside the lower garment: the skirt, the shorts, or one lower leg (trousers, jeans, leggings). */
  lower: PixelBox;
  /** Around one shoe. */
  shoes: PixelBox;
}

/** Body-space point: x in figure heights from the body axis (+ = the figure's left), y from head top. */
type Pt = readonly [number, number];
type Col = readonly [number, number, number];

const toCol = (c: Rgb, f = 1): Col => [(c[0] / 255) * f, (c[1] / 255) * f, (c[2] / 255) * f];
const mix = (a: Col, b: Col, t: number): Col => [
  a[0] + (b[0] - a[0]) * t,
  a[1] + (b[1] - a[1]) * t,
  a[2] + (b[2] - a[2]) * t,
];

/** Shading across a rounded surface: u in [−1, 1] from the left edge to the right edge (light from the left). */
function shadeAcross(u: number): number {
  const v = Math.max(-1, Math.min(1, u));
  return 1.04 - 0.12 * v - 0.24 * v * v;
}

/** Working buffer reused across images of the same size (every pixel is overwritten by the background). */
let scratch = new Float32Array(0);

/** A float HWC RGB image in [0, 1] with signed-distance painting. */
class Canvas {
  readonly data: Float32Array;
  constructor(
    readonly h: number,
    readonly w: number,
  ) {
    if (scratch.length !== h * w * 3) scratch = new Float32Array(h * w * 3);
    this.data = scratch;
  }

  /**
   * Blends `color` (scaled by `shade(x, y)`) into every pixel whose centre has signed distance
   * `sdf(x, y) < 0.5` px, with coverage `0.5 − sdf` clamped to [0, 1]; only pixels inside the
   * box are visited.
   */
  paint(
    bx0: number,
    by0: number,
    bx1: number,
    by1: number,
    sdf: (x: number, y: number) => number,
    color: Col,
    shade: ((x: number, y: number) => number) | null,
  ): void {
    const x0 = Math.max(0, Math.floor(bx0 - 1));
    const y0 = Math.max(0, Math.floor(by0 - 1));
    const x1 = Math.min(this.w, Math.ceil(bx1 + 1));
    const y1 = Math.min(this.h, Math.ceil(by1 + 1));
    const d = this.data;
    for (let y = y0; y < y1; y++) {
      const cy = y + 0.5;
      for (let x = x0; x < x1; x++) {
        const cx = x + 0.5;
        const dist = sdf(cx, cy);
        if (dist >= 0.5) continue;
        const a = dist <= -0.5 ? 1 : 0.5 - dist;
        const f = shade ? shade(cx, cy) : 1;
        const o = (y * this.w + x) * 3;
        d[o] += (color[0] * f - d[o]) * a;
        d[o + 1] += (color[1] * f - d[o + 1]) * a;
        d[o + 2] += (color[2] * f - d[o + 2]) * a;
      }
    }
  }

  rect(x0: number, y0: number, x1: number, y1: number, color: Col, shade: ((x: number, y: number) => number) | null) {
    const cx = (x0 + x1) / 2;
    const cy = (y0 + y1) / 2;
    const hx = (x1 - x0) / 2;
    const hy = (y1 - y0) / 2;
    this.paint(x0, y0, x1, y1, (x, y) => Math.max(Math.abs(x - cx) - hx, Math.abs(y - cy) - hy), color, shade);
  }

  ellipse(cx: number, cy: number, rx: number, ry: number, color: Col, shaded: boolean, clipBelow = Infinity) {
    const m = Math.min(rx, ry);
    this.paint(
      cx - rx,
      cy - ry,
      cx + rx,
      Math.min(cy + ry, clipBelow),
      (x, y) => {
        const dx = (x - cx) / rx;
        const dy = (y - cy) / ry;
        const e = (Math.sqrt(dx * dx + dy * dy) - 1) * m;
        return clipBelow === Infinity ? e : Math.max(e, y - clipBelow);
      },
      color,
      shaded ? (x, y) => shadeAcross((x - cx) / rx) - 0.06 * ((y - cy) / ry) : null,
    );
  }

  capsule(ax: number, ay: number, bx: number, by: number, r: number, color: Col, shaded: boolean) {
    const vx = bx - ax;
    const vy = by - ay;
    const len2 = vx * vx + vy * vy || 1e-9;
    const len = Math.sqrt(len2);
    const project = (x: number, y: number) => {
      const t = Math.max(0, Math.min(1, ((x - ax) * vx + (y - ay) * vy) / len2));
      return t;
    };
    this.paint(
      Math.min(ax, bx) - r,
      Math.min(ay, by) - r,
      Math.max(ax, bx) + r,
      Math.max(ay, by) + r,
      (x, y) => {
        const t = project(x, y);
        const dx = x - (ax + vx * t);
        const dy = y - (ay + vy * t);
        return Math.sqrt(dx * dx + dy * dy) - r;
      },
      color,
      shaded
        ? (x, y) => {
            // signed distance across the axis, positive to the right of the image
            const across = ((x - ax) * vy - (y - ay) * vx) / len;
            return shadeAcross((vy >= 0 ? across : -across) / r);
          }
        : null,
    );
  }

  /** A convex polygon (any winding), shaded across the vertical axis `axisX` with half-width `halfW`. */
  polygon(pts: readonly Pt[], color: Col, axisX: number | null, halfW = 1) {
    let area = 0;
    for (let i = 0; i < pts.length; i++) {
      const [x0, y0] = pts[i];
      const [x1, y1] = pts[(i + 1) % pts.length];
      area += x0 * y1 - x1 * y0;
    }
    const sgn = area > 0 ? 1 : -1;
    // per edge: a point on it and its outward unit normal, flat for a fast inner loop
    const n = pts.length;
    const edges = new Float64Array(n * 4);
    for (let i = 0; i < n; i++) {
      const [x0, y0] = pts[i];
      const [x1, y1] = pts[(i + 1) % n];
      const l = Math.sqrt((x1 - x0) * (x1 - x0) + (y1 - y0) * (y1 - y0)) || 1e-9;
      edges[i * 4] = x0;
      edges[i * 4 + 1] = y0;
      edges[i * 4 + 2] = (sgn * (y1 - y0)) / l;
      edges[i * 4 + 3] = (-sgn * (x1 - x0)) / l;
    }
    let minX = Infinity;
    let minY = Infinity;
    let maxX = -Infinity;
    let maxY = -Infinity;
    for (const [x, y] of pts) {
      minX = Math.min(minX, x);
      maxX = Math.max(maxX, x);
      minY = Math.min(minY, y);
      maxY = Math.max(maxY, y);
    }
    this.paint(
      minX,
      minY,
      maxX,
      maxY,
      (x, y) => {
        let d = -Infinity;
        for (let e = 0; e < edges.length; e += 4) {
          const s = (x - edges[e]) * edges[e + 2] + (y - edges[e + 1]) * edges[e + 3];
          if (s > d) d = s;
        }
        return d;
      },
      color,
      axisX === null ? null : (x) => shadeAcross((x - axisX) / halfW),
    );
  }
}

/** Paints a street-like background: sky/wall gradient, ground, and random clutter shapes. */
function drawBackground(c: Canvas, rng: SynthRng): void {
  const { h, w, data } = c;
  const hue = rng.next();
  const sat = rng.range(0.05, 0.35);
  const val = rng.range(0.35, 0.85);
  const base = hsv(hue, sat, val);
  const ground = hsv(rng.next(), rng.range(0, 0.2), rng.range(0.3, 0.75));
  const horizon = Math.round(h * rng.range(0.5, 0.85));
  const grad = rng.range(-0.15, 0.15);
  for (let y = 0; y < h; y++) {
    const g = 1 + grad * (y / h - 0.5);
    const col = y < horizon ? base : ground;
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 3;
      data[o] = col[0] * g;
      data[o + 1] = col[1] * g;
      data[o + 2] = col[2] * g;
    }
  }
  const shapes = rng.int(2, 7);
  for (let i = 0; i < shapes; i++) {
    const col = rng.chance(0.25)
      ? hsv(rng.next(), rng.range(0.5, 0.9), rng.range(0.4, 0.95))
      : hsv(rng.next(), rng.range(0, 0.3), rng.range(0.15, 0.9));
    const kind = rng.int(0, 2);
    const x = rng.range(-0.2, 1.1) * w;
    const y = rng.range(-0.1, 1.0) * h;
    if (kind === 0) c.rect(x, y, x + rng.range(0.1, 0.6) * w, y + rng.range(0.05, 0.4) * h, col, null);
    else if (kind === 1) c.ellipse(x, y, rng.range(0.1, 0.4) * w, rng.range(0.05, 0.2) * h, col, true);
    else c.rect(x, 0, x + rng.range(0.03, 0.12) * w, h, col, null);
  }
}

function hsv(hh: number, s: number, v: number): Col {
  const i = Math.floor(hh * 6) % 6;
  const f = hh * 6 - Math.floor(hh * 6);
  const p = v * (1 - s);
  const q = v * (1 - f * s);
  const t = v * (1 - (1 - f) * s);
  const table: Col[] = [
    [v, t, p],
    [q, v, p],
    [p, v, t],
    [p, q, v],
    [t, p, v],
    [v, p, q],
  ];
  return table[i];
}

/**
 * Draws one image of a person with attributes `a` and variation `v` (background, pose details and
 * noise drawn from `rng`): HWC RGB bytes of `height × width`, and where the parts landed.
 */
export function renderPerson(
  a: PersonAttributes,
  v: SynthVariation,
  rng: SynthRng,
  height: number,
  width: number,
): { pixels: Uint8Array; regions: SynthRegions } {
  const c = new Canvas(height, width);
  drawBackground(c, rng);

  const s = v.scale * height;
  const top = (height - s) * rng.range(0.3, 0.7);
  const cx = width / 2 + v.shiftX;
  const dir = v.flip ? -1 : 1;
  const P = (p: Pt): [number, number] => [cx + (dir * p[0] + v.lean * (1 - p[1])) * s, top + p[1] * s];
  const R = (r: number) => r * s;
  const cap = (p: Pt, q: Pt, r: number, col: Col, shaded = true) => {
    const [ax, ay] = P(p);
    const [bx, by] = P(q);
    c.capsule(ax, ay, bx, by, R(r), col, shaded);
  };
  const ell = (p: Pt, rx: number, ry: number, col: Col, shaded = true, clipBelowY = Infinity) => {
    const [x, y] = P(p);
    c.ellipse(x, y, R(rx), R(ry), col, shaded, clipBelowY === Infinity ? Infinity : P([p[0], clipBelowY])[1]);
  };
  const poly = (pts: readonly Pt[], col: Col, halfW: number, shaded = true) => {
    const axis = P([0, (pts[0][1] + pts[pts.length - 1][1]) / 2])[0];
    c.polygon(pts.map(P), col, shaded ? axis : null, R(halfW));
  };

  const woman = a.gender === 'woman';
  const broad = a.figure === 'broad';
  const sh = (woman ? 0.094 : 0.102) + (broad ? 0.016 : 0);
  const wa = sh * (woman ? 0.7 : 0.78);
  const hp = (woman ? 0.084 : 0.076) + (broad ? 0.008 : 0);
  const armR = 0.025 + (broad ? 0.004 : 0);
  const legR = 0.034 + (broad ? 0.005 : 0);

  const skin = toCol(SKIN_RGB[a.skinTone]);
  const hair = toCol(HAIR_RGB[a.hairColor]);
  const upperC = toCol(GARMENT_RGB[a.upper.color]);
  const lowerC = toCol(GARMENT_RGB[a.lower.color]);
  const shoeC = toCol(GARMENT_RGB[a.shoes.color]);
  const darker = (col: Col, f: number): Col => [col[0] * f, col[1] * f, col[2] * f];
  const lum = (col: Col) => 0.3 * col[0] + 0.59 * col[1] + 0.11 * col[2];
  const accent = (col: Col): Col => (lum(col) > 0.45 ? darker(col, 0.6) : mix(col, [1, 1, 1], 0.35));

  // pose
  const swingL = rng.range(-1, 1);
  const swingR = rng.range(-1, 1);
  const stance = rng.range(0, 1);
  const shoulderL: Pt = [sh - 0.018, 0.19];
  const shoulderR: Pt = [-(sh - 0.018), 0.19];
  const elbowL: Pt = [sh + 0.008 + 0.012 * swingL, 0.35];
  const elbowR: Pt = [-(sh + 0.008 + 0.012 * swingR), 0.35];
  const wristL: Pt = [sh + 0.014 + 0.03 * swingL, 0.49 - 0.015 * Math.abs(swingL)];
  const wristR: Pt = [-(sh + 0.014 + 0.03 * swingR), 0.49 - 0.015 * Math.abs(swingR)];
  const hipL: Pt = [0.042, 0.52];
  const hipR: Pt = [-0.042, 0.52];
  const kneeL: Pt = [0.044 + 0.015 * stance, 0.735];
  const kneeR: Pt = [-(0.044 + 0.015 * stance), 0.735];
  const ankleL: Pt = [0.046 + 0.035 * stance, 0.935];
  const ankleR: Pt = [-(0.046 + 0.035 * stance), 0.935];
  const along = (p: Pt, q: Pt, t: number): Pt => [p[0] + (q[0] - p[0]) * t, p[1] + (q[1] - p[1]) * t];

  const back = v.view === 'back';
  // seen from the front, long hair and a backpack are behind the body
  if (a.hairLength === 'long' && !back) {
    cap([0.035, 0.07], [0.05, 0.29], 0.032, hair);
    cap([-0.035, 0.07], [-0.05, 0.29], 0.032, hair);
  }
  if (a.bag?.type === 'backpack' && !back) {
    const bagC = toCol(GARMENT_RGB[a.bag.color]);
    poly(
      [
        [-(sh - 0.01), 0.145],
        [sh - 0.01, 0.145],
        [sh + 0.035, 0.19],
        [sh + 0.035, 0.44],
        [-(sh + 0.035), 0.44],
        [-(sh + 0.035), 0.19],
      ],
      bagC,
      sh + 0.035,
    );
  }

  // legs, with the lower garment
  const lowerType = a.lower.type;
  const legCol = lowerType === 'shorts' || lowerType === 'skirt' ? skin : lowerC;
  const legRadius = lowerType === 'leggings' ? legR - 0.005 : legR;
  for (const [hip, knee, ankle] of [
    [hipL, kneeL, ankleL],
    [hipR, kneeR, ankleR],
  ] as const) {
    const bareR = lowerType === 'shorts' || lowerType === 'skirt' ? legR - 0.007 : legRadius;
    cap(hip, knee, bareR, legCol);
    cap(knee, ankle, bareR - 0.004, legCol);
    if (lowerType === 'shorts') cap(hip, along(hip, knee, 0.5), legR + 0.004, lowerC);
    if (lowerType === 'jeans') {
      const out = Math.sign(hip[0]) * (legR - 0.012);
      cap([hip[0] + out, hip[1] + 0.03], [ankle[0] + out, ankle[1] - 0.01], 0.0035, accent(lowerC), false);
    }
  }
  // shoes
  for (const ankle of [ankleL, ankleR]) ell([ankle[0] + 0.012 * Math.sign(ankle[0]), 0.963], 0.044, 0.026, shoeC);
  // pelvis / skirt
  if (lowerType === 'skirt') {
    poly(
      [
        [-hp, 0.46],
        [hp, 0.46],
        [hp + 0.045, 0.665],
        [-(hp + 0.045), 0.665],
      ],
      lowerC,
      hp + 0.03,
    );
  } else if (lowerType !== 'leggings') {
    poly(
      [
        [-hp, 0.46],
        [hp, 0.46],
        [hp, 0.57],
        [-hp, 0.57],
      ],
      lowerC,
      hp,
    );
  }

  // the upper garment
  const ut = a.upper.type;
  const sleeve = ut === 'dress' ? null : ut === 't-shirt' ? 'short' : 'long';
  const hem = ut === 'coat' ? 0.77 : ut === 'jacket' ? 0.545 : 0.5;
  const hemHalf = ut === 'coat' ? hp + 0.035 : ut === 'jacket' ? hp + 0.012 : Math.max(wa, hp - 0.004);
  // arms behind the torso edge: skin first, then sleeves
  for (const [sho, elb, wri] of [
    [shoulderL, elbowL, wristL],
    [shoulderR, elbowR, wristR],
  ] as const) {
    if (sleeve !== 'long') {
      cap(sho, elb, armR - 0.003, skin);
      cap(elb, wri, armR - 0.005, skin);
    }
    if (sleeve === 'long') {
      cap(sho, elb, armR + 0.005, upperC);
      cap(elb, wri, armR + 0.003, upperC);
      if (ut === 'sweater' || ut === 'coat') cap(along(elb, wri, 0.85), wri, armR + 0.004, darker(upperC, 0.75));
    } else if (sleeve === 'short') {
      cap(sho, along(sho, elb, 0.55), armR + 0.009, upperC);
    }
    ell(along(elb, wri, 1.08), 0.02, 0.024, skin);
  }
  // neck
  cap([0, 0.11], [0, 0.17], 0.021, darker(skin, 0.9));
  if (ut === 'dress') {
    poly(
      [
        [-(sh - 0.035), 0.185],
        [sh - 0.035, 0.185],
        [wa, 0.47],
        [-wa, 0.47],
      ],
      upperC,
      sh,
    );
    poly(
      [
        [-wa, 0.46],
        [wa, 0.46],
        [hp + 0.055, 0.72],
        [-(hp + 0.055), 0.72],
      ],
      upperC,
      hp + 0.04,
    );
    cap([-wa, 0.47], [wa, 0.47], 0.008, darker(upperC, 0.7), false);
    cap([sh - 0.04, 0.19], [sh - 0.03, 0.17], 0.01, upperC);
    cap([-(sh - 0.04), 0.19], [-(sh - 0.03), 0.17], 0.01, upperC);
  } else {
    poly(
      [
        [-(sh - 0.022), 0.165],
        [sh - 0.022, 0.165],
        [sh, 0.205],
        [wa + 0.004, 0.44],
        [hemHalf, hem],
        [-hemHalf, hem],
        [-(wa + 0.004), 0.44],
        [-sh, 0.205],
      ],
      upperC,
      sh,
    );
    if ((ut === 't-shirt' || ut === 'sweater') && !back) ell([0, 0.168], 0.026, 0.016, darker(skin, 0.92), false, 0.19);
    if (ut === 'sweater') {
      cap([-(hemHalf - 0.01), hem - 0.012], [hemHalf - 0.01, hem - 0.012], 0.011, darker(upperC, 0.72), false);
      cap([-0.024, 0.17], [0.024, 0.17], 0.009, darker(upperC, 0.72), false);
    }
    if (ut === 'shirt' && back) cap([-0.026, 0.168], [0.026, 0.168], 0.008, accent(upperC), false);
    if (ut === 'shirt' && !back) {
      cap([0, 0.19], [0, hem - 0.01], 0.0045, accent(upperC), false);
      poly(
        [
          [-0.03, 0.16],
          [0, 0.2],
          [-0.012, 0.21],
        ],
        accent(upperC),
        1,
        false,
      );
      poly(
        [
          [0.03, 0.16],
          [0, 0.2],
          [0.012, 0.21],
        ],
        accent(upperC),
        1,
        false,
      );
    }
    if (ut === 'jacket' && back) cap([-0.026, 0.168], [0.026, 0.168], 0.01, darker(upperC, 0.75), false);
    if (ut === 'jacket' && !back) {
      const inner: Col = lum(upperC) > 0.6 ? [0.2, 0.2, 0.22] : [0.9, 0.9, 0.88];
      poly(
        [
          [-0.022, 0.168],
          [0.022, 0.168],
          [0.009, 0.545],
          [-0.009, 0.545],
        ],
        inner,
        0.03,
      );
      cap([0.028, 0.17], [0.012, 0.32], 0.008, darker(upperC, 0.75), false);
      cap([-0.028, 0.17], [-0.012, 0.32], 0.008, darker(upperC, 0.75), false);
    }
    if (ut === 'coat') {
      cap([0, 0.2], [0, hem - 0.01], 0.005, darker(upperC, 0.65), false);
      cap([-(wa + 0.004), 0.445], [wa + 0.004, 0.445], 0.011, darker(upperC, 0.7), false);
      if (!back) {
        cap([0.03, 0.17], [0.006, 0.3], 0.009, darker(upperC, 0.8), false);
        cap([-0.03, 0.17], [-0.006, 0.3], 0.009, darker(upperC, 0.8), false);
      }
    }
  }

  // bag details in front
  if (a.bag?.type === 'backpack' && !back) {
    const strap = darker(toCol(GARMENT_RGB[a.bag.color]), 0.85);
    cap([sh - 0.045, 0.175], [sh - 0.04, 0.4], 0.012, strap);
    cap([-(sh - 0.045), 0.175], [-(sh - 0.04), 0.4], 0.012, strap);
  } else if (a.bag?.type === 'backpack') {
    // from behind: straps over the shoulders, the pack on the back with a front pocket
    const bagC = toCol(GARMENT_RGB[a.bag.color]);
    cap([sh - 0.045, 0.17], [0.04, 0.21], 0.011, darker(bagC, 0.85));
    cap([-(sh - 0.045), 0.17], [-0.04, 0.21], 0.011, darker(bagC, 0.85));
    poly(
      [
        [-0.044, 0.19],
        [0.044, 0.19],
        [0.054, 0.215],
        [0.054, 0.4],
        [-0.054, 0.4],
        [-0.054, 0.215],
      ],
      bagC,
      0.054,
    );
    poly(
      [
        [-0.036, 0.3],
        [0.036, 0.3],
        [0.036, 0.385],
        [-0.036, 0.385],
      ],
      darker(bagC, 0.82),
      0.036,
    );
  } else if (a.bag?.type === 'handbag') {
    const bagC = toCol(GARMENT_RGB[a.bag.color]);
    cap([-(sh - 0.03), 0.18], [0.1, 0.47], 0.008, darker(bagC, 0.85), false);
    poly(
      [
        [0.075, 0.455],
        [0.155, 0.455],
        [0.165, 0.575],
        [0.065, 0.575],
      ],
      bagC,
      0.05,
    );
  }

  // head, face, hair, hat
  ell([0, 0.075], 0.046, 0.061, skin);
  if (back) {
    // the back of the head: hair over all of it, down the back when long
    const low = a.hairLength === 'short' ? 0.105 : a.hairLength === 'medium' ? 0.13 : 0.29;
    ell([0, 0.07], 0.05, 0.064, hair, true, Math.min(low, 0.12));
    if (a.hairLength !== 'short') {
      cap([0.03, 0.07], [0.036, low], 0.026, hair);
      cap([-0.03, 0.07], [-0.036, low], 0.026, hair);
    }
  } else if (a.hairLength === 'short') {
    ell([0.018, 0.078], 0.007, 0.006, [0.12, 0.1, 0.1], false);
    ell([-0.018, 0.078], 0.007, 0.006, [0.12, 0.1, 0.1], false);
    ell([0, 0.055], 0.05, 0.048, hair, true, 0.045);
  } else {
    ell([0.018, 0.078], 0.007, 0.006, [0.12, 0.1, 0.1], false);
    ell([-0.018, 0.078], 0.007, 0.006, [0.12, 0.1, 0.1], false);
    ell([0, 0.058], 0.052, 0.052, hair, true, 0.055);
    const low = a.hairLength === 'medium' ? 0.125 : 0.16;
    cap([0.044, 0.05], [0.047, low], 0.014, hair);
    cap([-0.044, 0.05], [-0.047, low], 0.014, hair);
    if (a.hairLength === 'long') cap([0.05, 0.12], [0.06, 0.27], 0.018, hair);
  }
  if (a.hat) {
    const hatC = toCol(GARMENT_RGB[a.hat.color]);
    ell([0, 0.045], 0.054, 0.042, hatC, true, 0.048);
    if (!back) ell([0.032, 0.047], 0.05, 0.011, darker(hatC, 0.85), false);
  }

  // occluders
  if (v.occlusion === 'pole') {
    const px = rng.range(0.1, 0.9) * width;
    const pw = Math.max(1.5, rng.range(0.05, 0.12) * width);
    c.rect(px - pw / 2, 0, px + pw / 2, height, hsv(rng.next(), rng.range(0, 0.4), rng.range(0.2, 0.7)), (x) =>
      shadeAcross((x - px) / (pw / 2)),
    );
  } else if (v.occlusion === 'ground') {
    const y0 = P([0, rng.range(0.8, 0.9)])[1];
    c.rect(-1, y0, width + 1, height + 1, hsv(rng.next(), rng.range(0.1, 0.6), rng.range(0.2, 0.8)), null);
  }

  const pixels = finish(c, v, rng);
  const box = (p: Pt, q: Pt): PixelBox => {
    const [ax, ay] = P(p);
    const [bx, by] = P(q);
    const clampX = (t: number) => Math.max(0, Math.min(width, t));
    const clampY = (t: number) => Math.max(0, Math.min(height, t));
    const x0 = clampX(Math.round(Math.min(ax, bx)));
    const x1 = clampX(Math.max(x0 + 1, Math.round(Math.max(ax, bx))));
    const y0 = clampY(Math.round(Math.min(ay, by)));
    const y1 = clampY(Math.max(y0 + 1, Math.round(Math.max(ay, by))));
    return [x0, y0, x1, y1];
  };
  const legBox = (t0: number, t1: number): PixelBox => {
    const p = along(kneeL, ankleL, t0);
    const q = along(kneeL, ankleL, t1);
    const half = (legRadius - 0.004) * 0.6;
    return box([Math.min(p[0], q[0]) - half, p[1]], [Math.max(p[0], q[0]) + half, q[1]]);
  };
  const lowerBox =
    lowerType === 'skirt'
      ? box([-hp, hem + 0.015], [hp, 0.64])
      : lowerType === 'shorts'
        ? box([-hp + 0.012, hem + 0.012], [hp - 0.012, 0.58])
        : legBox(0.15, 0.7);
  return {
    pixels,
    regions: {
      head: box([-0.025, 0.07], [0.025, 0.12]),
      upper:
        back && a.bag?.type === 'backpack'
          ? ut === 'dress'
            ? box([-0.03, 0.5], [0.03, 0.6])
            : box([-0.03, 0.41], [0.03, 0.47])
          : box([0.022, 0.3], [0.05, 0.44]),
      lower: lowerBox,
      shoes: box([ankleL[0] - 0.025, 0.945], [ankleL[0] + 0.045, 0.985]),
    },
  };
}

/** Applies lighting (brightness, contrast, colour cast) and sensor noise, and quantises to bytes. */
function finish(c: Canvas, v: SynthVariation, rng: SynthRng): Uint8Array {
  const gain = v.contrast * v.brightness;
  const offset = (0.5 - 0.5 * v.contrast) * v.brightness;
  const base0 = (offset + rng.range(-0.035, 0.035)) * 255;
  const base1 = (offset + rng.range(-0.035, 0.035)) * 255;
  const base2 = (offset + rng.range(-0.035, 0.035)) * 255;
  const noise = rng.range(0.005, 0.03) * 255 * 2;
  // per-pixel noise from an inline LCG seeded by the image's stream (its high bits only)
  let state = Math.floor(rng.next() * 4294967296) >>> 0;
  // a clamped array rounds and clamps on store; the result is a plain byte view of it
  const out = new Uint8ClampedArray(c.data.length);
  const d = c.data;
  const g = gain * 255;
  for (let i = 0; i < d.length; i += 3) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const n0 = (state / 4294967296 - 0.5) * noise;
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const n1 = (state / 4294967296 - 0.5) * noise;
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const n2 = (state / 4294967296 - 0.5) * noise;
    out[i] = d[i] * g + base0 + n0;
    out[i + 1] = d[i + 1] * g + base1 + n1;
    out[i + 2] = d[i + 2] * g + base2 + n2;
  }
  return new Uint8Array(out.buffer);
}
