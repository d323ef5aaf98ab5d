/**
 * The State Council's published holiday calendar (国务院办公厅关于部分节假日安排的通知), as kept by
 * the `chinese-days` package: statutory holidays and the weekend days worked in exchange (调休),
 * year by year. A year the package does not cover yet (the notice for the next year comes out
 * late in the year) is named by `coveredYears`, so the platform can say so rather than count
 * every weekday as a working day in silence.
 */
import { createRequire } from 'node:module';

export interface OfficialCalendar {
  holidays: Set<string>;
  makeupWorkdays: Set<string>;
  coveredYears: Set<number>;
  /** Where the data came from, for logs and /healthz. */
  source: string;
}

let loaded: OfficialCalendar | undefined;

export function officialCalendar(): OfficialCalendar {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  const data = require('chinese-days/dist/chinese-days.json') as {
    holidays: Record<string, string>;
    workdays: Record<string, string>;
  };
  const { version } = require('chinese-days/package.json') as { version: string };
  const holidays = new Set(Object.keys(data.holidays));
  const makeupWorkdays = new Set(Object.keys(data.workdays));
  const coveredYears = new Set([...holidays].map((d) => Number(d.slice(0, 4))));
  loaded = { holidays, makeupWorkdays, coveredYears, source: `chinese-days ${version}` };
  return loaded;
}
