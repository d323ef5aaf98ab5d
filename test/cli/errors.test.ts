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

  it('show a code they have no sentence for, and an uncoded error, as they are', () => {
    expect(errorLines(new ApiError(502, 'HTTP_502', 'Bad Gateway', {}))).toEqual([
      'pds: HTTP_502 (HTTP 502): Bad Gateway',
    ]);
    expect(errorLines(new Error('作业仍在运行'))).toEqual(['pds: 作业仍在运行']);
  });
});
