import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseSafetensors } from '../src/weights/safetensors';
import { fixturePath } from './helpers/fixtures';

describe('parseSafetensors', () => {
  it('reads every fixture file with shapes consistent with sizes', () => {
    for (const f of ['losses.safetensors', 'metrics.safetensors', 'posembed.safetensors']) {
      const { tensors } = parseSafetensors(readFileSync(fixturePath(f)));
      expect(tensors.size).toBeGreaterThan(0);
      for (const [, t] of tensors) expect(t.data.length).toBe(t.shape.reduce((a, b) => a * b, 1));
    }
  });
  it('rejects a truncated file naming the problem', () => {
    const bytes = readFileSync(fixturePath('posembed.safetensors'));
    expect(() => parseSafetensors(bytes.subarray(0, 4))).toThrow(/shorter than the 8-byte header/);
    expect(() => parseSafetensors(bytes.subarray(0, 100))).toThrow(/header length/);
    expect(() => parseSafetensors(bytes.subarray(0, bytes.length - 1))).toThrow(
      /outside the data section|data_offsets/,
    );
  });
});
