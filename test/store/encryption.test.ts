import os from 'node:os';
import { describe, expect, it } from 'vitest';
import {
  checkDataDirEncryption,
  fscryptStatusEncrypted,
  isCryptUuid,
  lsattrEncrypted,
  mountOf,
  parseMountinfo,
  type EncryptionProbe,
} from '../../src/store/index.ts';

// real lines of /proc/self/mountinfo (proc(5)), one with an escaped space
const MOUNTINFO = `22 27 0:21 / /proc rw,relatime - proc proc rw
27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard
25 24 0:23 / /dev/shm rw,relatime - tmpfs tmpfs rw,size=24683772k
40 27 253:1 / /srv rw,relatime shared:1 - xfs /dev/mapper/vg-srv rw,attr2
41 40 253:2 / /srv/pds rw,relatime shared:2 master:1 - ext4 /dev/mapper/luks-1f2e rw
42 27 0:44 / /home/ops/Private rw,relatime - ecryptfs /home/ops/.Private rw,ecryptfs_cipher=aes
43 27 0:45 /@data /data rw,relatime - btrfs /dev/nvme0n1p3 rw,ssd
44 27 0:46 / /mnt/my\\040disk rw - ext4 /dev/sdb1 rw
45 27 0:47 / /net rw - nfs4 fs:/export rw
this is not a mountinfo line`;

describe('parsing mountinfo and sysfs', () => {
  const mounts = parseMountinfo(MOUNTINFO);

  it('reads each mount: device numbers, file system type, source; escapes undone; bad lines skipped', () => {
    expect(mounts).toHaveLength(9);
    expect(mounts[4]).toEqual({
      mountPoint: '/srv/pds',
      device: '253:2',
      fsType: 'ext4',
      source: '/dev/mapper/luks-1f2e',
    });
    expect(mounts[7]!.mountPoint).toBe('/mnt/my disk');
  });

  it('finds the mount by the longest prefix on a path boundary', () => {
    expect(mountOf(mounts, '/srv/pds/data')!.mountPoint).toBe('/srv/pds');
    expect(mountOf(mounts, '/srv/pdsx')!.mountPoint).toBe('/srv');
    expect(mountOf(mounts, '/srv')!.mountPoint).toBe('/srv');
    expect(mountOf(mounts, '/var/lib/pds')!.mountPoint).toBe('/');
    expect(mountOf(mounts, '/mnt/my disk/x')!.source).toBe('/dev/sdb1');
  });

  it('a mount over another at the same point wins (the later line)', () => {
    const over = parseMountinfo(
      `27 1 254:0 / / rw - ext4 /dev/vda rw\n50 27 0:50 / /x rw - ext4 /dev/sdc rw\n51 50 253:9 / /x rw - ext4 /dev/dm-9 rw`,
    );
    expect(mountOf(over, '/x/y')!.device).toBe('253:9');
  });

  it('tells a dm-crypt uuid from LVM and multipath ones', () => {
    expect(isCryptUuid('CRYPT-LUKS2-1f2e3d4c5b6a47988796a5b4c3d2e1f0-luks-1f2e\n')).toBe(true);
    expect(isCryptUuid('CRYPT-PLAIN-swap')).toBe(true);
    expect(isCryptUuid('LVM-7gHqZy2pXcHk0oQp3b9lWdY1eRtU5iO6aS4dF8gJ2hK1lZ3xC5vB7nM9qW0eR2tY')).toBe(false);
    expect(isCryptUuid('mpath-3600508b400105e210000900000490000')).toBe(false);
    expect(isCryptUuid('')).toBe(false);
  });

  it('reads lsattr and fscrypt status output', () => {
    expect(lsattrEncrypted('----------E---e------- /srv/pds/data\n')).toBe(true);
    expect(lsattrEncrypted('--------------e------- /tmp\n')).toBe(false);
    expect(lsattrEncrypted('lsattr: Operation not supported While reading flags on /x\n')).toBeUndefined();
    expect(fscryptStatusEncrypted('"/srv/pds/data" is encrypted with fscrypt.\n\nPolicy:   16382f282d7b29ee\n')).toBe(
      true,
    );
    expect(fscryptStatusEncrypted('fscrypt status: file or directory "/tmp/x" is not encrypted\n')).toBe(false);
    expect(fscryptStatusEncrypted('fscrypt status: filesystem / is not setup for use with fscrypt\n')).toBeUndefined();
  });
});

