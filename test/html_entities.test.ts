import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { htmlDecodeTree } from 'entities/lib/decode.js';
import { describe, expect, it } from 'vitest';
import {
  ENTITIES_MODULE,
  entityTableFromTrie,
  pythonEntityTable,
  renderEntitiesModule,
  tableDifferences,
} from '../scripts/build_html_entities';
import { HTML5_ENTITIES } from '../src/tokenizer/html_entities';

const hasPython = (() => {
  try {
    execFileSync('python3', ['-c', 'import html.entities'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe('HTML5_ENTITIES (src/tokenizer/html_entities.ts)', () => {
  const generated = entityTableFromTrie(htmlDecodeTree);

  it('is what scripts/build_html_entities.ts generates, to the byte', () => {
    expect(Object.keys(generated)).toHaveLength(2231);
    expect(tableDifferences(HTML5_ENTITIES as Record<string, string>, generated)).toEqual([]);
    expect(Object.keys(HTML5_ENTITIES)).toEqual(Object.keys(generated));
    expect(readFileSync(ENTITIES_MODULE, 'utf8')).toBe(renderEntitiesModule(generated));
  });

  it('holds the legacy names without a semicolon, multi-character and astral replacements', () => {
    expect(HTML5_ENTITIES.amp).toBe('&');
    expect(HTML5_ENTITIES['amp;']).toBe('&');
    expect(HTML5_ENTITIES.eacute).toBe('\u00e9');
    expect(HTML5_ENTITIES['apos;']).toBe("'");
    expect(HTML5_ENTITIES.apos).toBeUndefined(); // not a legacy name: only with ';'
    expect(HTML5_ENTITIES['nGt;']).toBe('\u226b\u20d2');
    expect(HTML5_ENTITIES['fjlig;']).toBe('fj');
    expect(HTML5_ENTITIES['Afr;']).toBe('\u{1d504}');
    expect(HTML5_ENTITIES['NewLine;']).toBe('\n');
    expect(Object.keys(HTML5_ENTITIES).filter((k) => !k.endsWith(';'))).toHaveLength(106);
  });

  it('renders strings as the formatter writes them', () => {
    expect(renderEntitiesModule({ 'a;': "'", b: '\\', 'c;': '\u{1d504}\t' }).split('\n').slice(-5)).toEqual([
      `  'a;': "'",`,
      "  b: '\\\\',",
      "  'c;': '\\ud835\\udd04\\t',",
      '};',
      '',
    ]);
  });

  it.runIf(hasPython)("equals Python's html.entities.html5, the table the reference's html.unescape uses", () => {
    expect(tableDifferences(HTML5_ENTITIES as Record<string, string>, pythonEntityTable())).toEqual([]);
  });
});
