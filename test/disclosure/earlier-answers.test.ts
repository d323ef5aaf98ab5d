import { describe, expect, it } from 'vitest';
import { answerFromEarlier, cellsFingerprint, type Cell, type Statistics } from '../../src/disclosure/index.ts';
import { range, sig } from './unit-sets.ts';

// one key column (district) and one statistic (a count) of one identity
const STATS: Statistics = { ids: [null, 'count-of-people'], rowKeys: [] };
const cell = (district: string, members: number[], n: number | null, shown = true): Cell => ({
  units: members.length,
  shown,
  row: [district, shown ? n : null],
  sig: sig(members),
});
const earlierOf = (outputId: string, cells: Cell[], statistics: Statistics = STATS) => ({
  outputId,
  fingerprint: cellsFingerprint([{ name: 'district' }, { name: 'n' }], cells, [0], statistics),
});

describe('answers from earlier cells', () => {
  it('a set and the set less one person get the earlier answer, and so does the same set', () => {
    const before = [earlierOf('out_1', [cell('A', range(0, 40), 40)])];
    for (const members of [range(0, 40), range(1, 40), range(2, 40), [...range(0, 40), 41]]) {
      const { cells, answered } = answerFromEarlier([cell('A', members, members.length + 3)], [0], STATS, before);
      expect(cells[0]!.row).toEqual(['A', 40]);
      expect(answered).toBe(1);
    }
    // three people apart: its own answer
    const far = answerFromEarlier([cell('A', range(3, 40), 37)], [0], STATS, before);
    expect(far.cells[0]!.row).toEqual(['A', 37]);
    expect(far.answered).toBe(0);
  });

  it('shown or suppressed as the earlier cell was: no "k at one, k − 1 at the other"', () => {
    const shownBefore = [earlierOf('out_1', [cell('A', range(0, 10), 10)])];
    // 9 people would be suppressed alone; the earlier cell of 10 was shown
    const lessOne = answerFromEarlier([cell('A', range(1, 10), null, false)], [0], STATS, shownBefore);
    expect(lessOne.cells[0]).toMatchObject({ shown: true, row: ['A', 10] });
    const hiddenBefore = [earlierOf('out_1', [cell('A', range(0, 9), null, false)])];
    const plusOne = answerFromEarlier([cell('A', range(0, 10), 10)], [0], STATS, hiddenBefore);
    expect(plusOne.cells[0]).toMatchObject({ shown: false, row: ['A', null] });
  });

  it('a statistic the earlier cell did not have is the cell’s own, or empty where the cell alone would be suppressed', () => {
    const other: Statistics = { ids: [null, 'mean-income'], rowKeys: [] };
    const before = [earlierOf('out_1', [cell('A', range(0, 10), 10)], STATS)];
    const own = answerFromEarlier([{ ...cell('A', range(0, 10), 523.5) }], [0], other, before);
    expect(own.cells[0]!.row).toEqual(['A', 523.5]);
    const hidden = answerFromEarlier([cell('A', range(1, 10), null, false)], [0], other, before);
    expect(hidden.cells[0]).toMatchObject({ shown: true, row: ['A', null] });
  });

  it('the oldest of equally near earlier cells answers, so a chain of neighbours keeps one answer', () => {
    const newestFirst = [
      earlierOf('out_2', [cell('A', range(1, 40), 45)]),
      earlierOf('out_1', [cell('A', range(1, 40), 40)]),
    ];
    expect(answerFromEarlier([cell('A', range(1, 40), 50)], [0], STATS, newestFirst).cells[0]!.row).toEqual(['A', 40]);
  });

  it('its report reads the same whatever happened', () => {
    const before = [earlierOf('out_1', [cell('A', range(0, 40), 40)])];
    const a = answerFromEarlier([cell('A', range(1, 40), 41)], [0], STATS, before);
    const b = answerFromEarlier([cell('B', range(100, 140), 41)], [0], STATS, before);
    expect(a.answered).toBe(1);
    expect(b.answered).toBe(0);
    expect(a.report).toEqual(b.report);
  });
});
