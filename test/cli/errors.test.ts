import { describe, expect, it } from 'vitest';
import { errorLines } from '../../src/cli/shared.ts';
import { ApiError } from '../../src/client/index.ts';
import { PdsError } from '../../src/errors/index.ts';
import { ERROR_ZH } from '../../src/terms/index.ts';

describe('the CLI’s error lines', () => {
  it('say the Chinese sentence of a code first, then the code and the English detail', () => {
    expect(errorLines(new PdsError('ERR_VALIDATION', 'x.sql does not exist'))).toEqual([
      `pds: ${ERROR_ZH.ERR_VALIDATION}`,
      '  ERR_VALIDATION: x.sql does not exist',
    ]);
  });

  it('read an API refusal by its code, with its HTTP status for support', () => {
    const refused = new ApiError(403, 'ERR_AUTH_FORBIDDEN', 'needs the bureau role', {});
    expect(errorLines(refused)).toEqual([
      `pds: ${ERROR_ZH.ERR_AUTH_FORBIDDEN}`,
      '  ERR_AUTH_FORBIDDEN (HTTP 403): needs the bureau role',
    ]);
  });

  it('explain an SQL refusal in Chinese from its facts, the API’s or our own, naming what the query named', () => {
    const detail = 'table function read_csv is not allowed; read snapshot tables by name [rule no-table-functions]';
    const problem = {
      code: 'ERR_SQL_FUNCTION_NOT_ALLOWED',
      detail,
      rule: 'no-table-functions',
      facts: { reason: 'table-function', function: 'read_csv' },
    };
    expect(errorLines(new ApiError(400, 'ERR_SQL_FUNCTION_NOT_ALLOWED', detail, problem))).toEqual([
      'pds: 不允许表函数 read_csv，请按表名读取快照中的表。规则：不用表函数。',
      `  ERR_SQL_FUNCTION_NOT_ALLOWED (HTTP 400): ${detail}`,
    ]);
    const own = new PdsError('ERR_SQL_INVALID', 'Binder Error: Referenced column "incme" not found', {
      extra: { facts: { reason: 'binding', columnName: 'incme' } },
    });
    expect(errorLines(own)[0]).toBe('pds: 快照中没有字段 incme，请核对字段名。');
  });

  it('show a code they have no sentence for, and an uncoded error, as they are', () => {
    expect(errorLines(new ApiError(502, 'HTTP_502', 'Bad Gateway', {}))).toEqual([
      'pds: HTTP_502 (HTTP 502): Bad Gateway',
    ]);
    expect(errorLines(new Error('作业仍在运行'))).toEqual(['pds: 作业仍在运行']);
  });
});
