/**
 * Times as people here read them: Asia/Shanghai (UTC+8 all year since 1991, no daylight saving, so
 * the offset is added rather than looked up in a time-zone database that a minimal image may lack).
 * The API and the signed documents keep RFC 3339 UTC; only what is shown changes (issue 33).
 */
const OFFSET_MS = 8 * 3_600_000;

function shifted(iso: string | null | undefined): string | undefined {
  if (!iso) return undefined;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? undefined : new Date(ms + OFFSET_MS).toISOString();
}

/**
 * `2026-12-07T15:16:56.529Z` → `2026-12-07 23:16`; with `offset` (signed times, audit entries)
 * `2026-12-07 23:16:56 +08:00`. Empty or unreadable → an em dash.
 */
export function shanghaiTime(iso: string | null | undefined, opts: { offset?: boolean } = {}): string {
  const s = shifted(iso);
  if (!s) return '—';
  return opts.offset ? `${s.slice(0, 10)} ${s.slice(11, 19)} +08:00` : `${s.slice(0, 10)} ${s.slice(11, 16)}`;
}

/** The local date of an instant (`2026-12-07T17:00:00Z` → `2026-12-08`). */
export function shanghaiDate(iso: string | null | undefined): string {
  return shifted(iso)?.slice(0, 10) ?? '—';
}
