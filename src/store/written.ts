import { statementType, StatementType, type DuckDBConnection } from '../duckdb/index.ts';

/**
 * What a statement of a store transaction may have written, for the memos (Tx.memo): DuckDB names
 * the statement's kind, the statement names its table (docs/architecture.md §17, "Which tables a
 * statement wrote").
 *
 * - `read`: DuckDB calls it a SELECT; it writes nothing.
 * - `row`: an INSERT, UPDATE or DELETE; it wrote the table it declares, or any table if it declares none.
 * - `schema`: anything else (DDL, several statements, COPY, PRAGMA …): any table, and prepared
 *   statements may be stale.
 */
export type StatementKind = 'read' | 'row' | 'schema';

const ROW_WRITES = new Set<StatementType>([StatementType.INSERT, StatementType.UPDATE, StatementType.DELETE]);

/**
 * Each distinct statement text's kind, asked of DuckDB once (a parse and a bind: about what
 * running the statement once costs) and kept. Texts come from code, so few are distinct; past
 * `max` the map starts over.
 */
export class StatementKinds {
  private readonly kinds = new Map<string, StatementKind>();

  constructor(private readonly max = 4096) {}

  async of(conn: DuckDBConnection, sql: string): Promise<StatementKind> {
    const known = this.kinds.get(sql);
    if (known) return known;
    let kind: StatementKind;
    try {
      const type = await statementType(conn, sql);
      kind = type === StatementType.SELECT ? 'read' : type !== 'several' && ROW_WRITES.has(type) ? 'row' : 'schema';
    } catch {
      // it does not prepare (yet): running it fails too, or it is DDL-dependent; nothing is kept
      return 'schema';
    }
    if (this.kinds.size >= this.max) this.kinds.clear();
    this.kinds.set(sql, kind);
    return kind;
  }
}

/**
 * The tables a statement of `kind` may have written: none for a read; the declared table of a row
 * write; every table ('*') for a row write that declares none and for anything else — never too few.
 */
export function tablesWritten(kind: StatementKind, writes: string | undefined): string | '*' | undefined {
  if (kind === 'read') {
    if (writes) throw new TypeError(`a statement declares it writes ${writes}, but DuckDB reads it as a SELECT`);
    return undefined;
  }
  return kind === 'row' && writes ? writes.toLowerCase() : '*';
}
