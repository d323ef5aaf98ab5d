import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buckets, hasEnded, parsePeriod, periodAt, previousPeriod } from '../../src/reports/index.ts';

describe("report periods in the domain's local time", () => {
  it('a quarter starts and ends at local midnight (+08:00 is 16:00 UTC the day before)', () => {
    expect(parsePeriod('2026-Q3', '+08:00')).toEqual({
      label: '2026-Q3',
      kind: 'quarter',
      start: '2026-06-30T16:00:00.000Z',
      end: '2026-09-30T16:00:00.000Z',
    });
    expect(parsePeriod('2026-Q1', '+00:00')).toMatchObject({
      start: '2026-01-01T00:00:00.000Z',
      end: '2026-04-01T00:00:00.000Z',
    });
    expect(parsePeriod('2026-12', '+08:00')).toMatchObject({
      kind: 'month',
      start: '2026-11-30T16:00:00.000Z',
      end: '2026-12-31T16:00:00.000Z',
    });
    expect(parsePeriod('2026', '-05:00')).toMatchObject({
      kind: 'year',
      start: '2026-01-01T05:00:00.000Z',
      end: '2027-01-01T05:00:00.000Z',
    });
  });

  it('the previous period of a first quarter is the last quarter of the year before', () => {
    expect(previousPeriod(parsePeriod('2026-Q1', '+08:00'), '+08:00').label).toBe('2025-Q4');
    expect(previousPeriod(parsePeriod('2026-01', '+08:00'), '+08:00').label).toBe('2025-12');
    expect(previousPeriod(parsePeriod('2026', '+08:00'), '+08:00').label).toBe('2025');
  });

  it('refuses labels that are not a quarter, month or year, naming the field', () => {
    for (const bad of ['2026-Q5', '2026-13', '26-Q1', '2026Q1', '', 'Q3']) {
      expect(() => parsePeriod(bad, '+08:00')).toThrow(
        expect.objectContaining({
          code: 'ERR_VALIDATION',
          errors: [expect.objectContaining({ field: '/body/period' })],
        }),
      );
    }
  });

  it('the period at an instant contains it, the previous one ends where it starts (property)', () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }),
        fc.constantFrom('quarter', 'month', 'year'),
        fc.constantFrom('+08:00', '+00:00', '-05:00', '+05:30'),
        (at, kind, offset) => {
          const p = periodAt(at, kind as 'quarter', offset);
          expect(Date.parse(p.start)).toBeLessThanOrEqual(at.getTime());
          expect(Date.parse(p.end)).toBeGreaterThan(at.getTime());
          expect(parsePeriod(p.label, offset)).toEqual(p);
          expect(previousPeriod(p, offset).end).toBe(p.start);
          expect(hasEnded(p, at)).toBe(false);
          expect(hasEnded(p, new Date(p.end))).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('splits a period into local buckets: weeks of a quarter, days of a month, months of a year', () => {
    const year = buckets(parsePeriod('2026', '+08:00'));
    expect(year).toHaveLength(12);
    // each month starts at local midnight on its first day, February and March included
    expect(year.slice(0, 4)).toEqual([
      '2025-12-31T16:00:00.000Z',
      '2026-01-31T16:00:00.000Z',
      '2026-02-28T16:00:00.000Z',
      '2026-03-31T16:00:00.000Z',
    ]);
    expect(buckets(parsePeriod('2026', '-05:00'))[2]).toBe('2026-03-01T05:00:00.000Z');
    const month = buckets(parsePeriod('2026-02', '+08:00'));
    expect(month).toHaveLength(28);
    expect(month[1]).toBe('2026-02-01T16:00:00.000Z');
    const quarter = buckets(parsePeriod('2026-Q3', '+08:00'));
    expect(quarter).toHaveLength(14); // 92 days: 13 whole weeks and one day
    expect(quarter[0]).toBe('2026-06-30T16:00:00.000Z');
    expect(quarter.at(-1)).toBe('2026-09-29T16:00:00.000Z');
  });
});
