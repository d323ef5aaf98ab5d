import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/index.ts';
import { domainVersions } from '../domain/index.ts';
import { loadKeyRing, type KeyRing } from '../keys/index.ts';
import { loadPolicies, type Policies } from '../policies/index.ts';
import { configureOsSandbox, type OsSandboxStatus } from '../sandbox/index.ts';
import {
  assertIntact,
  checkDataDirEncryption,
  checkIntegrity,
  dataDirNotEncrypted,
  Store,
  type DataDirEncryption,
} from '../store/index.ts';

/**
 * What start-up asks of the host before anything opens: DATA_DIR encrypted at rest (seed 000
 * 第三十九条: refused when required, otherwise said; issue 35), and runners confined by the OS
 * layer (stop here, naming why — unless SANDBOX_OS=off says so).
 */
export async function checkHost(
  config: Config,
  logger: Pick<Logger, 'warn'>,
): Promise<{ dataDirEncryption: DataDirEncryption; osSandbox: OsSandboxStatus | { mode: 'workers' } }> {
  const dataDirEncryption = checkDataDirEncryption(config.dataDir);
  if (dataDirEncryption.state !== 'encrypted') {
    if (config.requireEncryptedDataDir) throw dataDirNotEncrypted(config.dataDir, dataDirEncryption);
    logger.warn(
      { dataDir: config.dataDir, dataDirEncryption },
      'DATA_DIR is not known to be encrypted at rest: see docs/operations.md "Encryption at rest" (REQUIRE_ENCRYPTED_DATA_DIR=true refuses to start)',
    );
  }
  const osSandbox = config.redisUrl ? { mode: 'workers' as const } : await configureOsSandbox(config.sandboxOs);
  if (osSandbox.mode === 'off')
    logger.warn({ sandboxOs: 'off' }, 'the OS sandbox layer is OFF (SANDBOX_OS=off): runners start without bubblewrap');
  return { dataDirEncryption, osSandbox };
}

/** The state every service stands on: the policies, the key ring and the control store. */
export interface State {
  policies: Policies;
  keys: KeyRing;
  store: Store;
}

/**
 * Policies, keys and the control store, opened in that order; then what a crash left in DATA_DIR
 * cleared and the domain database checked. A store that fails its integrity check is closed and
 * start-up stops.
 */
export async function openState(config: Config, logger: Pick<Logger, 'warn' | 'info'>): Promise<State> {
  const policies = loadPolicies(config.policiesDir);
  const keys = await loadKeyRing(config.dataDir, logger);
  const store = await Store.open(config.dataDir, { minFreeBytes: config.minFreeBytes });
  store.onReopen((reason) =>
    logger.warn({ reason }, 'the control store was reopened from its file after a failed commit'),
  );
  // an index that disagrees with its table, or an audit head behind its log: refuse to serve from it
  try {
    assertIntact(store.file, await checkIntegrity(store));
  } catch (err) {
    await store.close();
    throw err;
  }
  // the store's file lock makes this the only API on this DATA_DIR: what a crash left is ours to clear
  clearLeftovers(config.dataDir, logger);
  // a damaged domain database stops start-up with its name, not every catalog request later
  await domainVersions(config.dataDir);
  return { policies, keys, store };
}

/**
 * What a killed process leaves behind: job temp folders (results, spills) and half-built
 * snapshots. Nothing in them is a record: a job left running is run again from the store, and a
 * decision whose snapshot was not sealed never committed.
 */
function clearLeftovers(dataDir: string, logger: Pick<Logger, 'info'>): void {
  const removed: string[] = [];
  const tmp = path.join(dataDir, 'tmp');
  for (const entry of fs.existsSync(tmp) ? fs.readdirSync(tmp) : []) {
    fs.rmSync(path.join(tmp, entry), { recursive: true, force: true });
    removed.push(`tmp/${entry}`);
  }
  const snapshots = path.join(dataDir, 'snapshots');
  for (const entry of fs.existsSync(snapshots) ? fs.readdirSync(snapshots) : []) {
    if (!/\.building(\.wal)?$/.test(entry)) continue;
    fs.rmSync(path.join(snapshots, entry), { force: true });
    removed.push(`snapshots/${entry}`);
  }
  if (removed.length > 0) logger.info({ removed }, 'cleared what an earlier process left behind');
}
