import type { WorkflowPolicy } from '../policies/index.ts';

const DAY_MS = 86_400_000;

/**
 * Working days in the domain's local time: Monday to Friday, minus statutory holidays, plus the
 * weekend days worked in exchange (调休). Deadlines such as a provider's review (seed 001
 * 第二十条(三): 5 working days) are counted on it.
 */
export class WorkingCalendar {
  private readonly offsetMs: number;
  private readonly holidays: Set<string>;
  private readonly makeup: Set<string>;

  constructor(cal: WorkflowPolicy['calendar']) {
    const [, sign, hh, mm] = /^([+-])(\d{2}):(\d{2})$/.exec(cal.utcOffset)!;
    this.offsetMs = (sign === '-' ? -1 : 1) * (Number(hh) * 60 + Number(mm)) * 60_000;
    this.holidays = new Set(cal.holidays);
    this.makeup = new Set(cal.makeupWorkdays);
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
