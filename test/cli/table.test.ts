import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MODE, ROLE, STATUS } from '../../src/terms/index.ts';
import { displayWidth, modeText, rolesText, statusText, table } from '../../src/cli/table.ts';
import { classesBelowK } from '../../src/cli/views.ts';

describe('the CLI’s tables', () => {
  it('counts Chinese characters and full-width punctuation as two cells, combining marks as none', () => {
    expect(displayWidth('population')).toBe(10);
    expect(displayWidth('市公安局')).toBe(8);
    expect(displayWidth('district、gender')).toBe(16);
    expect(displayWidth('（δ 0）')).toBe(7);
    expect(displayWidth('e\u0301')).toBe(1);
    expect(displayWidth('ε ±')).toBe(3);
  });

  it('lines columns up by display width, whatever the script', () => {
    const lines = table(
      ['数据集', '提供单位', 'k'],
      [
        ['population', '市公安局', 1],
        ['medical_visit', '市卫生健康委员会', null],
      ],
    );
    // each column starts at the same cell on every line
    const starts = (line: string, cells: string[]) => cells.map((c) => displayWidth(line.slice(0, line.indexOf(c))));
    expect(starts(lines[0]!, ['数据集', '提供单位', 'k'])).toEqual([0, 15, 33]);
    expect(starts(lines[2]!, ['population', '市公安局', '1'])).toEqual([0, 15, 33]);
    expect(starts(lines[3]!, ['medical_visit', '市卫生健康委员会', '—'])).toEqual([0, 15, 33]);
    expect(lines[1]).toMatch(/^-{13} {2}-{16} {2}-$/);
    expect(table(['a'], [], '没有作业')).toEqual(['没有作业']);
  });

  it('shows statuses, modes and roles in the words of src/terms, each with its code', () => {
    expect(statusText('held')).toBe('待人工审核 (held)');
    expect(statusText('something-new')).toBe('something-new');
    expect(modeText('dp')).toBe('差分隐私 (dp)');
    expect(rolesText(['operator', 'bureau'])).toBe('授权运营单位 (operator)、数据主管部门 (bureau)');
  });

  it('keeps no dictionary of its own: a word changed in src/terms changes in the CLI', () => {
    // the console and the CLI once each had a copy of the statuses (issue 33): one source now
    const saved = STATUS.held;
    STATUS.held = '另一个词';
    try {
      expect(statusText('held')).toBe('另一个词 (held)');
    } finally {
      STATUS.held = saved!;
    }
    // and no file of the CLI maps a code to a word itself (`held: '待人工审核'`)
    const dir = new URL('../../src/cli/', import.meta.url);
    const files = fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
    const copies = files.flatMap((f) => {
      const src = fs.readFileSync(new URL(f, dir), 'utf8');
      return Object.entries({ ...STATUS, ...MODE, ...ROLE })
        .filter(([code, word]) => new RegExp(`'?${code}'?:\\s*'${word}'`).test(src))
        .map(([code]) => `${f}: ${code}`);
    });
    expect(copies).toEqual([]);
  });

  it('counts the classes below k from the size buckets, as a floor when a bucket straddles k', () => {
    const risk = (policyK: number) => ({
      quasiIdentifiers: [],
      sensitive: [],
      records: 0,
      classes: 0,
      k: 1,
      policyK,
      recordsBelowK: 0,
      shareBelowK: 0,
      prosecutorRisk: 1,
      averageRisk: 0,
      lDiversity: {},
      classSizes: [
        { size: '1', classes: 10, records: 10 },
        { size: '2', classes: 9, records: 18 },
        { size: '3-4', classes: 10, records: 36 },
        { size: '5-9', classes: 27, records: 189 },
        { size: '100+', classes: 2, records: 400 },
      ],
    });
    expect(classesBelowK(risk(5))).toBe('29');
    expect(classesBelowK(risk(10))).toBe('56');
    expect(classesBelowK(risk(4))).toBe('≥ 19');
    expect(classesBelowK(risk(200))).toBe('≥ 56');
  });
});
