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
 * Draws into a canvas in body units: a point `[x, y]` is across the body (x, positive to the
 * person's left as seen, mirrored when flipped) and down it (y, 0 at the top of the head, 1 at the
 * soles), scaled by the figure's height and sheared by its lean.
 */
class BodyPen {
  constructor(
    readonly canvas: Canvas,
    private readonly centerX: number,
    private readonly top: number,
    private readonly size: number,
    private readonly v: SynthVariation,
  ) {}

  /** A body point in pixels. */
  at(p: Pt): [number, number] {
    const dir = this.v.flip ? -1 : 1;
    return [this.centerX + (dir * p[0] + this.v.lean * (1 - p[1])) * this.size, this.top + p[1] * this.size];
  }

  /** A body length in pixels. */
  len(r: number): number {
    return r * this.size;
  }

  /** A limb: a capsule from `p` to `q` of radius `r`. */
  capsule(p: Pt, q: Pt, r: number, col: Col, shaded = true): void {
    const [ax, ay] = this.at(p);
    const [bx, by] = this.at(q);
    this.canvas.capsule(ax, ay, bx, by, this.len(r), col, shaded);
  }

  /** An ellipse at `p` with radii `rx`, `ry`, cut below body height `clipBelowY` if given. */
  ellipse(p: Pt, rx: number, ry: number, col: Col, shaded = true, clipBelowY = Infinity): void {
    const [x, y] = this.at(p);
    const clip = clipBelowY === Infinity ? Infinity : this.at([p[0], clipBelowY])[1];
    this.canvas.ellipse(x, y, this.len(rx), this.len(ry), col, shaded, clip);
  }

  /** A polygon, shaded across the body axis over half-width `halfW` unless `shaded` is false. */
  polygon(pts: readonly Pt[], col: Col, halfW: number, shaded = true): void {
    const axis = this.at([0, (pts[0][1] + pts[pts.length - 1][1]) / 2])[0];
    this.canvas.polygon(
      pts.map((p) => this.at(p)),
      col,
      shaded ? axis : null,
      this.len(halfW),
    );
  }

  /**
   * A trapezoid symmetric about the body axis: half-width `topHalf` at body height `top`,
   * `bottomHalf` at `bottom`; shaded over half-width `halfW`.
   */
  trapezoid(top: number, topHalf: number, bottom: number, bottomHalf: number, col: Col, halfW: number): void {
    this.polygon(
      [
        [-topHalf, top],
        [topHalf, top],
        [bottomHalf, bottom],
        [-bottomHalf, bottom],
      ],
      col,
      halfW,
    );
  }

  /** The pixel box spanned by body points `p` and `q`, clamped to the image and at least 1 pixel wide. */
  box(p: Pt, q: Pt): PixelBox {
    const { h: height, w: width } = this.canvas;
    const [ax, ay] = this.at(p);
    const [bx, by] = this.at(q);
    const clampX = (t: number) => Math.max(0, Math.min(width, t));
    const clampY = (t: number) => Math.max(0, Math.min(height, t));
    const x0 = clampX(Math.round(Math.min(ax, bx)));
    const x1 = clampX(Math.max(x0 + 1, Math.round(Math.max(ax, bx))));
    const y0 = clampY(Math.round(Math.min(ay, by)));
    const y1 = clampY(Math.max(y0 + 1, Math.round(Math.max(ay, by))));
    return [x0, y0, x1, y1];
  }
}

/** Widths of the figure in body units (shoulders, waist, hips, limb radii), by gender and figure. */
function bodyWidths(a: PersonAttributes) {
  const woman = a.gender === 'woman';
  const broad = a.figure === 'broad';
  const shoulder = (woman ? 0.094 : 0.102) + (broad ? 0.016 : 0);
  return {
    shoulder,
    waist: shoulder * (woman ? 0.7 : 0.78),
    hip: (woman ? 0.084 : 0.076) + (broad ? 0.008 : 0),
    arm: 0.025 + (broad ? 0.004 : 0),
    leg: 0.034 + (broad ? 0.005 : 0),
  };
}
type BodyWidths = ReturnType<typeof bodyWidths>;

