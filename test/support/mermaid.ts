import fs from 'node:fs';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../src/config/index.ts';

/**
 * The edges (from → to) of the mermaid state diagrams under one heading of docs/architecture.md,
 * the start state `[*]` left out; `changes_requested` reads as the status `changes-requested`.
 */
export function diagramEdges(heading: string): Set<string> {
  const doc = fs.readFileSync(path.join(PACKAGE_ROOT, 'docs', 'architecture.md'), 'utf8');
  const start = doc.indexOf(`\n## ${heading}`);
  if (start < 0) throw new Error(`docs/architecture.md has no section "${heading}"`);
  const end = doc.indexOf('\n## ', start + 1);
  const section = doc.slice(start, end < 0 ? undefined : end);
  const edges = new Set<string>();
  for (const block of section.matchAll(/```mermaid\n([\s\S]*?)```/g))
    for (const m of block[1]!.matchAll(/^\s*([\w*]+)\s*-->\s*([\w*]+)/gm)) {
      if (m[1] === '[*]' || m[1] === '*') continue;
      edges.add(`${m[1]!.replaceAll('_', '-')} → ${m[2]!.replaceAll('_', '-')}`);
    }
  return edges;
}
