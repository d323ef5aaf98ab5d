import type { WorkflowPolicy } from '../policies/index.ts';
import { officialCalendar, type OfficialCalendar } from './official-calendar.ts';

const DAY_MS = 86_400_000;

/**
 * Working days in the domain's local time: Monday to Friday, minus statutory holidays, plus the
 * weekend days worked in exchange (调休) — from the State Council's published calendar
 * (official-calendar.ts) and the policy's own lists, which win where they name a date. Deadlines
 * such as a provider's review (seed 001 第二十条(三): 5 working days) are counted on it.
 */
export class WorkingCalendar {
  private readonly offsetMs: number;
  private readonly holidays: Set<string>;
  private readonly makeup: Set<string>;

  constructor(
    cal: Pick<WorkflowPolicy['calendar'], 'utcOffset' | 'holidays' | 'makeupWorkdays'>,
    private readonly official?: OfficialCalendar,
  ) {
    const [, sign, hh, mm] = /^([+-])(\d{2}):(\d{2})$/.exec(cal.utcOffset)!;
    this.offsetMs = (sign === '-' ? -1 : 1) * (Number(hh) * 60 + Number(mm)) * 60_000;
    // the policy's lists win over the published calendar where they name a date
    this.holidays = new Set(
      [...(official?.holidays ?? []), ...cal.holidays].filter((d) => !cal.makeupWorkdays.includes(d)),
    );
    this.makeup = new Set(
      [...(official?.makeupWorkdays ?? []), ...cal.makeupWorkdays].filter((d) => !cal.holidays.includes(d)),
    );
  }

  /** Whether a year's holidays are known (from the published calendar or the policy's lists). */
  covers(year: number): boolean {
    return (this.official?.coveredYears.has(year) ?? false) || [...this.holidays].some((d) => d.startsWith(`${year}-`));
  }

  /** The local calendar date (YYYY-MM-DD) of an instant. */
  localDate(at: Date): string {
    return new Date(at.getTime() + this.offsetMs).toISOString().slice(0, 10);
  }

  isWorkingDay(date: string): boolean {
    if (this.makeup.has(date)) return true;
    if (this.holidays.has(date)) return false;
    const dow = new Date(`${date}T00:00:00Z`).getUTCDay();
    return dow !== 0 && dow !== 6;
  }

  /**
   * The instant a period of `workingDays` working days, counted from the day after `from`, ends:
   * local midnight after the last of them. A request made on Friday with 5 days is due at the
   * end of the next Friday.
   */
  deadline(from: Date, workingDays: number): Date {
    let day = Date.parse(`${this.localDate(from)}T00:00:00Z`);
    for (let left = workingDays; left > 0;) {
      day += DAY_MS;
      if (this.isWorkingDay(new Date(day).toISOString().slice(0, 10))) left -= 1;
    }
    return new Date(day + DAY_MS - this.offsetMs);
  }
}

/** The domain's calendar as its policy describes it: the published one beneath, when `official`. */
export function domainCalendar(cal: WorkflowPolicy['calendar']): WorkingCalendar {
  return new WorkingCalendar(cal, cal.official ? officialCalendar() : undefined);
}
