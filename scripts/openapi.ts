// Writes the API's OpenAPI document (docs/openapi.json) and the client's types generated from it
// (src/client/schema.ts); test/api/openapi.test.ts fails when either is out of date.
// Why commit them: the client and its users compile without starting a server, and a change to
// the API shows in review as a change to these two files.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { createServer } from '../src/api/index.ts';
import { loadConfig, PACKAGE_ROOT } from '../src/config/index.ts';
import { seedDomain } from '../src/domain/index.ts';
import { createPlatform } from '../src/platform/index.ts';
import { CLIENT_TYPES, clientTypesOf, documentText, OPENAPI_DOCUMENT } from './openapi-files.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pds-openapi-'));
let doc: unknown;
try {
  await seedDomain(dir, { rows: 50, seed: 1 });
  const logger = pino({ level: 'silent' });
  const platform = await createPlatform(loadConfig({ DATA_DIR: dir, PORT: '0', SANDBOX_OS: 'off' }), logger);
  const server = await createServer(platform, logger);
  doc = (await server.inject({ method: 'GET', url: '/openapi.json' })).json();
  await server.close();
  await platform.close();
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
const written: string[] = [];
for (const [file, text] of [
  [OPENAPI_DOCUMENT, documentText(doc)],
  [CLIENT_TYPES, await clientTypesOf(doc)],
] as const) {
  if (fs.existsSync(file) && fs.readFileSync(file, 'utf8') === text) continue;
  fs.writeFileSync(file, text);
  written.push(path.relative(PACKAGE_ROOT, file));
}
console.log(
  written.length ? `wrote ${written.join(', ')}` : 'docs/openapi.json and src/client/schema.ts are up to date',
);
