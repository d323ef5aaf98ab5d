/**
 * A check's effect in the console's words (issue 33): the specifics the API's English `effect`
 * names come as the check's `facts`, and the console says them in Chinese without parsing the
 * sentence — the output a held differencing check was paired with, a held output's row count.
 */
import { describe, expect, it } from 'vitest';
import { checksTable, heldReasons } from '../../src/console/pages/outputs.ts';

type Check = Parameters<typeof checksTable>[0][number];
const text = (checks: Check[]) => String(checksTable(checks));

describe('checksTable', () => {
  it("names a held differencing check's paired output, as a link, in the Chinese sentence", () => {
    const page = text([
      {
        check: 'differencing',
        params: { k: 10, compared: 3, method: 'group-names' },
        passed: false,
        onFail: 'hold',
        facts: { pairedWith: 'out_earlier', rows: 2 },
        effect: '2 row(s) differ from output out_earlier, made before unit-set signatures, by fewer than 10 units',
      },
    ]);
    expect(page).toContain(
      '与早先输出 <a href="/console/outputs/out_earlier"><code>out_earlier</code></a> 相比，有 2 行的人数相差少于 10 人',
    );
    expect(page).toContain('未通过（转人工审核）');
  });

  it("says a held max-rows check's rows against the cap", () => {
    const page = text([
      {
        check: 'max-rows',
        params: { maxRows: 3 },
        passed: false,
        onFail: 'hold',
        facts: { rows: 17 },
        effect: '17 rows exceed the cap of 3; the output is held for review',
      },
    ]);
    expect(page).toContain('共 17 行，超过上限 3 行：转人工审核');
  });

  it('a passed check, or one stored before facts, reads as what the check does, naming nothing', () => {
    const page = text([
      {
        check: 'differencing',
        params: { k: 10, compared: 3, method: 'unit-sets' },
        passed: true,
        effect: 'cells one or two people apart from another cell of yours are answered as the earlier cell was',
      },
      {
        check: 'differencing',
        params: { k: 10, compared: 1, method: 'group-names' },
        passed: false,
        onFail: 'hold',
        effect: '1 row(s) differ from output out_old, made before unit-set signatures, by fewer than 10 units',
      },
    ]);
    expect(page).not.toContain('/console/outputs/');
    expect(page.match(/与早先输出相差的人数少于阈值时转人工审核/g)).toHaveLength(2);
  });
});

describe('heldReasons', () => {
  it('names the forging worker, the forged job and when, from the withheld facts', () => {
    const words = String(
      heldReasons({
        checks: [],
        withheld: { workerId: 'wrk_liar', forgedJobId: 'job_forged', at: '2026-12-07T15:16:56.529Z' },
      }),
    );
    expect(words).toMatch(
      /^工作节点 <code>wrk_liar<\/code> 于 2026-12-07 23:16:56 \+08:00 被发现伪造作业\s+<code>job_forged<\/code> 的结果；此输出未经抽查核验，已被扣留$/,
    );
  });

  it("joins a held check's words and the paired output; nothing held reads as a dash", () => {
    const words = String(
      heldReasons({
        checks: [
          {
            check: 'differencing',
            params: { k: 10 },
            passed: false,
            onFail: 'hold',
            facts: { pairedWith: 'out_a', rows: 1 },
            effect: '…',
          },
          { check: 'max-rows', params: { maxRows: 3 }, passed: false, onFail: 'hold', effect: '…' },
        ],
      }),
    );
    expect(words).toBe(
      '差分比对未通过（与输出 <a href="/console/outputs/out_a"><code>out_a</code></a> 配对）；最多行数未通过',
    );
    expect(heldReasons({ checks: [] })).toBe('—');
  });
});
