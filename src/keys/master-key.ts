import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import { PdsError } from '../errors/index.ts';
import { checkMode, createExclusive } from './files.ts';

/**
 * The domain master key and its check value (docs/architecture.md §8, §14). The key is 32 random
 * bytes, base64 in `domain-master.key`; every per-purpose key (pseudonyms, measure noise, cell and
 * unit keys, worker claim tickets) is derived from it on demand and never stored, so checking the
 * master checks them all. A changed character still decodes to 32 bytes — a different key, which
 * would silently give every new snapshot other pseudonyms — so the key carries a check value:
 * HMAC-SHA256(key, "pds key check v1"), its first 8 bytes, in `domain-master.key.check`, written
 * when the key is made.
 */
export const MASTER_FILE = 'domain-master.key';
const CHECK_LABEL = 'pds key check v1';

/** What `domain-master.key.check` holds. */
interface CheckRecord {
  kcv: string;
  /** `created`: written with the key; `first-load`: recorded for a key made before check values. */
  recorded: 'created' | 'first-load';
  at: string;
}

export function checkFileOf(file: string): string {
  return `${file}.check`;
}

/** The key check value: 16 hex digits that say whether two keys are the same, and nothing about the key. */
export function keyCheckValue(key: Buffer): string {
  return createHmac('sha256', key).update(CHECK_LABEL).digest('hex').slice(0, 16);
}

/** The state of a master key on disk, for `pds keys check` and for start-up. */
export type MasterState =
  { state: 'ok'; recorded: CheckRecord['recorded']; at: string } | { state: 'unrecorded' } | { state: 'missing' };

function damaged(file: string, why: string): PdsError {
  return new PdsError('ERR_KEY_DAMAGED', `${file}: ${why}; restore it from a backup`);
}

/** The 32-byte key; text that is not the canonical base64 of 32 bytes is damage (Node's decoder skips bad characters). */
function readKey(file: string): Buffer {
  const text = fs.readFileSync(file, 'utf8').trim();
  const key = Buffer.from(text, 'base64');
  if (key.length !== 32 || key.toString('base64') !== text)
    throw damaged(file, `not the base64 of a 32-byte key (${text.length} characters)`);
  return key;
}

function readCheck(file: string): CheckRecord | undefined {
  const checkFile = checkFileOf(file);
  if (!fs.existsSync(checkFile)) return undefined;
  let v: Partial<CheckRecord> | undefined;
  try {
    v = JSON.parse(fs.readFileSync(checkFile, 'utf8')) as Partial<CheckRecord>;
  } catch {
    v = undefined;
  }
  if (!v || typeof v.kcv !== 'string' || !/^[0-9a-f]{16}$/.test(v.kcv) || typeof v.at !== 'string')
    throw damaged(checkFile, 'not a key check file (the check value of domain-master.key)');
  return { kcv: v.kcv, recorded: v.recorded === 'first-load' ? 'first-load' : 'created', at: v.at };
}

function writeCheck(file: string, key: Buffer, recorded: CheckRecord['recorded'], now: Date): boolean {
  const record: CheckRecord = { kcv: keyCheckValue(key), recorded, at: now.toISOString() };
  // two processes starting at once write the same value; the second finds the first's
  return createExclusive(checkFileOf(file), `${JSON.stringify(record)}\n`);
}

/**
 * Reads the master key and compares it with its check value, writing nothing: throws
 * ERR_KEY_DAMAGED naming the file when they differ, or when the key is gone but its check value
 * says it was made.
 */
export function inspectMasterKey(file: string): MasterState {
  const check = readCheck(file);
  if (!fs.existsSync(file)) {
    if (check) throw damaged(file, `missing, though ${checkFileOf(file)} says it was made on ${check.at}`);
    return { state: 'missing' };
  }
  checkMode(file);
  const key = readKey(file);
  if (!check) return { state: 'unrecorded' };
  if (!timingSafeEqual(Buffer.from(keyCheckValue(key)), Buffer.from(check.kcv)))
    throw damaged(file, `the key does not match its check value in ${checkFileOf(file)} (a changed character?)`);
  return { state: 'ok', recorded: check.recorded, at: check.at };
}

/**
 * The master key at start-up: made with its check value on first start; checked against it
 * after. A key made before check values existed gets one now (`onRecorded` is told): that load
 * cannot tell whether the key had changed before it.
 */
export function loadMasterKey(file: string, onRecorded: (checkFile: string) => void, now = new Date()): Buffer {
  let state = inspectMasterKey(file);
  if (state.state === 'missing') {
    const key = randomBytes(32);
    if (createExclusive(file, key.toString('base64'))) writeCheck(file, key, 'created', now);
    state = inspectMasterKey(file);
  }
  const key = readKey(file);
  if (state.state === 'unrecorded') {
    const wrote = writeCheck(file, key, 'first-load', now);
    inspectMasterKey(file);
    if (wrote) onRecorded(checkFileOf(file));
  }
  return key;
}
