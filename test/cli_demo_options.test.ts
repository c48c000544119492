import { describe, expect, it } from 'vitest';
import { DEMO_DEFAULTS } from '../src/cli/demo';
import { DEMO_COMMAND_DEFAULTS, demoHelp, parseDemoOptions } from '../src/cli/demo_command';

describe('irra-tfjs demo options (the commands parser, snake_case)', () => {
  it('defaults are DEMO_DEFAULTS; every flag is snake_case and converted', () => {
    expect(parseDemoOptions([])).toEqual(DEMO_COMMAND_DEFAULTS);
    expect(DEMO_COMMAND_DEFAULTS.batch_size).toBe(DEMO_DEFAULTS.batchSize);
    const o = parseDemoOptions([
      '--seed',
      '3',
      '--epochs',
      '2',
      '--max_seconds',
      '60',
      '--losses',
      'itc+id',
      '--batch_size',
      '16',
      '--lr',
      '1e-3',
      '--eps',
      '1e-6',
      '--warmup_epochs',
      '0',
      '--temperature',
      '0.07',
      '--identities',
      '90',
      '--test_identities',
      '30',
      '--images_per_identity',
      '3',
      '--caption_masking',
      'reference',
      '--img_aug',
      '--workers',
      '1',
      '--no_clip',
      '--no_report',
      '--json',
    ]);
    expect(o).toMatchObject({
      seed: 3,
      epochs: 2,
      max_seconds: 60,
      losses: ['itc', 'id'],
      batch_size: 16,
      lr: 1e-3,
      eps: 1e-6,
      warmup_epochs: 0,
      temperature: 0.07,
      identities: 90,
      test_identities: 30,
      images_per_identity: 3,
      caption_masking: 'reference',
      img_aug: true,
      workers: 1,
      no_clip: true,
      no_report: true,
      json: true,
    });
    expect(parseDemoOptions(['--help'])).toBeNull();
    const help = demoHelp();
    for (const flag of [
      '--batch_size N',
      '--max_seconds N',
      '--caption_masking',
      '--img_aug',
      '--no_clip',
      '--no_report',
      '--json',
    ]) {
      expect(help).toContain(flag);
    }
    expect(help).toMatch(/--batch_size N\s+training batch size \(default 32\)/);
    expect(help).not.toMatch(/--[a-z]+-[a-z]/);
  });

  it('a missing, malformed or out-of-range value, an unknown or kebab-case flag: errors naming the flag', () => {
    expect(() => parseDemoOptions(['--batch_size'])).toThrow(/demo: .*--batch_size.* argument missing/);
    expect(() => parseDemoOptions(['--batch_size', 'x'])).toThrow("demo: --batch_size: expected an integer, got 'x'");
    expect(() => parseDemoOptions(['--epochs', '0'])).toThrow("demo: --epochs: expected a value >= 1, got '0'");
    expect(() => parseDemoOptions(['--lr', '0'])).toThrow("demo: --lr: expected a value > 0, got '0'");
    expect(() => parseDemoOptions(['--losses', 'sdm+nope'])).toThrow(/demo: --losses: unknown loss 'nope'/);
    expect(() => parseDemoOptions(['--caption_masking', 'masked'])).toThrow(
      "demo: --caption_masking: expected one of reference, clean, got 'masked'",
    );
    expect(() => parseDemoOptions(['--temperature', '0'])).toThrow(
      "demo: --temperature: expected a value > 0, got '0'",
    );
    expect(() => parseDemoOptions(['--eps', '0'])).toThrow("demo: --eps: expected a value > 0, got '0'");
    expect(() => parseDemoOptions(['--warmup_epochs', '1.5'])).toThrow(
      "demo: --warmup_epochs: expected an integer, got '1.5'",
    );
    expect(() => parseDemoOptions(['--test_identities', '0'])).toThrow(
      "demo: --test_identities: expected a value >= 1, got '0'",
    );
    expect(() => parseDemoOptions(['--batch-size', '8'])).toThrow("demo: unknown option '--batch-size'");
    expect(() => parseDemoOptions(['8'])).toThrow(/demo: unexpected argument '8'/);
  });
});
