#!/usr/bin/env node
// The `pds` command: runs the TypeScript sources through tsx's loader (a runtime dependency),
// so the installed command and the tests run exactly the same code.
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
register(pathToFileURL(path.join(path.dirname(require.resolve('tsx/package.json')), 'dist', 'loader.mjs')));
await import(new URL('../src/cli/main.ts', import.meta.url).href);
