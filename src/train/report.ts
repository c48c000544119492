/**
 * The training report: one self-contained HTML page (no script, no external resource) with inline
 * SVG line charts of each loss and accuracy per epoch, the learning rates, and R1/mAP at each
 * evaluation. Every plotted point is an SVG `<circle>` carrying `data-series`, `data-x` and
 * `data-y` (the exact number) and a `<title>` tooltip, so a reader hovers for values and a test
 * reads the numbers back.
 */
import type { EpochLog } from './trainer';

/** Defaults of {@link trainingReportHtml}. */
export const REPORT_DEFAULTS = {
  title: 'irra-tfjs training report',
  /** Chart size in CSS pixels. */
  width: 640,
  height: 260,
} as const;

/** One retrieval evaluation outside the trainer's history (e.g. the untrained model at epoch 0). */
export interface ReportEvaluation {
  epoch: number;
  R1: number;
  mAP: number;
}

/** What {@link trainingReportHtml} draws. */
export interface TrainingReportData {
  /** Page title; default {@link REPORT_DEFAULTS}.title. */
  title?: string;
  /** Lines shown under the title (settings, timings). */
  notes?: string[];
  /** The trainer's per-epoch logs (`TrainResult.history`, or collected with `onEpoch`). */
  history: readonly EpochLog[];
  /** Evaluations that are not in `history` (drawn with those that are, ordered by epoch). */
  evaluations?: readonly ReportEvaluation[];
}

/** One line of a chart: its name and its (x, y) points. */
interface Series {
  name: string;
  points: [number, number][];
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

const escapeHtml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A short label for an axis tick. */
function tick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e4 || a < 1e-2 ? v.toExponential(1) : Number(v.toPrecision(3)).toString();
}

