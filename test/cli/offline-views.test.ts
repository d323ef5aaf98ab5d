import { describe, expect, it } from 'vitest';
import { ingestLines, outputCheckLines, seedLines } from '../../src/cli/offline-views.ts';

const version = (dataset: string, rows: number) => ({
  dataset,
  version: 2,
  rows,
  contentHash: 'ab'.repeat(32),
  source: 'seed',
  loadedAt: '2026-12-07T15:16:56.529Z',
  findings: [],
});

describe('what the offline commands tell a person', () => {
  it('seed: a dataset a row, then where and how long', () => {
    const lines = seedLines('/data', { population: version('population', 2000) }, 1234);
    expect(lines[0]).toMatch(/^数据集\s+版本\s+行数\s+内容哈希$/);
    expect(lines[2]).toMatch(/^population\s+2\s+2000\s+abababababababab…$/);
    expect(lines.at(-1)).toBe('已在 /data 生成合成数据，用时 1.2 秒');
  });

  it('ingest: the new version, and each finding with its line numbers', () => {
    const clean = ingestLines({ version: version('population', 5), findings: [], fileSha256: '' });
    expect(clean).toEqual([`已导入 population 第 2 版：5 行，内容哈希 ${'ab'.repeat(8)}…`, '数据质量：未发现问题']);
    const found = ingestLines({
      version: version('population', 5),
      findings: [{ check: 'null', column: 'income', count: 2, samples: [{ line: 3, value: '' }] }],
      fileSha256: '',
    });
    expect(found[1]).toBe('数据质量：income 有 2 处 null（例：第 3 行：）');
  });

  it('verify-output: verified with its release time in Beijing time, or which digest differs', () => {
    const check = {
      ok: true,
      format: 'csv' as const,
      sha256: 'a'.repeat(64),
      expected: 'a'.repeat(64),
      outputId: 'out_1',
      contractId: 'ctr_1',
      rows: 3,
      releasedAt: '2026-12-07T15:16:56.529Z',
    };
    expect(outputCheckLines('r.csv', check)).toEqual([
      '校验通过：r.csv 是输出 out_1（合约 ctr_1）的 csv 文件，3 行，发布于 2026-12-07 23:16:56 +08:00',
    ]);
    expect(outputCheckLines('r.csv', { ...check, ok: false, sha256: 'b'.repeat(64) })[0]).toMatch(
      /^校验不一致：r\.csv 的 sha256 为 b{64}，签名清单为其 csv 文件封存的是 a{64}$/,
    );
  });
});
