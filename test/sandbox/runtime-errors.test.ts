import { describe, expect, it } from 'vitest';
import { runtimeMessage } from '../../src/sandbox/index.ts';

describe('runtime errors in the operator’s words', () => {
  // what DuckDB 1.x says, values and the (rewritten, keyed) query text included
  const cases: [string, string, string][] = [
    [
      'Conversion Error',
      "Conversion Error: Could not convert string 'x1' to INT32 when casting from source column district",
      'a value could not be converted to INT32 (casting column district)',
    ],
    [
      'Conversion Error',
      'Conversion Error: invalid date field format: "张三 13800000000", expected format is (YYYY-MM-DD) when casting from source column name',
      'a value could not be converted to DATE (casting column name)',
    ],
    [
      'Conversion Error',
      "Conversion Error: Type INT32 with value 300 can't be cast because the value is out of range for the destination type INT8 when casting from source column income",
      'a value could not be converted to INT8 (casting column income)',
    ],
  ];
  it('names the column cast and the type, never the value', () => {
    for (const [kind, raw, said] of cases) {
      const message = runtimeMessage(kind, raw);
      expect(message).toContain(said);
      for (const secret of ["'x1'", '张三', '13800000000', '300']) expect(message).not.toContain(secret);
    }
  });
  it('says nothing it cannot say safely', () => {
    const message = runtimeMessage(
      'Invalid Input Error',
      'Invalid Input Error: Could not parse string "13800000000" according to format specifier "%Y"',
    );
    expect(message).toBe('Invalid Input Error while running the query (the value itself is withheld: it may be data)');
  });
});