/** One side's joints, in body units. */
interface Limbs {
  shoulder: Pt;
  elbow: Pt;
  wrist: Pt;
  hip: Pt;
  knee: Pt;
  ankle: Pt;
}

/**
 * The joints of both sides (`[left, right]`), for arm swings in [-1, 1] and a stance in [0, 1]
 * (drawn in this order: left swing, right swing, stance).
 */
function samplePose(rng: SynthRng, sh: number): [Limbs, Limbs] {
  const swingL = rng.range(-1, 1);
  const swingR = rng.range(-1, 1);
  const stance = rng.range(0, 1);
  const left: Limbs = {
    shoulder: [sh - 0.018, 0.19],
    elbow: [sh + 0.008 + 0.012 * swingL, 0.35],
    wrist: [sh + 0.014 + 0.03 * swingL, 0.49 - 0.015 * Math.abs(swingL)],
    hip: [0.042, 0.52],
    knee: [0.044 + 0.015 * stance, 0.735],
    ankle: [0.046 + 0.035 * stance, 0.935],
  };
  const right: Limbs = {
    shoulder: [-(sh - 0.018), 0.19],
    elbow: [-(sh + 0.008 + 0.012 * swingR), 0.35],
    wrist: [-(sh + 0.014 + 0.03 * swingR), 0.49 - 0.015 * Math.abs(swingR)],
    hip: [-0.042, 0.52],
    knee: [-(0.044 + 0.015 * stance), 0.735],
    ankle: [-(0.046 + 0.035 * stance), 0.935],
  };
  return [left, right];
}

/** The point a share `t` of the way from `p` to `q`. */
const along = (p: Pt, q: Pt, t: number): Pt => [p[0] + (q[0] - p[0]) * t, p[1] + (q[1] - p[1]) * t];
const darker = (col: Col, f: number): Col => [col[0] * f, col[1] * f, col[2] * f];
const lum = (col: Col) => 0.3 * col[0] + 0.59 * col[1] + 0.11 * col[2];
/** A trim colour that stands out from `col`: darker on light colours, lighter on dark ones. */
const accent = (col: Col): Col => (lum(col) > 0.45 ? darker(col, 0.6) : mix(col, [1, 1, 1], 0.35));
/** The eyes' colour. */
const EYE: Col = [0.12, 0.1, 0.1];

/** Everything the drawing steps share: the pen, the person, the build, the pose and the colours. */
interface Figure {
  pen: BodyPen;
  a: PersonAttributes;
  w: BodyWidths;
  sides: [Limbs, Limbs];
  back: boolean;
  skin: Col;
  hair: Col;
  upperC: Col;
  lowerC: Col;
}

/** Long hair and a backpack, which (seen from the front) are behind the body. */
function drawBehindBody({ pen, a, w, back, hair }: Figure): void {
  if (a.hairLength === 'long' && !back) {
    pen.capsule([0.035, 0.07], [0.05, 0.29], 0.032, hair);
    pen.capsule([-0.035, 0.07], [-0.05, 0.29], 0.032, hair);
  }
  if (a.bag?.type === 'backpack' && !back) {
    const sh = w.shoulder;
    pen.polygon(
      [
        [-(sh - 0.01), 0.145],
        [sh - 0.01, 0.145],
        [sh + 0.035, 0.19],
        [sh + 0.035, 0.44],
        [-(sh + 0.035), 0.44],
        [-(sh + 0.035), 0.19],
      ],
      toCol(GARMENT_RGB[a.bag.color]),
      sh + 0.035,
    );
  }
}

