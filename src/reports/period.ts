import { PdsError } from '../errors/index.ts';
import type { Period } from './schema.ts';

/**
 * A reporting period in the domain's local time: a quarter (`2026-Q3`, the default, seed 002
 * 第三十四条(四) 定期开展风险评估), a month (`2026-07`) or a year (`2026`). `start` is inclusive,
 * `end` exclusive, both as UTC instants, so "within the period" is one string comparison on the
 * store's ISO timestamps.
 */
export type { Period } from './schema.ts';

const QUARTER = /^(\d{4})-Q([1-4])$/;
const MONTH = /^(\d{4})-(0[1-9]|1[0-2])$/;
const YEAR = /^(\d{4})$/;

/** Minutes east of UTC of an offset such as '+08:00'. */
function offsetMinutes(utcOffset: string): number {
  const m = /^([+-])(\d{2}):(\d{2})$/.exec(utcOffset);
  if (!m) throw new PdsError('ERR_CONFIG', `utcOffset ${utcOffset} is not ±HH:MM`);
  return (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
}

/** The UTC instant of local midnight on the first day of (year, month 0-11). */
function localMonthStart(year: number, month: number, offset: number): string {
  return new Date(Date.UTC(year, month, 1) - offset * 60_000).toISOString();
}

function build(kind: Period['kind'], year: number, firstMonth: number, utcOffset: string): Period {
  const offset = offsetMinutes(utcOffset);
  const months = kind === 'year' ? 12 : kind === 'quarter' ? 3 : 1;
  const label =
    kind === 'year'
      ? String(year)
      : kind === 'quarter'
        ? `${year}-Q${firstMonth / 3 + 1}`
        : `${year}-${String(firstMonth + 1).padStart(2, '0')}`;
  return {
    label,
    kind,
    start: localMonthStart(year, firstMonth, offset),
    end: localMonthStart(year, firstMonth + months, offset),
  };
}

export function parsePeriod(label: string, utcOffset: string): Period {
  let m = QUARTER.exec(label);
  if (m) return build('quarter', Number(m[1]), (Number(m[2]) - 1) * 3, utcOffset);
  m = MONTH.exec(label);
  if (m) return build('month', Number(m[1]), Number(m[2]) - 1, utcOffset);
  m = YEAR.exec(label);
  if (m) return build('year', Number(m[1]), 0, utcOffset);
  throw new PdsError(
    'ERR_VALIDATION',
    `period ${JSON.stringify(label)} is not a quarter (2026-Q3), a month (2026-07) or a year (2026)`,
    {
      errors: [{ field: '/body/period', message: 'expected YYYY-Qn, YYYY-MM or YYYY' }],
    },
  );
}

/** The period of the same kind that contains the instant `at`. */
export function periodAt(at: Date, kind: Period['kind'], utcOffset: string): Period {
  const local = new Date(at.getTime() + offsetMinutes(utcOffset) * 60_000);
  const year = local.getUTCFullYear();
  const month = local.getUTCMonth();
  return build(kind, year, kind === 'year' ? 0 : kind === 'quarter' ? month - (month % 3) : month, utcOffset);
}

/** The period of the same kind just before `p`: the trend is measured against it. */
export function previousPeriod(p: Period, utcOffset: string): Period {
  return periodAt(new Date(new Date(p.start).getTime() - 1), p.kind, utcOffset);
}

/** Whether the period has ended at `now` (only ended periods are reported on schedule). */
export function hasEnded(p: Period, now: Date): boolean {
  return new Date(p.end).getTime() <= now.getTime();
}
