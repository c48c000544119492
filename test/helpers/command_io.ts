import type { CommandIO } from '../../src/cli/options';

/** A CommandIO for tests that records what a command writes (`text()`) and its warnings (`warnings`). */
export function captureIO(isTTY = false): CommandIO & { text: () => string; warnings: string[] } {
  const out: string[] = [];
  const warnings: string[] = [];
  return {
    write: (s) => {
      out.push(s);
    },
    isTTY,
    warn: (line) => {
      warnings.push(line);
    },
    text: () => out.join(''),
    warnings,
  };
}
