import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { seedDomain } from '../../src/domain/index.ts';
import { createPlatform } from '../../src/platform/index.ts';
import { APPLICATION, buildWorld, silentLogger, testConfig, tmpDataDir } from '../helpers.ts';
import { flipCharacter } from '../support/damage.ts';

/** Damaged files name themselves and what is wrong, at start-up, instead of failing requests later. */

describe('damaged files', () => {
  it('a truncated signing key stops start-up naming the file', async () => {
    const t = tmpDataDir('pds-damaged-');
    try {
      await (await createPlatform(testConfig(t.dir), silentLogger)).close();
      const keyFile = fs
        .readdirSync(path.join(t.dir, 'keys'))
        .map((f) => path.join(t.dir, 'keys', f))
        .find((f) => f.endsWith('issuer-ed25519.jwk'))!;
      expect(keyFile).toBeDefined();
      fs.writeFileSync(keyFile, fs.readFileSync(keyFile, 'utf8').slice(0, 20));
      await expect(createPlatform(testConfig(t.dir), silentLogger)).rejects.toMatchObject({
        code: 'ERR_KEY_DAMAGED',
        detail: expect.stringContaining(keyFile),
      });
    } finally {
      t.cleanup();
    }
  });

  it('one changed character in a signing key’s private half stops start-up naming the file (issue 32)', async () => {
    const t = tmpDataDir('pds-damaged-');
    try {
      await (await createPlatform(testConfig(t.dir), silentLogger)).close();
      const keys = fs.readdirSync(path.join(t.dir, 'keys')).filter((f) => f.endsWith('-ed25519.jwk'));
      expect(keys.length).toBeGreaterThan(0);
      for (const name of keys) {
        const file = path.join(t.dir, 'keys', name);
        const good = fs.readFileSync(file, 'utf8');
        const jwk = JSON.parse(good) as { d: string };
        const flipped = jwk.d.slice(0, 5) + (jwk.d[5] === 'A' ? 'B' : 'A') + jwk.d.slice(6);
        fs.writeFileSync(file, JSON.stringify({ ...jwk, d: flipped }), { mode: 0o600 });
        await expect(createPlatform(testConfig(t.dir), silentLogger)).rejects.toMatchObject({
          code: 'ERR_KEY_DAMAGED',
          detail: expect.stringContaining(file),
        });
        fs.writeFileSync(file, good, { mode: 0o600 });
      }
      // restored, it starts again
      await (await createPlatform(testConfig(t.dir), silentLogger)).close();
    } finally {
      t.cleanup();
    }
  });

  it('one changed character in domain-master.key stops start-up naming the file (issue 32)', async () => {
    const t = tmpDataDir('pds-damaged-');
    try {
      await (await createPlatform(testConfig(t.dir), silentLogger)).close();
      const master = path.join(t.dir, 'keys', 'domain-master.key');
      const good = fs.readFileSync(master, 'utf8');
      flipCharacter(master);
      await expect(createPlatform(testConfig(t.dir), silentLogger)).rejects.toMatchObject({
        code: 'ERR_KEY_DAMAGED',
        detail: expect.stringContaining(master),
      });
      fs.writeFileSync(master, good, { mode: 0o600 });
      await (await createPlatform(testConfig(t.dir), silentLogger)).close();
    } finally {
      t.cleanup();
    }
  });

  it('a truncated domain database stops start-up naming the file; damaged later, the catalog says so (503)', async () => {
    const t = tmpDataDir('pds-damaged-');
    try {
      await seedDomain(t.dir, { rows: 100, seed: 1 });
      const domain = path.join(t.dir, 'domain.duckdb');
      fs.truncateSync(domain, 4096);
      await expect(createPlatform(testConfig(t.dir), silentLogger)).rejects.toMatchObject({
        code: 'ERR_DOMAIN_DAMAGED',
        detail: expect.stringContaining(domain),
      });
    } finally {
      t.cleanup();
    }
    const world = await buildWorld({ rows: 100 });
    try {
      const op = await world.token('operator', 'org-a');
      const get = () =>
        world.server.inject({ method: 'GET', url: '/v1/catalog', headers: { authorization: `Bearer ${op}` } });
      expect((await get()).statusCode).toBe(200);
      fs.truncateSync(path.join(world.dataDir, 'domain.duckdb'), 4096);
      const res = await get();
      expect(res.statusCode).toBe(503);
      expect(res.json()).toMatchObject({ code: 'ERR_DOMAIN_DAMAGED' });
      expect(res.json().detail).toContain('domain.duckdb');
    } finally {
      await world.close();
    }
  });
});

describe('a fatal error in the control store', () => {
  it('stops writes (503) and makes /healthz unhealthy with the reason', async () => {
    const world = await buildWorld({ rows: 100 });
    try {
      const fatal: string[] = [];
      world.platform.store.onFatal((reason) => fatal.push(reason));
      // what DuckDB raises when a commit fails past recovery (the database is then invalidated)
      await expect(
        world.platform.store.write(async () => {
          throw new Error('FATAL Error: Failed: database has been invalidated because of a previous fatal error');
        }),
      ).rejects.toThrow(/FATAL/);
      expect(fatal).toHaveLength(1);
      const health = await world.server.inject({ method: 'GET', url: '/healthz' });
      expect(health.statusCode).toBe(503);
      expect(health.json()).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
      expect(health.json().detail).toContain('invalidated');
      const op = await world.token('operator', 'org-a');
      const write = await world.server.inject({
        method: 'POST',
        url: '/v1/applications',
        headers: { authorization: `Bearer ${op}` },
        payload: APPLICATION,
      });
      expect(write.statusCode).toBe(503);
      expect(write.json()).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
    } finally {
      await world.close();
    }
  });
});
