import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { officialCalendar, WorkingCalendar } from '../../src/contracts/index.ts';

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

describe('the published calendar (State Council notice, via chinese-days)', () => {
  const cal = new WorkingCalendar({ utcOffset: '+08:00', holidays: [], makeupWorkdays: [] }, officialCalendar());

  it('knows 2026: New Year, the Spring Festival week and its 调休 Saturdays', () => {
    expect(cal.covers(2026)).toBe(true);
    expect(cal.isWorkingDay('2026-01-01')).toBe(false); // 元旦, a Thursday
    expect(cal.isWorkingDay('2026-01-04')).toBe(true); // a Sunday worked in exchange
    expect(cal.isWorkingDay('2026-02-14')).toBe(true); // a Saturday worked before the Spring Festival
    expect(cal.isWorkingDay('2026-02-16')).toBe(false); // 春节, a Monday
    expect(cal.isWorkingDay('2026-10-01')).toBe(false); // 国庆节
    expect(cal.isWorkingDay('2026-10-10')).toBe(true); // a Saturday worked after National Day
  });

  it('counts a review deadline across the Spring Festival on the real calendar', () => {
    // asked on Friday 13 Feb 2026: Sat 14 (调休), then the holiday to Mon 23; Tue 24 … Thu 26
    const due = cal.deadline(new Date('2026-02-13T02:00:00Z'), 5);
    const days: string[] = [];
    for (let d = Date.parse('2026-02-14T00:00:00Z'); d < due.getTime(); d += 86_400_000) {
      const date = new Date(d).toISOString().slice(0, 10);
      if (cal.isWorkingDay(date)) days.push(date);
    }
    expect(days).toHaveLength(5);
    expect(days[0]).toBe('2026-02-14');
    expect(days).not.toContain('2026-02-16');
    expect(due.toISOString()).toBe(`${days.at(-1)}T16:00:00.000Z`);
  });

  it('the policy’s lists win where they name a date, and a year nobody covers is said to be uncovered', () => {
    const local = new WorkingCalendar(
      { utcOffset: '+08:00', holidays: ['2026-02-14'], makeupWorkdays: ['2026-10-01'] },
      officialCalendar(),
    );
    expect(local.isWorkingDay('2026-02-14')).toBe(false);
    expect(local.isWorkingDay('2026-10-01')).toBe(true);
    expect(local.covers(2099)).toBe(false);
  });
});
