import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(import.meta.dirname, '..', 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** A literal `node:` specifier in a static import or a value-level `import(...)` (not `typeof import(...)`). */
const LITERAL_NODE_IMPORT = /(?:\bfrom\s*|(?<!typeof\s)\bimport\s*\(\s*)['"]node:/;

describe('Node built-ins outside the CLI', () => {
  it('are reached only through util/node.ts (computed specifiers a browser bundler leaves alone)', () => {
    const offenders = sourceFiles(SRC)
      .map((f) => relative(SRC, f).split('\\').join('/'))
      .filter((f) => !f.startsWith('cli/'))
      .filter((f) => LITERAL_NODE_IMPORT.test(readFileSync(join(SRC, f), 'utf8')));
    expect(offenders).toEqual([]);
  });

  it('the check itself sees a plain import of node:fs/promises', () => {
    expect(LITERAL_NODE_IMPORT.test("const fs = await import('node:fs/promises');")).toBe(true);
    expect(LITERAL_NODE_IMPORT.test("import { readFile } from 'node:fs/promises';")).toBe(true);
    expect(LITERAL_NODE_IMPORT.test("as typeof import('node:fs/promises')")).toBe(false);
  });
});
