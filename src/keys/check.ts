import fs from 'node:fs';
import path from 'node:path';
import { isPdsError } from '../errors/index.ts';
import { checkFileOf, inspectMasterKey, MASTER_FILE } from './master-key.ts';
import { readRetired, readSigningKey } from './signing-keys.ts';

/** One key file as `pds keys check` found it. */
export interface KeyFileCheck {
  /** The file's path. */
  file: string;
  /** False when start-up would refuse it (damaged, or readable by others). */
  ok: boolean;
  /** What was found, in plain words. */
  detail: string;
}

const SIGNING = ['bureau', 'issuer'] as const;

/** Runs `check`, turning the refusal start-up would make into a line that names what is wrong. */
function attempt(file: string, check: () => string): KeyFileCheck {
  try {
    return { file, ok: true, detail: check() };
  } catch (err) {
    if (!isPdsError(err)) throw err;
    const what = err.code === 'ERR_KEY_PERMISSIONS' ? 'unsafe permissions' : 'damaged';
    return { file, ok: false, detail: `${what}: ${err.detail}` };
  }
}

/**
 * Checks every key file under `DATA_DIR/keys` as start-up does, offline and writing nothing
 * (docs/architecture.md §14): the master key against its check value, each signing key's private
 * half against its public half, each retired key's kid against its thumbprint.
 */
export function checkKeyFiles(keysDir: string): KeyFileCheck[] {
  const out: KeyFileCheck[] = [];
  const master = path.join(keysDir, MASTER_FILE);
  out.push(
    attempt(master, () => {
      const s = inspectMasterKey(master);
      if (s.state === 'missing') return 'missing: a new key is made at the next start';
      if (s.state === 'unrecorded')
        return `no check value yet (a key made before check values): the next start records it in ${checkFileOf(master)}`;
      return s.recorded === 'created'
        ? `ok: matches the check value written when it was made (${s.at})`
        : `ok: matches the check value recorded at its first load after check values came (${s.at}); a change before then cannot be told`;
    }),
  );
  for (const name of SIGNING) {
    const current = path.join(keysDir, `${name}-ed25519.jwk`);
    out.push(
      attempt(current, () =>
        fs.existsSync(current)
          ? `ok: the private half gives its public half (kid ${readSigningKey(current).kid})`
          : 'missing: a new key is made at the next start',
      ),
    );
    const retired = path.join(keysDir, `${name}-retired.json`);
    if (fs.existsSync(retired))
      out.push(
        attempt(retired, () => `ok: ${readRetired(retired).length} retired key(s), each kid its key's thumbprint`),
      );
  }
  return out;
}
