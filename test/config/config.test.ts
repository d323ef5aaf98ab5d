import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.ts';
import { PdsError } from '../../src/errors/index.ts';

function refusal(env: NodeJS.ProcessEnv): PdsError {
  try {
    loadConfig(env);
  } catch (err) {
    return err as PdsError;
  }
  throw new Error('expected loadConfig to refuse');
}

describe('loadConfig', () => {
  it('has sensible defaults: ./data, port 8080, embedded executor and issuer', () => {
    const c = loadConfig({});
    expect(c.dataDir).toBe(path.resolve('./data'));
    expect(c.port).toBe(8080);
    expect(c.host).toBe('127.0.0.1');
    expect(c.redisUrl).toBeUndefined();
    expect(c.auth).toBeUndefined();
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ REDIS_URL: 'not a url' }, 'REDIS_URL'],
    [{ REDIS_URL: 'http://localhost:6379' }, 'REDIS_URL'],
    [{ AUTH_JWKS_URL: 'https://idp.example/jwks' }, 'AUTH_ISSUER'],
    [{ AUTH_ISSUER: 'x', AUTH_AUDIENCE: 'y' }, 'AUTH_JWKS_URL'],
    [{ AUTH_JWKS_URL: 'http://idp.example/jwks', AUTH_ISSUER: 'x', AUTH_AUDIENCE: 'y' }, 'AUTH_JWKS_URL'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ EXECUTOR_CONCURRENCY: '0' }, 'EXECUTOR_CONCURRENCY'],
    [{ SNAPSHOT_BUILD_ATTEMPTS: '0' }, 'SNAPSHOT_BUILD_ATTEMPTS'],
    [{ WORKER_CACHE_MB: 'lots' }, 'WORKER_CACHE_MB'],
    [{ WORKER_CACHE_MB: '0' }, 'WORKER_CACHE_MB'],
    [{ METRICS_TOKEN: 'too-short' }, 'METRICS_TOKEN'],
    [{ PUBLIC_URL: 'https://pds.example/console' }, 'PUBLIC_URL'],
    [{ CONSOLE_IDLE_MINUTES: '0' }, 'CONSOLE_IDLE_MINUTES'],
    [{ MIN_FREE_MB: '0' }, 'MIN_FREE_MB'],
    [{ MIN_FREE_MB: '15' }, 'MIN_FREE_MB'],
    [{ REQUIRE_ENCRYPTED_DATA_DIR: 'yes' }, 'REQUIRE_ENCRYPTED_DATA_DIR'],
    [{ REQUIRE_ENCRYPTED_DATA_DIR: 'TRUE' }, 'REQUIRE_ENCRYPTED_DATA_DIR'],
    [{ REQUIRE_ENCRYPTED_DATA_DIR: '1' }, 'REQUIRE_ENCRYPTED_DATA_DIR'],
    [
      { AUTH_JWKS_URL: 'https://idp.example/jwks', AUTH_ISSUER: 'x', AUTH_AUDIENCE: 'y', AUTH_ROLES_CLAIM: 'a b' },
      'AUTH_ROLES_CLAIM',
    ],
  ])('refuses %j naming %s', (env, variable) => {
    const err = refusal(env);
    expect(err.code).toBe('ERR_CONFIG');
    expect(err.extra?.variable).toBe(variable);
    expect(err.detail.startsWith(`${variable}:`)).toBe(true);
  });

  it('MIN_FREE_MB has a floor of 16 MB (issue 32): 0 was accepted and let a commit meet a full disk', () => {
    expect(loadConfig({}).minFreeBytes).toBe(64 * 1024 * 1024);
    expect(loadConfig({ MIN_FREE_MB: '16' }).minFreeBytes).toBe(16 * 1024 * 1024);
    expect(refusal({ MIN_FREE_MB: '0' }).detail).toContain('at least 16');
  });

  it('REQUIRE_ENCRYPTED_DATA_DIR is true or false exactly, false by default', () => {
    expect(loadConfig({}).requireEncryptedDataDir).toBe(false);
    expect(loadConfig({ REQUIRE_ENCRYPTED_DATA_DIR: '' }).requireEncryptedDataDir).toBe(false);
    expect(loadConfig({ REQUIRE_ENCRYPTED_DATA_DIR: 'true' }).requireEncryptedDataDir).toBe(true);
    expect(loadConfig({ REQUIRE_ENCRYPTED_DATA_DIR: 'false' }).requireEncryptedDataDir).toBe(false);
  });

  it('accepts an external IdP when all three variables are set', () => {
    const c = loadConfig({
      AUTH_JWKS_URL: 'https://idp.example/.well-known/jwks.json',
      AUTH_ISSUER: 'https://idp.example',
      AUTH_AUDIENCE: 'pds',
    });
    expect(c.auth?.issuer).toBe('https://idp.example');
    expect(c.auth?.jwksUrl.href).toBe('https://idp.example/.well-known/jwks.json');
    expect(c.auth).toMatchObject({ rolesClaim: 'roles', orgClaim: 'org', client: undefined });
    const withClient = loadConfig({
      AUTH_JWKS_URL: 'https://idp.example/jwks',
      AUTH_ISSUER: 'https://idp.example',
      AUTH_AUDIENCE: 'pds',
      AUTH_CLIENT_ID: 'pds-console',
      AUTH_ROLES_CLAIM: 'realm_access.roles',
    });
    expect(withClient.auth).toMatchObject({ rolesClaim: 'realm_access.roles', client: { id: 'pds-console' } });
  });
});
