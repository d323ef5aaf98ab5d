import { afterAll, beforeAll } from 'vitest';
import { SqlParser } from '../../src/sandbox/index.ts';
import { exec, openInstance, type DuckDBConnection, type DuckDBInstance } from '../../src/store/index.ts';

/** A fresh parser and an in-memory DuckDB holding `ddl`'s tables, for one describe block. */
export function duckWorld(ddl: string): { parser: SqlParser; conn: DuckDBConnection; instance: DuckDBInstance } {
  const w = {} as { parser: SqlParser; conn: DuckDBConnection; instance: DuckDBInstance };
  beforeAll(async () => {
    w.parser = await SqlParser.create();
    w.instance = await openInstance(':memory:');
    w.conn = await w.instance.connect();
    await exec(w.conn, ddl);
  });
  afterAll(() => {
    w.parser.dispose();
    w.conn.closeSync();
    w.instance.closeSync();
  });
  return w;
}
