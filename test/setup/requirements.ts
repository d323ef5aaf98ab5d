import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

/**
 * The suite's machine requirements, checked once before any test: the services and programs the
 * integration tests use for real (they fail rather than skip without them). `.ci/run` installs
 * them; one clear message here beats a thousand failing tests.
 */
export default function requirements(): void {
  const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
  const missing: string[] = [];
  if (!has('redis-server')) missing.push('redis-server (the BullMQ tests)');
  if (!has(process.env.BWRAP ?? 'bwrap')) missing.push('bubblewrap (the OS layer around every runner)');
  if (!fs.existsSync(process.env.CHROMIUM_PATH ?? '/usr/bin/chromium')) missing.push('chromium (the report page test)');
  if (missing.length > 0)
    throw new Error(
      `the test suite needs ${missing.join(', ')}: run .ci/run, which installs them, or apt-get install -y redis-server bubblewrap chromium fonts-wqy-zenhei`,
    );
}
