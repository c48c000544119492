import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Loads `src/index.ts` with the project's tsconfig compiler options. */
function loadProgram(): ts.Program {
  const configPath = join(root, 'tsconfig.json');
  const read = ts.readConfigFile(configPath, (p) => ts.sys.readFile(p));
  if (read.error) throw new Error(ts.flattenDiagnosticMessageText(read.error.messageText, '\n'));
  const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, root, undefined, configPath);
  return ts.createProgram({ rootNames: [join(root, 'src/index.ts')], options: parsed.options });
}

/**
 * True when one of the symbol's own declarations carries a JSDoc/TSDoc comment with some text
 * (a comment inherited from a base class, as `getDocumentationComment` would report, does not count).
 */
function hasDoc(symbol: ts.Symbol): boolean {
  return (symbol.declarations ?? []).some((decl) =>
    ts
      .getJSDocCommentsAndTags(decl)
      .some((doc) => ts.isJSDoc(doc) && (ts.getTextOfJSDocComment(doc.comment) ?? '').trim().length > 0),
  );
}

function where(decl: ts.Declaration): string {
  const sf = decl.getSourceFile();
  const { line } = sf.getLineAndCharacterOfPosition(decl.getStart(sf));
  return `${relative(root, sf.fileName)}:${line + 1}`;
}

function kindOf(decl: ts.Declaration): string | undefined {
  if (ts.isFunctionDeclaration(decl)) return 'function';
  if (ts.isClassDeclaration(decl)) return 'class';
  if (ts.isInterfaceDeclaration(decl)) return 'interface';
  if (ts.isTypeAliasDeclaration(decl)) return 'type';
  if (ts.isEnumDeclaration(decl)) return 'enum';
  if (ts.isVariableDeclaration(decl)) return 'const';
  return undefined;
}

function isPublicMethod(member: ts.ClassElement): member is ts.MethodDeclaration {
  if (!ts.isMethodDeclaration(member)) return false;
  if (ts.isPrivateIdentifier(member.name)) return false;
  const flags = ts.getCombinedModifierFlags(member);
  return (flags & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) === 0;
}

interface Report {
  checked: string[];
  missing: string[];
}

/** Lists every export of src/index.ts (aliases followed) and the ones without a doc comment. */
function auditExports(): Report {
  const program = loadProgram();
  const checker = program.getTypeChecker();
  const index = program.getSourceFile(join(root, 'src/index.ts'));
  if (!index) throw new Error('src/index.ts not found by the TypeScript program');
  const moduleSymbol = checker.getSymbolAtLocation(index);
  if (!moduleSymbol) throw new Error('src/index.ts has no module symbol');

  const checked: string[] = [];
  const missing: string[] = [];
  for (const exported of checker.getExportsOfModule(moduleSymbol)) {
    const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    const decls = (symbol.declarations ?? []).filter((d) => kindOf(d) !== undefined);
    if (decls.length === 0) continue;
    const label = `${exported.name} (${kindOf(decls[0])}, ${where(decls[0])})`;
    checked.push(label);
    if (!hasDoc(symbol)) missing.push(label);

    for (const decl of decls) {
      if (!ts.isClassDeclaration(decl)) continue;
      const seen = new Set<string>();
      for (const member of decl.members) {
        if (!isPublicMethod(member)) continue;
        const memberSymbol = checker.getSymbolAtLocation(member.name);
        if (!memberSymbol) continue;
        const isStatic = (ts.getCombinedModifierFlags(member) & ts.ModifierFlags.Static) !== 0;
        const memberLabel = `${exported.name}${isStatic ? '.' : '#'}${memberSymbol.name} (method, ${where(member)})`;
        if (seen.has(memberLabel.split(' ')[0])) continue;
        seen.add(memberLabel.split(' ')[0]);
        checked.push(memberLabel);
        if (!hasDoc(memberSymbol)) missing.push(memberLabel);
      }
    }
  }
  return { checked, missing };
}

// The project's standard is TSDoc on every export; this audits the public surface (src/index.ts)
// with the TypeScript compiler API. Backend-agnostic, so it runs on the cpu project only.
describe.runIf(process.env.IRRA_TEST_BACKEND === 'cpu')('TSDoc coverage of the public API', () => {
  it('documents every exported function, class (and its public methods), interface, type, enum and const', () => {
    const { checked, missing } = auditExports();
    console.log(`tsdoc: checked ${checked.length} exported declarations, ${missing.length} without a doc comment`);
    expect(checked.length).toBeGreaterThan(50);
    expect(missing, `exports without a TSDoc comment:\n${missing.join('\n')}`).toEqual([]);
  });
});