/** One chart as an SVG element (linear axes; the y range padded by 5 %). */
function chartSvg(id: string, title: string, xLabel: string, series: Series[]): string {
  const { width: W, height: H } = REPORT_DEFAULTS;
  const m = { left: 64, right: 150, top: 28, bottom: 40 };
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) return '';
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]).filter(Number.isFinite);
  let [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  if (x0 === x1) [x0, x1] = [x0 - 1, x1 + 1];
  let [y0, y1] = ys.length ? [Math.min(...ys), Math.max(...ys)] : [0, 1];
  const pad = (y1 - y0) * 0.05 || Math.abs(y0) * 0.05 || 1;
  [y0, y1] = [y0 - pad, y1 + pad];
  const px = (x: number) => m.left + ((x - x0) / (x1 - x0)) * (W - m.left - m.right);
  const py = (y: number) => H - m.bottom - ((y - y0) / (y1 - y0)) * (H - m.top - m.bottom);
  const parts: string[] = [
    `<svg id="${id}" class="chart" xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${escapeHtml(title)}">`,
    `<text x="${m.left}" y="18" class="title">${escapeHtml(title)}</text>`,
    `<line x1="${m.left}" y1="${H - m.bottom}" x2="${W - m.right}" y2="${H - m.bottom}" class="axis"/>`,
    `<line x1="${m.left}" y1="${m.top}" x2="${m.left}" y2="${H - m.bottom}" class="axis"/>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const y = y0 + ((y1 - y0) * i) / 4;
    parts.push(
      `<line x1="${m.left}" y1="${py(y)}" x2="${W - m.right}" y2="${py(y)}" class="grid"/>`,
      `<text x="${m.left - 6}" y="${py(y) + 4}" text-anchor="end" class="tick">${tick(y)}</text>`,
    );
  }
  const xTicks = [...new Set(xs)].sort((a, b) => a - b);
  const every = Math.max(1, Math.ceil(xTicks.length / 12));
  xTicks.forEach((x, i) => {
    if (i % every === 0 || i === xTicks.length - 1) {
      parts.push(`<text x="${px(x)}" y="${H - m.bottom + 16}" text-anchor="middle" class="tick">${tick(x)}</text>`);
    }
  });
  parts.push(`<text x="${(m.left + W - m.right) / 2}" y="${H - 6}" text-anchor="middle" class="tick">${xLabel}</text>`);
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const pts = s.points.filter((p) => Number.isFinite(p[1]));
    const name = escapeHtml(s.name);
    parts.push(
      `<g class="series" data-series="${name}">`,
      `<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.map((p) => `${px(p[0])},${py(p[1])}`).join(' ')}"/>`,
      ...pts.map(
        (p) =>
          `<circle cx="${px(p[0])}" cy="${py(p[1])}" r="3" fill="${color}" data-series="${name}" data-x="${p[0]}" data-y="${p[1]}"><title>${name} at ${xLabel} ${p[0]}: ${p[1]}</title></circle>`,
      ),
      '</g>',
      `<rect x="${W - m.right + 12}" y="${m.top + i * 18}" width="12" height="3" fill="${color}"/>`,
      `<text x="${W - m.right + 30}" y="${m.top + i * 18 + 5}" class="legend">${name}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/**
 * The report of a training run as one self-contained HTML page (see the module documentation):
 * charts `losses` (each `*_loss` epoch mean and their sum `total_loss`), `accuracies` (each
 * `*_acc`), `lr` (each optimizer group's lr per epoch, when the logs carry them) and `retrieval`
 * (t2i R1 and mAP at each evaluation), then a table of the same numbers. Charts without data are
 * left out.
 *
 * @example
 * const result = await trainer.train();
 * writeFileSync('report.html', trainingReportHtml({ history: result.history }));
 */
export function trainingReportHtml(data: TrainingReportData): string {
  const history = [...data.history].sort((a, b) => a.epoch - b.epoch);
  const keys = [...new Set(history.flatMap((h) => Object.keys(h.means)))];
  const lossKeys = keys.filter((k) => k.endsWith('_loss'));
  const accKeys = keys.filter((k) => k.endsWith('_acc'));
  const perEpoch = (k: string): Series => ({
    name: k,
    points: history.filter((h) => k in h.means).map((h) => [h.epoch, h.means[k]]),
  });
  const losses = lossKeys.map(perEpoch);
  if (lossKeys.length > 1) {
    losses.push({
      name: 'total_loss',
      points: history.map((h) => [h.epoch, lossKeys.reduce((s, k) => s + (h.means[k] ?? 0), 0)]),
    });
  }
  const groups = Math.max(0, ...history.map((h) => h.lrs?.length ?? 0));
  const lrs: Series[] = Array.from({ length: groups }, (_, g) => ({
    name: `group ${g}`,
    points: history.filter((h) => h.lrs && g < h.lrs.length).map((h) => [h.epoch, (h.lrs as number[])[g]]),
  }));
  const evaluations = [
    ...(data.evaluations ?? []),
    ...history.flatMap((h) =>
      h.evaluation ? [{ epoch: h.epoch, R1: h.evaluation.t2i.R1, mAP: h.evaluation.t2i.mAP }] : [],
    ),
  ].sort((a, b) => a.epoch - b.epoch);
  const retrieval: Series[] = evaluations.length
    ? [
        { name: 'R1', points: evaluations.map((e) => [e.epoch, e.R1]) },
        { name: 'mAP', points: evaluations.map((e) => [e.epoch, e.mAP]) },
      ]
    : [];
  const charts = [
    chartSvg('losses', 'losses (epoch means)', 'epoch', losses),
    chartSvg('accuracies', 'accuracies (epoch means)', 'epoch', accKeys.map(perEpoch)),
    chartSvg('lr', 'learning rate per parameter group', 'epoch', lrs),
    chartSvg('retrieval', 'text-to-image retrieval (%)', 'epoch', retrieval),
  ].filter((c) => c !== '');
  const head = ['epoch', ...lossKeys, ...accKeys, ...(groups ? ['lr (group 0)'] : []), 'seconds'];
  const rows = history.map((h) =>
    [
      String(h.epoch),
      ...[...lossKeys, ...accKeys].map((k) => (k in h.means ? h.means[k].toFixed(4) : '')),
      ...(groups ? [h.lrs?.[0] !== undefined ? h.lrs[0].toExponential(3) : ''] : []),
      h.seconds.toFixed(1),
    ]
      .map((c) => `<td>${c}</td>`)
      .join(''),
  );
  const evalRows = evaluations.map(
    (e) => `<tr><td>${e.epoch}</td><td>${e.R1.toFixed(2)}</td><td>${e.mAP.toFixed(2)}</td></tr>`,
  );
  const title = escapeHtml(data.title ?? REPORT_DEFAULTS.title);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${title}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; }
.chart { display: block; margin: 12px 0 24px; }
.chart .title { font-weight: 600; font-size: 14px; }
.chart .tick, .chart .legend { font-size: 11px; fill: #444; }
.chart .axis { stroke: #444; }
.chart .grid { stroke: #ddd; }
table { border-collapse: collapse; margin: 8px 0 24px; }
td, th { border: 1px solid #ccc; padding: 2px 8px; text-align: right; }
</style>
</head>
<body>
<h1>${title}</h1>
${(data.notes ?? []).map((n) => `<p>${escapeHtml(n)}</p>`).join('\n')}
${charts.join('\n')}
<h2>Per epoch</h2>
<table id="epochs"><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr>
${rows.map((r) => `<tr>${r}</tr>`).join('\n')}
</table>
${evalRows.length ? `<h2>Evaluations (t2i)</h2>\n<table id="evaluations"><tr><th>epoch</th><th>R1</th><th>mAP</th></tr>\n${evalRows.join('\n')}\n</table>` : ''}
</body>
</html>
`;
}
