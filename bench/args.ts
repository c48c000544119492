/** Command-line arguments of the bench scripts: `--name value` options and `--name` flags. */

/** The arguments after the script's path. */
export const benchArgs: readonly string[] = process.argv.slice(2);

/** The value after `--name`, or `def` when `--name` is absent. */
export function option(name: string, def: string): string {
  const i = benchArgs.indexOf(`--${name}`);
  return i >= 0 ? benchArgs[i + 1] : def;
}

/** The number after `--name`, or `def` when `--name` is absent. */
export function numberOption(name: string, def: number): number {
  const i = benchArgs.indexOf(`--${name}`);
  return i >= 0 ? Number(benchArgs[i + 1]) : def;
}

/** Whether `--name` is on the command line. */
export function flag(name: string): boolean {
  return benchArgs.includes(`--${name}`);
}
