import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';

/** SHA-256 of text or bytes, in hex. */
export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** SHA-256 of a value's canonical JSON (RFC 8785): what the audit chain, the policy hash and reports seal. */
export function canonicalSha256(value: unknown): string {
  return sha256(canonicalize(value) ?? '');
}
