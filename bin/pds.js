#!/usr/bin/env node
// The `pds` command: runs the TypeScript sources through tsx (a runtime dependency), so the
// installed command and the tests run exactly the same code.
import { register } from 'tsx/esm/api';

register();
await import(new URL('../src/cli/main.ts', import.meta.url).href);
