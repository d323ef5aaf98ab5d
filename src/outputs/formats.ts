/**
 * The three forms an output is downloaded in, and the seal on each: the manifest lists a sha256
 * per form (docs/architecture.md §15, "Every form sealed"), so the hand-off to a data exchange
 * (seed 002 第三十四条(四)) can be checked whichever form travels.
 *
 * - csv: RFC 4180, the canonical form (`toCsv`), also `output.sha256` for older readers;
 * - json: `JSON.stringify` of one object per row, keys in column order;
 * - parquet: written once by DuckDB when the output is recorded and kept beside it, so the bytes
 *   sealed are the bytes served even after DuckDB is upgraded.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { JWTVerifyGetKey } from 'jose';
import { sha256 } from '../digest/index.ts';
import { PdsError } from '../errors/index.ts';
import { exec, openInstance, quoteIdent, quoteLiteral, withConnection, type JsonValue } from '../store/index.ts';
import { toCsv } from './csv.ts';
import { verifyManifest } from './manifest.ts';

export type OutputFormat = 'csv' | 'json' | 'parquet';
export const OUTPUT_FORMATS: readonly OutputFormat[] = ['csv', 'json', 'parquet'];

export type Column = { name: string; type: string };

export function csvOf(columns: Column[], rows: JsonValue[][]): string {
  return toCsv(
    columns.map((c) => c.name),
    rows,
  );
}

export function jsonOf(columns: Column[], rows: JsonValue[][]): string {
  const names = columns.map((c) => c.name);
  return JSON.stringify(rows.map((r) => Object.fromEntries(names.map((n, i) => [n, r[i]!]))));
}

/**
 * Writes Parquet with the output's DuckDB column types from its canonical CSV. One in-memory
 * DuckDB serves every conversion of the process, one at a time (opening one costs ~20 ms).
 */
export class ParquetWriter {
  private instance: ReturnType<typeof openInstance> | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly tmpDir: string) {}

  write(columns: Column[], csv: string, target: string): Promise<void> {
    const run = this.queue.then(() => this.convert(columns, csv, target));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async convert(columns: Column[], csv: string, target: string): Promise<void> {
    fs.mkdirSync(this.tmpDir, { recursive: true, mode: 0o700 });
    const dir = fs.mkdtempSync(path.join(this.tmpDir, 'parquet-'));
    try {
      const src = path.join(dir, 'data.csv');
      const dst = path.join(dir, 'data.parquet');
      fs.writeFileSync(src, csv);
      const types = `{${columns.map((c) => `${quoteLiteral(c.name)}: ${quoteLiteral(c.type)}`).join(', ')}}`;
      this.instance ??= openInstance(':memory:', { threads: '1' });
      await withConnection(await this.instance, (conn) =>
        exec(
          conn,
          `COPY (SELECT ${columns.map((c) => quoteIdent(c.name)).join(', ')} FROM read_csv(${quoteLiteral(src)}, header = true, columns = ${types})) TO ${quoteLiteral(dst)} (FORMAT parquet)`,
        ),
      );
      fs.renameSync(dst, target);
      fs.chmodSync(target, 0o600);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  async close(): Promise<void> {
    const instance = this.instance;
    this.instance = undefined;
    if (instance) (await instance.catch(() => undefined))?.closeSync();
  }
}

export interface OutputCheck {
  ok: boolean;
  format: OutputFormat;
  sha256: string;
  expected: string;
  outputId: string;
  contractId: string;
  rows: number;
  releasedAt: string;
}

/**
 * A downloaded file against its signed manifest: the signature (EdDSA, bureau key by kid), then
 * the file's sha256 against the one the manifest seals for its form. A manifest from before every
 * form was sealed verifies the csv form only.
 */
export async function verifyOutputFile(
  file: Buffer,
  format: OutputFormat,
  manifestJws: string,
  key: JWTVerifyGetKey,
): Promise<OutputCheck> {
  const manifest = await verifyManifest(manifestJws.trim(), key);
  const expected = manifest.output.formats?.[format] ?? (format === 'csv' ? manifest.output.sha256 : undefined);
  if (!expected)
    throw new PdsError(
      'ERR_VALIDATION',
      `the manifest of output ${manifest.output.id} seals only its csv form (released before every form was sealed)`,
    );
  const actual = sha256(file);
  return {
    ok: actual === expected,
    format,
    sha256: actual,
    expected,
    outputId: manifest.output.id,
    contractId: manifest.contractId,
    rows: manifest.output.rows,
    releasedAt: manifest.releasedAt,
  };
}

/** The form a file name says (.csv, .json, .parquet), if it says one. */
export function formatOfFile(file: string): OutputFormat | undefined {
  const ext = path.extname(file).slice(1).toLowerCase();
  return (OUTPUT_FORMATS as readonly string[]).includes(ext) ? (ext as OutputFormat) : undefined;
}
