/**
 * `npm run demo:export`: trains the demo model (SynthPedes word vocabulary) and writes what the web
 * page loads to web/public/model/ (see src/cli/demo_export.ts). Skips the work when a complete
 * export is already there, unless `--force`.
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { selectBackend } from '../src/backends';
import { DEMO_DEFAULTS, formatDemoTable, runDemo } from '../src/cli/demo';
import { demoExportExists, demoExportIsCurrent, writeDemoExport } from '../src/cli/demo_export';
import { integerFlag } from '../src/cli/options';

const HELP = `usage: npm run demo:export -- [options]

Trains the demo's IRRA on SynthPedes and exports it for the web page.

options:
  --out DIR        export folder (default web/public/model)
  --epochs N       training epochs (default ${DEMO_DEFAULTS.epochs})
  --seed N         seed of data, weights and training (default ${DEMO_DEFAULTS.seed})
  --force          train and export even when DIR already holds an export
  -h, --help       this text`;

const here = dirname(fileURLToPath(import.meta.url));

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      out: { type: 'string' },
      epochs: { type: 'string' },
      seed: { type: 'string' },
      force: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const out = resolve(values.out ?? resolve(here, 'public/model'));
  const options = {
    seed: integerFlag('seed', values.seed, DEMO_DEFAULTS.seed, 0),
    epochs: integerFlag('epochs', values.epochs, DEMO_DEFAULTS.epochs, 1),
  };
  if (!values.force && demoExportIsCurrent(out, options)) {
    console.log(`demo:export: ${out} already holds an export of these options (use --force to retrain)`);
    return 0;
  }
  if (demoExportExists(out) && !values.force) {
    console.log(`demo:export: ${out} holds an export made with other options or an older recipe: retraining`);
  }
  const backend = await selectBackend(['wasm', 'cpu']);
  console.log(`demo:export: training on ${backend} (${options.epochs} epochs, seed ${options.seed})`);
  const t0 = performance.now();
  const result = await runDemo({ ...options, log: (line) => console.log(line) });
  try {
    console.log(formatDemoTable(result));
    await writeDemoExport(result, out, options);
  } finally {
    result.model.dispose();
  }
  console.log(`demo:export: wrote ${out} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`demo:export: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
