/** Indices of the `k` largest scores, best first (ties: lower index first). */
export function rankTopK(scores: ArrayLike<number>, k: number): number[] {
  const order = Array.from({ length: scores.length }, (_, i) => i);
  order.sort((a, b) => scores[b] - scores[a] || a - b);
  return order.slice(0, Math.max(0, Math.min(k, scores.length)));
}

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
