/**
 * The demo over several seeds: runs `runDemo` (src/cli/demo.ts) once per seed, one after the
 * other, with the demo command's setup (wasm backend, the CLIP BPE vocabulary from
 * `../shared/clip/` or `$IRRA_CLIP_VOCAB` when present, the default workers), and writes one JSON
 * file of per-seed results (trained and untrained t2i, chance R1, training and total seconds),
 * rewritten after every seed so a cut-short sweep keeps what it measured.
 *
 * Options override {@link DEMO_DEFAULTS} through `--set '<json>'` (the `DemoOptions` fields, e.g.
 * `{"lr":6e-3,"epochs":10}` or `{"losses":["sdm","id"]}`); `--label` names the setting in the file.
 *
 * Run: npx tsx bench/demo_seeds.ts --seeds 0,1,2 [--set '{"lr":6e-3}'] [--label name]
 *      [--out bench/demo_seeds/name.json] [--no-clip]
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { selectBackend } from '../src/backends';
import { DEMO_DEFAULTS, type DemoOptions, runDemo } from '../src/cli/demo';
import { flag, option } from './args';
import { meanSd } from './stats';

const seeds = option('seeds', '0,1,2,3,4,5,6,7,8,9').split(',').map(Number);
const overrides = JSON.parse(option('set', '{}')) as DemoOptions;
const label = option('label', 'default');
const out = option('out', `bench/demo_seeds/${label}.json`);

const backend = await selectBackend(['wasm', 'cpu']);
const vocabPath = [process.env.IRRA_CLIP_VOCAB, resolve('../shared/clip/bpe_simple_vocab_16e6.txt.gz')].find(
  (p) => p && existsSync(p),
);
const clipVocabulary = !flag('no-clip') && vocabPath ? new Uint8Array(readFileSync(vocabPath)) : undefined;

const round = (x: number) => Math.round(x * 100) / 100;
const rows: Record<string, unknown>[] = [];
for (const seed of seeds) {
  const r = await runDemo({ ...overrides, seed, progress: 'none', ...(clipVocabulary ? { clipVocabulary } : {}) });
  r.model.dispose();
  const pick = (m: typeof r.trained) => ({ R1: m.R1, R5: m.R5, R10: m.R10, mAP: m.mAP, mINP: m.mINP });
  const row = {
    seed,
    trained: pick(r.trained),
    untrained: pick(r.untrained),
    chanceR1: r.chanceR1,
    timesChance: round(r.trained.R1 / r.chanceR1),
    epochsRun: r.epochsRun,
    cutShort: r.cutShort,
    r1ByEpoch: r.history.filter((h) => h.evaluation).map((h) => [h.epoch, round(h.evaluation?.t2i.R1 ?? 0)]),
    lossesByEpoch: r.history.map((h) =>
      Object.fromEntries(Object.entries(h.means).map(([k, v]) => [k, Math.round(v * 1e4) / 1e4])),
    ),
    trainSeconds: round(r.trainSeconds),
    seconds: round(r.seconds),
  };
  rows.push(row);
  console.log(
    `${label} seed ${seed}: R1 ${r.trained.R1.toFixed(2)} (${row.timesChance}× chance), mAP ${r.trained.mAP.toFixed(2)}, ` +
      `train ${row.trainSeconds} s`,
  );
  const r1 = rows.map((x) => (x.trained as { R1: number }).R1);
  const { mean, sd } = meanSd(r1);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(
    out,
    `${JSON.stringify(
      {
        label,
        options: { ...DEMO_DEFAULTS, ...overrides, seed: undefined },
        tokenizer: clipVocabulary ? 'clip-bpe' : 'synthpedes-words',
        backend,
        date: new Date().toISOString(),
        summary: {
          seeds: r1.length,
          meanR1: round(mean),
          sdR1: round(sd),
          minR1: Math.min(...r1),
          maxR1: Math.max(...r1),
        },
        rows,
      },
      null,
      2,
    )}\n`,
  );
}