/** The radius of the lower legs' upper part as drawn (thinner for leggings). */
const legRadius = (a: PersonAttributes, w: BodyWidths) => (a.lower.type === 'leggings' ? w.leg - 0.005 : w.leg);

/** Legs in the lower garment (bare below shorts and skirts), shoes, and the pelvis or skirt. */
function drawLegsAndLowerGarment({ pen, a, w, sides, skin, lowerC }: Figure): void {
  const lowerType = a.lower.type;
  const bare = lowerType === 'shorts' || lowerType === 'skirt';
  const legCol = bare ? skin : lowerC;
  for (const { hip, knee, ankle } of sides) {
    const r = bare ? w.leg - 0.007 : legRadius(a, w);
    pen.capsule(hip, knee, r, legCol);
    pen.capsule(knee, ankle, r - 0.004, legCol);
    if (lowerType === 'shorts') pen.capsule(hip, along(hip, knee, 0.5), w.leg + 0.004, lowerC);
    if (lowerType === 'jeans') {
      const out = Math.sign(hip[0]) * (w.leg - 0.012);
      pen.capsule([hip[0] + out, hip[1] + 0.03], [ankle[0] + out, ankle[1] - 0.01], 0.0035, accent(lowerC), false);
    }
  }
  const shoeC = toCol(GARMENT_RGB[a.shoes.color]);
  for (const { ankle } of sides) pen.ellipse([ankle[0] + 0.012 * Math.sign(ankle[0]), 0.963], 0.044, 0.026, shoeC);
  const hp = w.hip;
  if (lowerType === 'skirt') {
    pen.trapezoid(0.46, hp, 0.665, hp + 0.045, lowerC, hp + 0.03);
  } else if (lowerType !== 'leggings') {
    pen.trapezoid(0.46, hp, 0.57, hp, lowerC, hp);
  }
}

/** Where the upper garment ends (body height) and its half-width there. */
function upperHem(a: PersonAttributes, w: BodyWidths): { hem: number; hemHalf: number } {
  const ut = a.upper.type;
  const hem = ut === 'coat' ? 0.77 : ut === 'jacket' ? 0.545 : 0.5;
  const hemHalf = ut === 'coat' ? w.hip + 0.035 : ut === 'jacket' ? w.hip + 0.012 : Math.max(w.waist, w.hip - 0.004);
  return { hem, hemHalf };
}

/** Both arms behind the torso's edge: skin first, then the sleeves (none, short or long), then the hands. */
function drawArms({ pen, a, w, sides, skin, upperC }: Figure): void {
  const ut = a.upper.type;
  const sleeve = ut === 'dress' ? null : ut === 't-shirt' ? 'short' : 'long';
  for (const { shoulder: sho, elbow: elb, wrist: wri } of sides) {
    if (sleeve !== 'long') {
      pen.capsule(sho, elb, w.arm - 0.003, skin);
      pen.capsule(elb, wri, w.arm - 0.005, skin);
    }
    if (sleeve === 'long') {
      pen.capsule(sho, elb, w.arm + 0.005, upperC);
      pen.capsule(elb, wri, w.arm + 0.003, upperC);
      if (ut === 'sweater' || ut === 'coat')
        pen.capsule(along(elb, wri, 0.85), wri, w.arm + 0.004, darker(upperC, 0.75));
    } else if (sleeve === 'short') {
      pen.capsule(sho, along(sho, elb, 0.55), w.arm + 0.009, upperC);
    }
    pen.ellipse(along(elb, wri, 1.08), 0.02, 0.024, skin);
  }
}

/** A dress: bodice, skirt, waist seam and shoulder straps. */
function drawDress({ pen, w, upperC }: Figure): void {
  const { shoulder: sh, waist: wa, hip: hp } = w;
  pen.trapezoid(0.185, sh - 0.035, 0.47, wa, upperC, sh);
  pen.trapezoid(0.46, wa, 0.72, hp + 0.055, upperC, hp + 0.04);
  pen.capsule([-wa, 0.47], [wa, 0.47], 0.008, darker(upperC, 0.7), false);
  pen.capsule([sh - 0.04, 0.19], [sh - 0.03, 0.17], 0.01, upperC);
  pen.capsule([-(sh - 0.04), 0.19], [-(sh - 0.03), 0.17], 0.01, upperC);
}

