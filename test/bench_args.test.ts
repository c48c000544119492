import { afterEach, describe, expect, it, vi } from 'vitest';

/** bench/args.ts read with `argv` as the script's arguments (it reads process.argv when imported). */
async function benchArgsWith(argv: string[]) {
  vi.resetModules();
  const saved = process.argv;
  process.argv = [saved[0], 'bench/x.ts', ...argv];
  try {
    return await import('../bench/args');
  } finally {
    process.argv = saved;
  }
}

describe('bench arguments (the commands parser)', () => {
  afterEach(() => vi.resetModules());

  it('reads values, numbers, integer lists and flags; defaults when absent', async () => {
    const a = await benchArgsWith(['--repeats', '5', '--lr', '1e-3', '--sizes', '10,20', '--no_write', '--part', 'x']);
    expect(a.numberOption('repeats', 3)).toBe(5);
    expect(a.numberOption('lr', 1)).toBe(1e-3);
    expect(a.numberOption('batch', 8)).toBe(8);
    expect(a.integersOption('sizes', [1])).toEqual([10, 20]);
    expect(a.integersOption('other', [1])).toEqual([1]);
    expect(a.option('part', 'all')).toBe('x');
    expect(a.option('backends', 'wasm,cpu')).toBe('wasm,cpu');
    expect(a.flag('no_write')).toBe(true);
    expect(a.flag('no_peer')).toBe(false);
  });

  it('a missing or malformed value throws an Error naming the flag (no silent NaN)', async () => {
    const a = await benchArgsWith(['--repeats', 'three', '--batch', '--no_write', '--sizes', '1,x', '--top']);
    expect(() => a.numberOption('repeats', 3)).toThrow("bench: --repeats: expected a number, got 'three'");
    expect(() => a.numberOption('batch', 8)).toThrow("bench: --batch: expected a value after it, got '--no_write'");
    expect(() => a.option('top', '14')).toThrow('bench: --top: expected a value after it, got nothing');
    expect(() => a.integersOption('sizes', [1])).toThrow("bench: --sizes: expected an integer, got '1,x'");
  });
});
