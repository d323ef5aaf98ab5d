import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Type, type Static } from 'typebox';
import { PdsError } from '../errors/index.ts';

/**
 * Whether DATA_DIR is encrypted at rest (seed 000 第三十九条 lists encryption among the required
 * technical measures; issue 35). Linux only, and honest: `encrypted` only when the device or the
 * directory shows it — a dm-crypt (LUKS) device under the mount, an eCryptfs mount, or an fscrypt
 * policy on the directory — `not-encrypted` when everything that could encrypt it was inspected,
 * `unknown` with the reason otherwise (docs/operations.md "Encryption at rest").
 */

export const DataDirEncryptionSchema = Type.Object(
  {
    state: Type.Union([Type.Literal('encrypted'), Type.Literal('not-encrypted'), Type.Literal('unknown')]),
    how: Type.Optional(
      Type.Union([Type.Literal('dm-crypt'), Type.Literal('fscrypt'), Type.Literal('ecryptfs')], {
        description: 'encrypted: the layer that encrypts it',
      }),
    ),
    why: Type.Optional(Type.String({ description: 'not-encrypted or unknown: what was found' })),
  },
  {
    additionalProperties: false,
    description: 'whether DATA_DIR is on an encrypted device or directory, as checked at start-up',
  },
);
export type DataDirEncryption = Static<typeof DataDirEncryptionSchema>;

/** One line of /proc/self/mountinfo, the fields the check reads. */
export interface MountEntry {
  mountPoint: string;
  /** `major:minor` of the device; major 0 for file systems without one block device (tmpfs, btrfs, overlay, nfs). */
  device: string;
  fsType: string;
  source: string;
}

// mountinfo escapes space, tab, newline and backslash as octal (\040)
const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));

/** The mounts in /proc/self/mountinfo text (proc(5)); malformed lines are skipped. */
export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const [left, right] = line.split(' - ');
    if (!left || !right) continue;
    const l = left.split(' ');
    const r = right.split(' ');
    if (l.length < 5 || r.length < 2 || !/^\d+:\d+$/.test(l[2]!)) continue;
    out.push({ mountPoint: unescape(l[4]!), device: l[2]!, fsType: r[0]!, source: unescape(r[1]!) });
  }
  return out;
}

/** The mount holding `realPath` (symlinks already resolved): the longest mount point; of equal ones the last, which covers the others. */
export function mountOf(mounts: MountEntry[], realPath: string): MountEntry | undefined {
  let best: MountEntry | undefined;
  for (const m of mounts) {
    const inside = m.mountPoint === '/' || realPath === m.mountPoint || realPath.startsWith(`${m.mountPoint}/`);
    if (inside && (!best || m.mountPoint.length >= best.mountPoint.length)) best = m;
  }
  return best;
}

/** A device-mapper uuid (/sys/block/dm-N/dm/uuid) of a dm-crypt target: `CRYPT-LUKS2-…`, `CRYPT-PLAIN-…`. */
export const isCryptUuid = (uuid: string): boolean => uuid.trim().startsWith('CRYPT-');

/** `lsattr -d DIR` output: true when the flags hold `E` (FS_ENCRYPT_FL, an fscrypt policy); undefined when unreadable. */
export function lsattrEncrypted(output: string): boolean | undefined {
  const flags = /^([-A-Za-z]+)\s/.exec(output.trim())?.[1];
  return flags === undefined ? undefined : flags.includes('E');
}

/** `fscrypt status DIR` output (stdout and stderr): encrypted, not, or undefined when it could not tell. */
export function fscryptStatusEncrypted(output: string): boolean | undefined {
  if (/is encrypted with fscrypt/.test(output)) return true;
  if (/is not encrypted/.test(output)) return false;
  return undefined;
}

/** What the check reads of the machine; tests give fixtures. */
export interface EncryptionProbe {
  platform: string;
  realpath(p: string): string;
  readFile(p: string): string | undefined;
  listDir(p: string): string[];
  /** `major:minor` of a device node, or undefined. */
  deviceOf(p: string): string | undefined;
  /** A tool's combined output, or undefined when it is not installed. */
  run(cmd: string, args: string[]): string | undefined;
}

/** True when the block device `majMin`, or any device under it (LVM on LUKS), is a dm-crypt target. */
export function cryptBacked(probe: EncryptionProbe, majMin: string): boolean {
  const seen = new Set<string>();
  const walk = (dir: string): boolean => {
    const real = (() => {
      try {
        return probe.realpath(dir);
      } catch {
        return dir;
      }
    })();
    if (seen.has(real)) return false;
    seen.add(real);
    const uuid = probe.readFile(path.join(dir, 'dm', 'uuid'));
    if (uuid !== undefined && isCryptUuid(uuid)) return true;
    return probe.listDir(path.join(dir, 'slaves')).some((s) => walk(path.join('/sys/class/block', s)));
  };
  return walk(path.join('/sys/dev/block', majMin));
}

