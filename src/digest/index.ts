import { createHash, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import canonicalize from 'canonicalize';

/** SHA-256 of text or bytes, in hex. */
export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Whether a presented secret (a CSRF token, a credential, a claim ticket) is the expected one, in
 * time that depends on neither: both are hashed first, so even their lengths stay hidden.
 */
export function sameSecret(expected: string, presented: string): boolean {
  return timingSafeEqual(
    createHash('sha256').update(expected).digest(),
    createHash('sha256').update(presented).digest(),
  );
}

/** SHA-256 of a value's canonical JSON (RFC 8785): what the audit chain, the policy hash and reports seal. */
export function canonicalSha256(value: unknown): string {
  return sha256(canonicalize(value) ?? '');
}

/**
 * A unit's record key: a 62-bit keyed hash, as a BIGINT (signed sums run on DuckDB's fast integer
 * path; unsigned ones do not — docs/architecture.md §12). The engine hashes units carried up from
 * subqueries with the same expression, so the same people always get the same key.
 */
export function recordKeySql(unit: string, salt: bigint | string): string {
  return `(hash(${unit}, ${salt}::UBIGINT) >> 2)::BIGINT`;
}

/** SQL with the keys of recordKeySql and unitKeySql withheld: what may be shown of a rewritten query. */
export function withholdKeys(sql: string): string {
  return sql.replace(/\b\d+(?=::UBIGINT)/g, '<key withheld>');
}

/** A unit's domain-wide key: a 31-bit keyed hash of the raw unit, as an INTEGER (its square fits a BIGINT). */
export function unitKeySql(rawUnit: string, salt: bigint): string {
  return `(hash(${rawUnit}, ${salt}::UBIGINT) >> 33)::INTEGER`;
}

/** Files found to have a hash, by path: the identity (inode, size, times) they had then, and the hash. */
const hashed = new Map<string, { identity: string; sha256: string }>();

function identityOf(file: string): string | undefined {
  try {
    const stat = fs.statSync(file);
    return `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeMs}:${stat.ctimeMs}`;
  } catch {
    return undefined;
  }
}

/**
 * Records that `file`, as it is now, has this SHA-256 (it was hashed as it was written, or just
 * read whole): a later check of the same, unchanged file need not read it again.
 */
export function rememberSha256(file: string, sha256: string, identity = identityOf(file)): void {
  if (identity === undefined) return;
  if (hashed.size > 1000) hashed.clear();
  hashed.set(file, { identity, sha256 });
}

/**
 * Whether `file` exists and has this SHA-256: hashed again only when its identity moved since it
 * was last found so — another inode, size, modification or change time (any write moves the
 * change time, and no call sets it back). A snapshot of 10 M rows takes ~1 s to hash; a job on it
 * needs the check, not the second.
 */
export async function fileHasSha256(file: string, sha256: string): Promise<boolean> {
  const identity = identityOf(file);
  if (identity === undefined) return false;
  const known = hashed.get(file);
  if (known?.identity === identity) return known.sha256 === sha256;
  return (await fileSha256(file)) === sha256;
}

/** SHA-256 of a file, remembered for fileHasSha256 when the file did not change while it was read. */
export async function fileSha256(file: string): Promise<string> {
  const before = identityOf(file);
  const hash = createHash('sha256');
  // large reads: a snapshot of 10 M rows is ~0.5 GB, and 64 KiB chunks cost twice the time
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 4 << 20 })) hash.update(chunk as Buffer);
  const sha256 = hash.digest('hex');
  if (before !== undefined && before === identityOf(file)) rememberSha256(file, sha256, before);
  return sha256;
}