/** A machine made of fixtures: sysfs files, directory listings, tool outputs (absent = not installed). */
function probe(opts: {
  files?: Record<string, string>;
  dirs?: Record<string, string[]>;
  tools?: Record<string, string>;
  platform?: string;
}): EncryptionProbe {
  const files: Record<string, string> = { '/proc/self/mountinfo': MOUNTINFO, ...opts.files };
  return {
    platform: opts.platform ?? 'linux',
    realpath: (p) => p.replace(/^\/var\/lib\/pds-link/, '/srv/pds'),
    readFile: (p) => files[p],
    listDir: (p) => opts.dirs?.[p] ?? [],
    deviceOf: (p) => (p === '/dev/nvme0n1p3' ? '259:3' : undefined),
    run: (cmd) => opts.tools?.[cmd],
  };
}

describe('checkDataDirEncryption on fixtures', () => {
  const plainLsattr = { lsattr: '--------------e------- /x\n' };

  it('a LUKS device under the mount, through a symlinked DATA_DIR: dm-crypt', () => {
    const p = probe({ files: { '/sys/dev/block/253:2/dm/uuid': 'CRYPT-LUKS2-1f2e-luks-1f2e\n' } });
    expect(checkDataDirEncryption('/var/lib/pds-link/data', p)).toEqual({ state: 'encrypted', how: 'dm-crypt' });
  });

  it('LVM on LUKS: the crypt device is found among the slaves', () => {
    const p = probe({
      files: { '/sys/dev/block/253:1/dm/uuid': 'LVM-abc', '/sys/class/block/dm-0/dm/uuid': 'CRYPT-LUKS2-x-cryptroot' },
      dirs: { '/sys/dev/block/253:1/slaves': ['dm-0'] },
      tools: plainLsattr,
    });
    expect(checkDataDirEncryption('/srv/other', p)).toEqual({ state: 'encrypted', how: 'dm-crypt' });
  });

  it('plain LVM on a disk: not encrypted, saying what it is', () => {
    const p = probe({
      files: { '/sys/dev/block/253:1/dm/uuid': 'LVM-abc' },
      dirs: { '/sys/dev/block/253:1/slaves': ['sda2'] },
    });
    const found = checkDataDirEncryption('/srv/other', p);
    expect(found.state).toBe('not-encrypted');
    expect(found.why).toContain('xfs on /dev/mapper/vg-srv');
  });

  it('eCryptfs by its mount type', () => {
    expect(checkDataDirEncryption('/home/ops/Private/pds', probe({}))).toEqual({ state: 'encrypted', how: 'ecryptfs' });
  });

  it('fscrypt by the fscrypt tool, or by the E flag lsattr shows', () => {
    const byTool = probe({ tools: { fscrypt: '"/var/lib/pds" is encrypted with fscrypt.\n' } });
    expect(checkDataDirEncryption('/var/lib/pds', byTool)).toEqual({ state: 'encrypted', how: 'fscrypt' });
    const byFlag = probe({ tools: { lsattr: '----------E---e------- /var/lib/pds\n' } });
    expect(checkDataDirEncryption('/var/lib/pds', byFlag)).toEqual({ state: 'encrypted', how: 'fscrypt' });
    const notByTool = probe({
      tools: { fscrypt: 'fscrypt status: file or directory "/var/lib/pds" is not encrypted' },
    });
    expect(checkDataDirEncryption('/var/lib/pds', notByTool).state).toBe('not-encrypted');
  });

  it('ext4 with neither fscrypt nor lsattr: unknown, saying why', () => {
    const found = checkDataDirEncryption('/var/lib/pds', probe({}));
    expect(found.state).toBe('unknown');
    expect(found.why).toMatch(/fscrypt/);
  });

  it('btrfs (major 0 in mountinfo) is inspected through its source device', () => {
    const p = probe({ files: { '/sys/dev/block/259:3/dm/uuid': 'CRYPT-LUKS2-y-data' } });
    expect(checkDataDirEncryption('/data/pds', p)).toEqual({ state: 'encrypted', how: 'dm-crypt' });
    expect(checkDataDirEncryption('/data/pds', probe({})).state).toBe('not-encrypted');
  });

  it('tmpfs is not encrypted; NFS and other systems are unknown; elsewhere than Linux too', () => {
    expect(checkDataDirEncryption('/dev/shm/pds', probe({})).state).toBe('not-encrypted');
    expect(checkDataDirEncryption('/net/pds', probe({}))).toMatchObject({
      state: 'unknown',
      why: expect.stringMatching(/nfs4/),
    });
    expect(checkDataDirEncryption('/srv/pds', probe({ platform: 'darwin' })).state).toBe('unknown');
    expect(checkDataDirEncryption('/srv/pds', probe({ files: { '/proc/self/mountinfo': '' } })).state).toBe('unknown');
  });
});

describe('checkDataDirEncryption on this machine', () => {
  it('the temp directory is plain here: not-encrypted or unknown, never encrypted', () => {
    const found = checkDataDirEncryption(os.tmpdir());
    expect(['not-encrypted', 'unknown']).toContain(found.state);
    expect(found.how).toBeUndefined();
    expect(found.why).toBeTruthy();
  });
});
