import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../src/config/index.ts';

/** docs/architecture.md tells the truth about the parts, and what the code cites of docs/ exists. */

const SRC = path.join(PACKAGE_ROOT, 'src');
const DOCS = path.join(PACKAGE_ROOT, 'docs');

function files(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) =>
      e.isDirectory() ? files(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
    );
}

interface Section {
  number: number | undefined;
  title: string;
  body: string;
}

/** A document's `## N. Title` sections (a heading without a number has none). */
function sections(doc: string): Section[] {
  return doc
    .split(/^(?=## )/m)
    .filter((s) => s.startsWith('## '))
    .map((s) => {
      const m = /^## (?:(\d+)\. )?(.*)$/m.exec(s)!;
      return { number: m[1] ? Number(m[1]) : undefined, title: m[2]!.trim(), body: s };
    });
}

/** The names a passage can be cited by: its headings, and the bold or italic words that lead a paragraph or item. */
function names(text: string): string[] {
  const found = [...text.matchAll(/^#+ (?:\d+\. )?(.+)$/gm)].map((m) => m[1]!);
  for (const m of text.matchAll(/^\s*(?:- |\d+\. )?(\*\*?)([^*\n]+)\1/gm)) found.push(m[2]!);
  return found.map((n) => n.toLowerCase());
}

interface Citation {
  file: string;
  doc: string;
  sections: number[];
  title: string | undefined;
}

/**
 * Citations of docs/*.md in a source text: `docs/x.md §4`, `docs/x.md §9, §12`, `docs/x.md, "Title"`,
 * `docs/x.md §17, "Title"`, `docs/x.md «Title»`, `docs/x.md, *Title*` — across comment line breaks.
 */
function citations(file: string, text: string): Citation[] {
  const flat = text.replace(/\n\s*(?:\*(?!\/)|\/\/)?\s*/g, ' ');
  return [...flat.matchAll(/docs\/([a-z-]+\.md)((?:,? ?§ ?\d+)*)(?:,? ?(?:"([^"]+)"|«([^»]+)»|\*([^*]+)\*))?/g)].map(
    (m) => ({
      file,
      doc: m[1]!,
      sections: [...m[2]!.matchAll(/\d+/g)].map((n) => Number(n[0])),
      title: m[3] ?? m[4] ?? m[5],
    }),
  );
}

/** Why a citation names nothing in the docs; undefined when it names something. */
function missing(c: Citation, docText: string | undefined): string | undefined {
  if (docText === undefined) return `docs/${c.doc} does not exist`;
  const all = sections(docText);
  for (const n of c.sections) if (!all.some((s) => s.number === n)) return `docs/${c.doc} has no §${n}`;
  if (!c.title) return undefined;
  const title = c.title.toLowerCase().replace(/[.,;:]$/, '');
  const where = c.sections.length ? all.filter((s) => c.sections.includes(s.number!)).map((s) => s.body) : [docText];
  if (where.some((body) => names(body).some((n) => n.startsWith(title)))) return undefined;
  return `docs/${c.doc}${c.sections.map((n) => ` §${n}`).join(',')} has no heading or lead "${c.title}"`;
}

describe('docs', () => {
  const architecture = fs.readFileSync(path.join(DOCS, 'architecture.md'), 'utf8');

  it("§1's table of parts names every folder under src/", () => {
    const parts = sections(architecture).find((s) => s.number === 1)!.body;
    const rows = parts.split('\n').filter((l) => l.startsWith('| `'));
    const named = new Set(rows.flatMap((r) => [...r.split('|')[1]!.matchAll(/`([a-z-]+)\/`/g)].map((m) => m[1]!)));
    const folders = fs
      .readdirSync(SRC, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
    expect(folders.filter((f) => !named.has(f))).toEqual([]);
    // and names no part that is gone
    expect([...named].filter((n) => !folders.includes(n))).toEqual([]);
  });

  it('only config/, sandbox/ and cli/ read process.env, as §1 says', () => {
    const readers = new Set(
      files(SRC)
        .filter((f) => /process\.env\b/.test(fs.readFileSync(f, 'utf8')))
        .map((f) => path.relative(SRC, f).split(path.sep)[0]!),
    );
    expect([...readers].sort()).toEqual(['cli', 'config', 'sandbox']);
    expect(architecture).toContain('two parts read `process.env`');
  });

  it('every section of docs/*.md a source file cites exists', () => {
    const docs = new Map(
      fs
        .readdirSync(DOCS)
        .filter((f) => f.endsWith('.md'))
        .map((f) => [f, fs.readFileSync(path.join(DOCS, f), 'utf8')]),
    );
    const all = files(SRC).flatMap((f) => citations(path.relative(PACKAGE_ROOT, f), fs.readFileSync(f, 'utf8')));
    expect(all.length).toBeGreaterThan(100);
    const wrong = all.flatMap((c) => {
      const why = missing(c, docs.get(c.doc));
      return why ? [`${c.file}: ${why}`] : [];
    });
    expect(wrong).toEqual([]);
  });

  it('the citation check itself finds a missing section, a missing title, and a title outside its section', () => {
    const doc = '# D\n\n## 1. One\n\n- **Lead words.** text\n\n## 2. Two\n\n### Sub part\n';
    const check = (text: string) => citations('x.ts', text).map((c) => missing(c, doc) ?? 'ok');
    expect(check('see docs/d.md §1 and docs/d.md, "Two" and docs/d.md §2, «Sub part»')).toEqual(['ok', 'ok', 'ok']);
    expect(check('(docs/d.md §1, "Lead words") (docs/d.md, *One*) (docs/d.md §1, §2)')).toEqual(['ok', 'ok', 'ok']);
    expect(check('/**\n * as docs/d.md,\n * "Sub part" says */')).toEqual(['ok']);
    expect(check('docs/d.md §3')).toEqual(['docs/d.md has no §3']);
    expect(check('docs/d.md, "Three"')).toEqual(['docs/d.md has no heading or lead "Three"']);
    expect(check('docs/d.md §2, "Lead words"')).toEqual(['docs/d.md §2 has no heading or lead "Lead words"']);
    expect(citations('x.ts', 'docs/e.md §1').map((c) => missing(c, undefined))).toEqual(['docs/e.md does not exist']);
  });
});
