import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WorkingCalendar } from '../../src/contracts/index.ts';

const beijing = (cal: Partial<ConstructorParameters<typeof WorkingCalendar>[0]> = {}) =>
  new WorkingCalendar({ utcOffset: '+08:00', holidays: [], makeupWorkdays: [], ...cal });

describe('WorkingCalendar', () => {
  it('counts five working days from the day after: Friday → end of next Friday (local midnight)', () => {
    // Friday 2026-11-20 10:00 in Beijing
    const due = beijing().deadline(new Date('2026-11-20T02:00:00Z'), 5);
    expect(due.toISOString()).toBe('2026-11-27T16:00:00.000Z'); // 2026-11-28 00:00 +08:00
  });

  it('uses the local date: 23:30 Beijing on a Monday is Monday, not Sunday in UTC terms', () => {
    // 2026-11-23 (Monday) 07:30 Beijing = 2026-11-22 23:30 UTC (Sunday in UTC)
    const due = beijing().deadline(new Date('2026-11-22T23:30:00Z'), 1);
    expect(due.toISOString()).toBe('2026-11-24T16:00:00.000Z'); // end of Tuesday 24th local
  });

  it('skips holidays and counts makeup working days (调休)', () => {
    const cal = beijing({
      holidays: ['2026-10-01', '2026-10-02', '2026-10-05', '2026-10-06', '2026-10-07'],
      makeupWorkdays: ['2026-10-10'],
    });
    expect(cal.isWorkingDay('2026-10-01')).toBe(false);
    expect(cal.isWorkingDay('2026-10-10')).toBe(true); // a Saturday worked in exchange
    // submitted Wednesday 30 Sep: 8, 9 (Thu, Fri), 10 (Sat, makeup), 12, 13 → due end of Tuesday 13 Oct
    expect(cal.deadline(new Date('2026-09-30T04:00:00Z'), 5).toISOString()).toBe('2026-10-13T16:00:00.000Z');
  });

  it('always lands after the start and on the end of a working day', () => {
    const cal = beijing();
    fc.assert(
      fc.property(
        fc.date({ min: new Date('2020-01-01'), max: new Date('2035-01-01'), noInvalidDate: true }),
        fc.integer({ min: 1, max: 30 }),
        (from, n) => {
          const due = cal.deadline(from, n);
          const lastDay = cal.localDate(new Date(due.getTime() - 1));
          expect(cal.isWorkingDay(lastDay)).toBe(true);
          expect(due.getTime() - from.getTime()).toBeGreaterThanOrEqual(n * 86_400_000);
          expect(due.getTime() - from.getTime()).toBeLessThanOrEqual((Math.ceil(n / 5) * 7 + 3) * 86_400_000);
        },
      ),
    );
  });
});
