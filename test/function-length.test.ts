import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../src/config/index.ts';

/**
 * No function in src/ is over 80 lines (/work/shared/STYLE.md), unless a comment right above it
 * says why (a line starting `// Long:`) or it is one of the offenders listed in
 * test/function-lengths.json, which may shrink but not grow. Regenerate the list with
 * `UPDATE_FUNCTION_LENGTHS=1 npx vitest run test/function-length.test.ts`.
 */

const MAX = 80;
const SRC = path.join(PACKAGE_ROOT, 'src');
const LIST = path.join(PACKAGE_ROOT, 'test', 'function-lengths.json');

interface Long {
  /** `src/…/file.ts:name` */
  key: string;
  lines: number;
  /** The `// Long:` comment's reason, if one is right above it. */
  reason: string | undefined;
}

function files(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory() ? files(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
    );
}

/** The reason in a `// Long: …` line among the comments right above `node`. */
function longReason(text: string, node: ts.Node): string | undefined {
  for (const c of ts.getLeadingCommentRanges(text, node.getFullStart()) ?? []) {
    const m = /^\/\/\s*Long:\s*(\S.*)$/m.exec(text.slice(c.pos, c.end));
    if (m) return m[1];
  }
  return undefined;
}

/** The functions over `max` lines in one source text: declarations, methods, and functions held by a variable. */
function longFunctions(file: string, text: string, max = MAX): Long[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found: Long[] = [];
  const visit = (n: ts.Node): void => {
    let name: string | undefined;
    let commented: ts.Node = n;
    if ((ts.isFunctionDeclaration(n) || ts.isMethodDeclaration(n)) && n.body) name = n.name?.getText(sf);
    else if ((ts.isArrowFunction(n) || ts.isFunctionExpression(n)) && ts.isVariableDeclaration(n.parent)) {
      name = n.parent.name.getText(sf);
      // the comment sits above `const name = …`, the statement holding the declaration
      commented = ts.isVariableDeclarationList(n.parent.parent) ? n.parent.parent.parent : n.parent;
    }
    if (name) {
      const lines =
        sf.getLineAndCharacterOfPosition(n.end).line - sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1;
      if (lines > max) found.push({ key: `${file}:${name}`, lines, reason: longReason(text, commented) });
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return found;
}

function longInSrc(): Long[] {
  return files(SRC).flatMap((f) =>
    longFunctions(path.relative(PACKAGE_ROOT, f).split(path.sep).join('/'), fs.readFileSync(f, 'utf8')),
  );
}

/** Today's offenders without a reason, longest kept when a name repeats in a file. */
function offenders(long: Long[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of long.filter((l) => !l.reason)) out[l.key] = Math.max(out[l.key] ?? 0, l.lines);
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

describe('function length', () => {
  it(`no function in src/ is over ${MAX} lines without a reason, and none listed grows`, () => {
    const now = offenders(longInSrc());
    if (process.env.UPDATE_FUNCTION_LENGTHS) fs.writeFileSync(LIST, `${JSON.stringify(now, null, 2)}\n`);
    const listed = JSON.parse(fs.readFileSync(LIST, 'utf8')) as Record<string, number>;
    const problems: string[] = [];
    for (const [key, lines] of Object.entries(now)) {
      if (listed[key] === undefined)
        problems.push(
          `${key} is ${lines} lines (over ${MAX}): split it, or put a "// Long: <why>" comment right above it`,
        );
      else if (lines > listed[key])
        problems.push(`${key} grew from ${listed[key]} to ${lines} lines: it is listed to shrink, not to grow`);
    }
    for (const [key, lines] of Object.entries(listed))
      if (now[key] === undefined)
        problems.push(
          `${key} (listed at ${lines}) is now at most ${MAX} lines, or gone: remove its entry from test/function-lengths.json`,
        );
    expect(problems).toEqual([]);
  });

  it('finds a long function of each form, and lets a "// Long:" comment right above it through', () => {
    const body = Array.from({ length: MAX }, (_, i) => `  x += ${i};`).join('\n');
    const text = [
      `function plain() {\n${body}\n}`,
      `const arrow = () => {\n${body}\n};`,
      `class C {\n  method() {\n${body}\n  }\n}`,
      `// Long: one table of cases, read top to bottom\nfunction excused() {\n${body}\n}`,
      `/** A doc comment. */\n// Long: the reason after the doc comment\nexport const excusedArrow = function () {\n${body}\n};`,
      `function short() {\n  return 1;\n}`,
    ].join('\n\n');
    const found = longFunctions('x.ts', text);
    expect(found.map((l) => [l.key, l.lines, l.reason])).toEqual([
      ['x.ts:plain', MAX + 2, undefined],
      ['x.ts:arrow', MAX + 2, undefined],
      ['x.ts:method', MAX + 2, undefined],
      ['x.ts:excused', MAX + 2, 'one table of cases, read top to bottom'],
      ['x.ts:excusedArrow', MAX + 2, 'the reason after the doc comment'],
    ]);
    expect(offenders(found)).toEqual({ 'x.ts:arrow': MAX + 2, 'x.ts:method': MAX + 2, 'x.ts:plain': MAX + 2 });
  });
});
