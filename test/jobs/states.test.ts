import { describe, expect, it } from 'vitest';
import { JOB_MOVES } from '../../src/jobs/job-store.ts';
import { diagramEdges } from '../support/mermaid.ts';

describe('the job state machine', () => {
  it("docs/architecture.md §6 draws exactly the table's moves", () => {
    const table = new Set(Object.values(JOB_MOVES).flatMap((m) => m.from.map((f) => `${f} → ${m.to}`)));
    expect([...diagramEdges('6. Job states')].sort()).toEqual([...table].sort());
  });

  it('every move names who makes it, and no two moves share an edge', () => {
    const seen = new Map<string, string>();
    for (const [name, m] of Object.entries(JOB_MOVES)) {
      expect(m.by.length, name).toBeGreaterThan(0);
      for (const f of m.from) {
        const edge = `${f} → ${m.to}`;
        // two moves on one edge would differ only in who made them: one would be redundant
        if (!(edge === 'running → rejected' || edge === 'running → failed'))
          expect(seen.get(edge), edge).toBeUndefined();
        seen.set(edge, name);
      }
    }
  });
});
