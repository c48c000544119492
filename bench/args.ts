/**
 * Command-line arguments of the bench scripts: `--name value` options and `--name` flags, names in
 * snake_case as every command's. Values are converted by the commands' parser
 * (`optionValue`, src/cli/options.ts): a missing or malformed value throws an Error naming the flag.
 */
import { optionValue } from '../src/cli/options';

/** The arguments after the script's path. */
export const benchArgs: readonly string[] = process.argv.slice(2);

/** The text after `--name`; undefined when `--name` is absent; throws when no value follows it. */
function valueText(name: string): string | undefined {
  const i = benchArgs.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const text = benchArgs[i + 1];
  if (text === undefined || text.startsWith('--')) {
    throw new Error(`bench: --${name}: expected a value after it, got ${text === undefined ? 'nothing' : `'${text}'`}`);
  }
  return text;
}

/** The value after `--name`, or `def` when `--name` is absent. */
export function option(name: string, def: string): string {
  return valueText(name) ?? def;
}

/** The number after `--name`, or `def` when `--name` is absent; throws on a value that is not a number. */
export function numberOption(name: string, def: number): number {
  const text = valueText(name);
  return text === undefined ? def : (optionValue('bench', name, { kind: 'number', help: '' }, text) as number);
}

/** The comma-separated integers after `--name`, or `def` when `--name` is absent; throws on anything else. */
export function integersOption(name: string, def: number[]): number[] {
  const text = valueText(name);
  return text === undefined ? def : (optionValue('bench', name, { kind: 'ints', help: '' }, text) as number[]);
}

/** Whether `--name` is on the command line. */
export function flag(name: string): boolean {
  return benchArgs.includes(`--${name}`);
}
