#!/usr/bin/env node
/**
 * The `irra-tfjs` command: `demo`, `train`, `eval`, `encode`. Each subcommand has `--help`.
 */
import { commandDemo } from './demo_command';
import { commandEncode } from './encode_command';
import { commandEval } from './eval_command';
import { commandExport } from './export_command';
import { commandIndex } from './index_command';
import { commandSearch } from './search_command';
import { commandTrain } from './train_command';

const COMMANDS: Record<string, { summary: string; run: (argv: string[]) => Promise<number> }> = {
  demo: { summary: 'train and evaluate a small IRRA on built-in SynthPedes data', run: commandDemo },
  train: {
    summary: 'train IRRA on CUHK-PEDES, ICFG-PEDES, RSTPReid or a generic JSON dataset',
    run: (a) => commandTrain(a),
  },
  eval: { summary: 'evaluate a checkpoint: t2i R1, R5, R10, mAP, mINP', run: (a) => commandEval(a) },
  encode: { summary: 'encode images or captions to features (.safetensors or .npy)', run: (a) => commandEncode(a) },
  export: {
    summary: 'export the image and text towers as ONNX graphs (+ preprocess.json)',
    run: (a) => commandExport(a),
  },
  index: { summary: 'index a folder of images for search (memory index file or LanceDB)', run: (a) => commandIndex(a) },
  search: {
    summary: 'search an indexed gallery with text: table, --json lines, --html page with heat maps',
    run: (a) => commandSearch(a),
  },
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(8)} ${c.summary}`);
  return `usage: irra-tfjs <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nRun 'irra-tfjs <command> --help' for a command's options.`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') {
    console.log(usage());
    return name ? 0 : 1;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`irra-tfjs: unknown command '${name}'\n\n${usage()}`);
    return 1;
  }
  return command.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`irra-tfjs: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