/** A shirt's placket and collar points (front) or its collar (back). */
function drawShirtDetails({ pen, back, upperC }: Figure, hem: number): void {
  if (back) {
    pen.capsule([-0.026, 0.168], [0.026, 0.168], 0.008, accent(upperC), false);
    return;
  }
  pen.capsule([0, 0.19], [0, hem - 0.01], 0.0045, accent(upperC), false);
  for (const side of [-1, 1]) {
    pen.polygon(
      [
        [side * 0.03, 0.16],
        [0, 0.2],
        [side * 0.012, 0.21],
      ],
      accent(upperC),
      1,
      false,
    );
  }
}

/** A jacket's open front over a contrasting inner layer, with lapels (front) or its collar (back). */
function drawJacketDetails({ pen, back, upperC }: Figure): void {
  if (back) {
    pen.capsule([-0.026, 0.168], [0.026, 0.168], 0.01, darker(upperC, 0.75), false);
    return;
  }
  const inner: Col = lum(upperC) > 0.6 ? [0.2, 0.2, 0.22] : [0.9, 0.9, 0.88];
  pen.trapezoid(0.168, 0.022, 0.545, 0.009, inner, 0.03);
  pen.capsule([0.028, 0.17], [0.012, 0.32], 0.008, darker(upperC, 0.75), false);
  pen.capsule([-0.028, 0.17], [-0.012, 0.32], 0.008, darker(upperC, 0.75), false);
}

/** A coat's front seam and belt, with lapels from the front. */
function drawCoatDetails({ pen, w, back, upperC }: Figure, hem: number): void {
  pen.capsule([0, 0.2], [0, hem - 0.01], 0.005, darker(upperC, 0.65), false);
  pen.capsule([-(w.waist + 0.004), 0.445], [w.waist + 0.004, 0.445], 0.011, darker(upperC, 0.7), false);
  if (!back) {
    pen.capsule([0.03, 0.17], [0.006, 0.3], 0.009, darker(upperC, 0.8), false);
    pen.capsule([-0.03, 0.17], [-0.006, 0.3], 0.009, darker(upperC, 0.8), false);
  }
}