// file systems whose directories can carry an fscrypt policy
const FSCRYPT_CAPABLE = new Set(['ext4', 'f2fs', 'ubifs', 'ceph']);

function fscryptPolicy(probe: EncryptionProbe, dir: string): boolean | undefined {
  const tool = probe.run('fscrypt', ['status', dir]);
  const byTool = tool === undefined ? undefined : fscryptStatusEncrypted(tool);
  if (byTool !== undefined) return byTool;
  const attrs = probe.run('lsattr', ['-d', dir]);
  return attrs === undefined ? undefined : lsattrEncrypted(attrs);
}

/** Whether `dataDir` is encrypted at rest, by the probe (the real machine by default). */
export function checkDataDirEncryption(dataDir: string, probe: EncryptionProbe = machine): DataDirEncryption {
  if (probe.platform !== 'linux') return { state: 'unknown', why: `checked on Linux only (this is ${probe.platform})` };
  let real: string;
  try {
    real = probe.realpath(dataDir);
  } catch {
    return { state: 'unknown', why: `${dataDir} cannot be resolved` };
  }
  const mountinfo = probe.readFile('/proc/self/mountinfo');
  const mount = mountinfo === undefined ? undefined : mountOf(parseMountinfo(mountinfo), real);
  if (!mount) return { state: 'unknown', why: '/proc/self/mountinfo names no mount for it' };
  const on = `${mount.fsType} on ${mount.source} (mounted at ${mount.mountPoint})`;
  if (mount.fsType === 'ecryptfs') return { state: 'encrypted', how: 'ecryptfs' };
  // btrfs and the like report major 0 in mountinfo: their source's device node says which device
  const device = !mount.device.startsWith('0:')
    ? mount.device
    : mount.source.startsWith('/dev/')
      ? probe.deviceOf(mount.source)
      : undefined;
  if (device && cryptBacked(probe, device)) return { state: 'encrypted', how: 'dm-crypt' };
  if (FSCRYPT_CAPABLE.has(mount.fsType)) {
    const policy = fscryptPolicy(probe, real);
    if (policy) return { state: 'encrypted', how: 'fscrypt' };
    if (policy === undefined)
      return {
        state: 'unknown',
        why: `${on}, not dm-crypt; an fscrypt policy cannot be checked without fscrypt or lsattr`,
      };
  }
  if (device) return { state: 'not-encrypted', why: `${on}: no dm-crypt device under it, no fscrypt policy` };
  if (mount.fsType === 'tmpfs' || mount.fsType === 'ramfs')
    return { state: 'not-encrypted', why: `${on}: memory, written to swap unencrypted unless swap is` };
  return { state: 'unknown', why: `${on}: no block device to inspect` };
}

const machine: EncryptionProbe = {
  platform: process.platform,
  realpath: (p) => fs.realpathSync(p),
  readFile: (p) => {
    try {
      return fs.readFileSync(p, 'utf8');
    } catch {
      return undefined;
    }
  },
  listDir: (p) => {
    try {
      return fs.readdirSync(p);
    } catch {
      return [];
    }
  },
  deviceOf: (p) => {
    try {
      const rdev = fs.statSync(p).rdev;
      const lo = rdev % 2 ** 32;
      const hi = Math.floor(rdev / 2 ** 32);
      // Linux dev_t as glibc's gnu_dev_major/minor split it
      return `${((lo >>> 8) & 0xfff) | (hi & 0xfffff000)}:${(lo & 0xff) | ((lo >>> 12) & 0xfff00)}`;
    } catch {
      return undefined;
    }
  },
  run: (cmd, args) => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      const e = err as { code?: string; stdout?: string; stderr?: string };
      // not installed: the tool says nothing; it ran and refused (fscrypt: "not encrypted", exit 1): its words
      return e.code === 'ENOENT' ? undefined : `${e.stdout ?? ''}${e.stderr ?? ''}`;
    }
  },
};

/** The start-up refusal under REQUIRE_ENCRYPTED_DATA_DIR=true: DATA_DIR named, with what was found. */
export function dataDirNotEncrypted(dataDir: string, found: DataDirEncryption): PdsError {
  return new PdsError(
    'ERR_DATA_DIR_NOT_ENCRYPTED',
    `DATA_DIR ${dataDir} is not on an encrypted device (${found.state}${found.why ? `: ${found.why}` : ''}) and REQUIRE_ENCRYPTED_DATA_DIR=true; put it on LUKS or fscrypt (docs/operations.md "Encryption at rest") or unset the variable`,
    { extra: { directory: dataDir } },
  );
}
