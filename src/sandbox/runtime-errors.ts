/**
 * A runtime error in the operator's words, without the data: only the schema-level facts of the
 * engine's message — the column being cast and the type it was cast to — are kept. The value, and
 * the query text DuckDB quotes (the rewritten SQL, which holds the contract's perturbation key),
 * are withheld.
 */
export function runtimeMessage(kind: string, message: string): string {
  const column = /\bsource column "?([A-Za-z_][A-Za-z0-9_]{0,63})"?(?:\s|$)/.exec(message)?.[1];
  const type =
    /\bdestination type ([A-Z][A-Z0-9_]{0,31})\b/.exec(message)?.[1] ??
    /\bto ([A-Z][A-Z0-9_]{0,31})(?: when|$)/.exec(message)?.[1] ??
    (/\bdate field\b/.test(message) ? 'DATE' : undefined);
  const what = type
    ? `a value could not be converted to ${type}${column ? ` (casting column ${column})` : ''}`
    : column
      ? `a value of column ${column} could not be converted`
      : undefined;
  return `${kind} while running the query${what ? `: ${what}` : ''} (the value itself is withheld: it may be data)`;
}
