import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { irraConfig } from '../src/config';
import { IRRA } from '../src/model';
import { ClipTokenizer } from '../src/tokenizer/index';
import { vocabBytes } from './helpers/fixtures';

describe('Symbol.dispose (`using`)', () => {
  it('IRRA: the parameters are freed at the end of the scope and the model refuses further use', () => {
    const before = tf.memory().numTensors;
    let escaped: IRRA | undefined;
    {
      using model = IRRA.create(irraConfig({ preset: 'tiny', numClasses: 4 }), { seed: 1 });
      escaped = model;
      expect(tf.memory().numTensors - before).toBe(model.countTensors());
    }
    expect(tf.memory().numTensors).toBe(before);
    const ids = new Int32Array(escaped.config.contextLength);
    ids[0] = escaped.config.vocabSize - 1;
    expect(() => escaped?.encodeText(ids)).toThrow(/IRRA: this model has been disposed/);
    expect(() => escaped?.[Symbol.dispose]()).not.toThrow();
  });

  it('ClipTokenizer: the end of the scope empties the BPE cache; the tokenizer stays usable', () => {
    let escaped: ClipTokenizer | undefined;
    let ids: Int32Array | undefined;
    {
      using tok = ClipTokenizer.fromGzip(vocabBytes());
      escaped = tok;
      ids = tok.tokenizeToArray(['a woman in a red coat']);
      expect(tok.cacheSize).toBeGreaterThan(0);
    }
    expect(escaped.cacheSize).toBe(0);
    expect(Array.from(escaped.tokenizeToArray(['a woman in a red coat']))).toEqual(Array.from(ids));
  });
});
