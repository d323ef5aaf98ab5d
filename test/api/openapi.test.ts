import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_TYPES, clientTypesOf, documentText, OPENAPI_DOCUMENT } from '../../scripts/openapi-files.ts';
import { PACKAGE_ROOT } from '../../src/config/index.ts';
import { buildWorld, type TestWorld } from '../helpers.ts';

const run = promisify(execFile);

describe('the OpenAPI document', () => {
  let world: TestWorld;
  let doc: { paths: Record<string, Record<string, { operationId?: string }>> };
  beforeAll(async () => {
    world = await buildWorld({ rows: 200 });
    doc = (await world.server.inject({ method: 'GET', url: '/openapi.json' })).json();
  });
  afterAll(() => world.close());

  it('is the committed docs/openapi.json, and src/client/schema.ts is generated from it (npm run openapi)', async () => {
    expect(fs.readFileSync(OPENAPI_DOCUMENT, 'utf8')).toBe(documentText(doc));
    expect(fs.readFileSync(CLIENT_TYPES, 'utf8')).toBe(await clientTypesOf(doc));
  });

  it('names every operation, each once: client generators make method names from them', () => {
    const ids = Object.values(doc.paths).flatMap((ops) => Object.values(ops).map((op) => op.operationId));
    expect(ids.length).toBeGreaterThan(40);
    expect(ids.filter((id) => !id)).toEqual([]);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('passes redocly lint with its recommended rules: no error, no warning', async () => {
    const cli = path.join(
      path.dirname(createRequire(import.meta.url).resolve('@redocly/cli/package.json')),
      'bin',
      'cli.js',
    );
    const { stdout } = await run(process.execPath, [cli, 'lint', '--format', 'json', OPENAPI_DOCUMENT], {
      cwd: PACKAGE_ROOT,
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
    });
    const lint = JSON.parse(stdout) as { totals: { errors: number; warnings: number }; problems: unknown[] };
    expect(lint.problems).toEqual([]);
    expect(lint.totals).toMatchObject({ errors: 0, warnings: 0 });
  });
});
