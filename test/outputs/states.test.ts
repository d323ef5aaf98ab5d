import { describe, expect, it } from 'vitest';
import { JOB_MOVES } from '../../src/jobs/job-store.ts';
import { OUTPUT_MOVES } from '../../src/outputs/states.ts';
import { diagramEdges } from '../support/mermaid.ts';

const OUTPUT_STATUSES = new Set(['released', 'held', 'rejected', 'changes-requested']);

describe('the output state machine', () => {
  it("docs/architecture.md §7 draws exactly the table's moves", () => {
    const table = new Set(Object.values(OUTPUT_MOVES).flatMap((m) => m.from.map((f) => `${f} → ${m.to}`)));
    const drawn = [...diagramEdges('7. Contract and output states')].filter((e) =>
      e.split(' → ').every((s) => OUTPUT_STATUSES.has(s)),
    );
    expect(drawn.sort()).toEqual([...table].sort());
  });

  it("each output move makes a job move that enters the output's new status", () => {
    for (const [name, m] of Object.entries(OUTPUT_MOVES)) expect(JOB_MOVES[m.job].to, name).toBe(m.to);
  });
});