/** Any upper garment but a dress: the torso down to its hem, then the garment's own details. */
function drawTop(f: Figure): void {
  const { pen, a, w, back, skin, upperC } = f;
  const ut = a.upper.type;
  const { shoulder: sh, waist: wa } = w;
  const { hem, hemHalf } = upperHem(a, w);
  pen.polygon(
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
  if ((ut === 't-shirt' || ut === 'sweater') && !back)
    pen.ellipse([0, 0.168], 0.026, 0.016, darker(skin, 0.92), false, 0.19);
  if (ut === 'sweater') {
    pen.capsule([-(hemHalf - 0.01), hem - 0.012], [hemHalf - 0.01, hem - 0.012], 0.011, darker(upperC, 0.72), false);
    pen.capsule([-0.024, 0.17], [0.024, 0.17], 0.009, darker(upperC, 0.72), false);
  }
  if (ut === 'shirt') drawShirtDetails(f, hem);
  if (ut === 'jacket') drawJacketDetails(f);
  if (ut === 'coat') drawCoatDetails(f, hem);
}

/** The neck and the upper garment. */
function drawNeckAndUpperGarment(f: Figure): void {
  f.pen.capsule([0, 0.11], [0, 0.17], 0.021, darker(f.skin, 0.9));
  if (f.a.upper.type === 'dress') drawDress(f);
  else drawTop(f);
}

/** The parts of a bag in front of the body: backpack straps (front), the whole backpack (back), a handbag. */
function drawBagInFront({ pen, a, w, back }: Figure): void {
  const sh = w.shoulder;
  if (a.bag?.type === 'backpack' && !back) {
    const strap = darker(toCol(GARMENT_RGB[a.bag.color]), 0.85);
    pen.capsule([sh - 0.045, 0.175], [sh - 0.04, 0.4], 0.012, strap);
    pen.capsule([-(sh - 0.045), 0.175], [-(sh - 0.04), 0.4], 0.012, strap);
  } else if (a.bag?.type === 'backpack') {
    // from behind: straps over the shoulders, the pack on the back with a front pocket
    const bagC = toCol(GARMENT_RGB[a.bag.color]);
    pen.capsule([sh - 0.045, 0.17], [0.04, 0.21], 0.011, darker(bagC, 0.85));
    pen.capsule([-(sh - 0.045), 0.17], [-0.04, 0.21], 0.011, darker(bagC, 0.85));
    pen.polygon(
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
    pen.trapezoid(0.3, 0.036, 0.385, 0.036, darker(bagC, 0.82), 0.036);
  } else if (a.bag?.type === 'handbag') {
    const bagC = toCol(GARMENT_RGB[a.bag.color]);
    pen.capsule([-(sh - 0.03), 0.18], [0.1, 0.47], 0.008, darker(bagC, 0.85), false);
    pen.polygon(
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
}

/** The head: face (eyes from the front), the hair by length and view, and a hat. */
function drawHead({ pen, a, back, skin, hair }: Figure): void {
  pen.ellipse([0, 0.075], 0.046, 0.061, skin);
  if (back) {
    // the back of the head: hair over all of it, down the back when long
    const low = a.hairLength === 'short' ? 0.105 : a.hairLength === 'medium' ? 0.13 : 0.29;
    pen.ellipse([0, 0.07], 0.05, 0.064, hair, true, Math.min(low, 0.12));
    if (a.hairLength !== 'short') {
      pen.capsule([0.03, 0.07], [0.036, low], 0.026, hair);
      pen.capsule([-0.03, 0.07], [-0.036, low], 0.026, hair);
    }
  } else if (a.hairLength === 'short') {
    pen.ellipse([0.018, 0.078], 0.007, 0.006, EYE, false);
    pen.ellipse([-0.018, 0.078], 0.007, 0.006, EYE, false);
    pen.ellipse([0, 0.055], 0.05, 0.048, hair, true, 0.045);
  } else {
    pen.ellipse([0.018, 0.078], 0.007, 0.006, EYE, false);
    pen.ellipse([-0.018, 0.078], 0.007, 0.006, EYE, false);
    pen.ellipse([0, 0.058], 0.052, 0.052, hair, true, 0.055);
    const low = a.hairLength === 'medium' ? 0.125 : 0.16;
    pen.capsule([0.044, 0.05], [0.047, low], 0.014, hair);
    pen.capsule([-0.044, 0.05], [-0.047, low], 0.014, hair);
    if (a.hairLength === 'long') pen.capsule([0.05, 0.12], [0.06, 0.27], 0.018, hair);
  }
  if (a.hat) {
    const hatC = toCol(GARMENT_RGB[a.hat.color]);
    pen.ellipse([0, 0.045], 0.054, 0.042, hatC, true, 0.048);
    if (!back) pen.ellipse([0.032, 0.047], 0.05, 0.011, darker(hatC, 0.85), false);
  }
}

/** The variation's occluder over the person: a pole across the image, or the ground's edge in front. */
function drawOccluder(pen: BodyPen, v: SynthVariation, rng: SynthRng): void {
  const c = pen.canvas;
  const { h: height, w: width } = c;
  if (v.occlusion === 'pole') {
    const px = rng.range(0.1, 0.9) * width;
    const pw = Math.max(1.5, rng.range(0.05, 0.12) * width);
    c.rect(px - pw / 2, 0, px + pw / 2, height, hsv(rng.next(), rng.range(0, 0.4), rng.range(0.2, 0.7)), (x) =>
      shadeAcross((x - px) / (pw / 2)),
    );
  } else if (v.occlusion === 'ground') {
    const y0 = pen.at([0, rng.range(0.8, 0.9)])[1];
    c.rect(-1, y0, width + 1, height + 1, hsv(rng.next(), rng.range(0.1, 0.6), rng.range(0.2, 0.8)), null);
  }
}

/**
 * Where each part's colour can be read without its neighbours (body units, corners of a box):
 * a patch of the forehead, of the torso's side (or, from behind with a backpack, below the pack:
 * on the dress's skirt or above the belt line), and of the shoes' toe.
 */
const REGION_BOXES = {
  head: [
    [-0.025, 0.07],
    [0.025, 0.12],
  ],
  upper: [
    [0.022, 0.3],
    [0.05, 0.44],
  ],
  upperBelowBackpackDress: [
    [-0.03, 0.5],
    [0.03, 0.6],
  ],
  upperBelowBackpack: [
    [-0.03, 0.41],
    [0.03, 0.47],
  ],
} as const satisfies Record<string, readonly [Pt, Pt]>;

/** The pixel boxes of {@link SynthRegions}: head, upper garment, lower garment and shoes. */
function partRegions({ pen, a, w, sides, back }: Figure): SynthRegions {
  const [{ knee: kneeL, ankle: ankleL }] = sides;
  const { hem } = upperHem(a, w);
  const hp = w.hip;
  const legBox = (t0: number, t1: number): PixelBox => {
    const p = along(kneeL, ankleL, t0);
    const q = along(kneeL, ankleL, t1);
    const half = (legRadius(a, w) - 0.004) * 0.6;
    return pen.box([Math.min(p[0], q[0]) - half, p[1]], [Math.max(p[0], q[0]) + half, q[1]]);
  };
  const lowerType = a.lower.type;
  const lower =
    lowerType === 'skirt'
      ? pen.box([-hp, hem + 0.015], [hp, 0.64])
      : lowerType === 'shorts'
        ? pen.box([-hp + 0.012, hem + 0.012], [hp - 0.012, 0.58])
        : legBox(0.15, 0.7);
  const upper: readonly [Pt, Pt] =
    back && a.bag?.type === 'backpack'
      ? a.upper.type === 'dress'
        ? REGION_BOXES.upperBelowBackpackDress
        : REGION_BOXES.upperBelowBackpack
      : REGION_BOXES.upper;
  return {
    head: pen.box(...REGION_BOXES.head),
    upper: pen.box(...upper),
    lower,
    shoes: pen.box([ankleL[0] - 0.025, 0.945], [ankleL[0] + 0.045, 0.985]),
  };
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
  const size = v.scale * height;
  const top = (height - size) * rng.range(0.3, 0.7);
  const pen = new BodyPen(c, width / 2 + v.shiftX, top, size, v);
  const w = bodyWidths(a);
  const figure: Figure = {
    pen,
    a,
    w,
    sides: samplePose(rng, w.shoulder),
    back: v.view === 'back',
    skin: toCol(SKIN_RGB[a.skinTone]),
    hair: toCol(HAIR_RGB[a.hairColor]),
    upperC: toCol(GARMENT_RGB[a.upper.color]),
    lowerC: toCol(GARMENT_RGB[a.lower.color]),
  };
  // back to front
  drawBehindBody(figure);
  drawLegsAndLowerGarment(figure);
  drawArms(figure);
  drawNeckAndUpperGarment(figure);
  drawBagInFront(figure);
  drawHead(figure);
  drawOccluder(pen, v, rng);
  const pixels = finish(c, v, rng);
  return { pixels, regions: partRegions(figure) };
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
