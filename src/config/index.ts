import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PdsError } from '../errors/index.ts';

/** The package's root (holding `policies/`), from sources or from `dist/`, whatever the working directory. */
export const PACKAGE_ROOT = ((): string => {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('pubdata-sandbox: package.json not found above the config module');
    dir = up;
  }
  return dir;
})();

/** External identity provider; when absent the embedded issuer signs and verifies tokens. */
export interface ExternalAuthConfig {
  jwksUrl: URL;
  issuer: string;
  audience: string;
  /** The claim holding a person's roles (AUTH_ROLES_CLAIM, a dotted path such as `realm_access.roles`). Default `roles`. */
  rolesClaim: string;
  /** The claim holding a person's organisation (AUTH_ORG_CLAIM, a dotted path). Default `org`. */
  orgClaim: string;
  /**
   * The console's OpenID Connect client at the IdP (AUTH_CLIENT_ID, AUTH_CLIENT_SECRET): set, the
   * console signs people in with the authorization-code flow and PKCE; a public client (no secret)
   * is allowed, since PKCE binds the code to this server's sign-in.
   */
  client: { id: string; secret: string | undefined } | undefined;
}

/** The web console's sessions (docs/architecture.md §16). */
export interface ConsoleConfig {
  /**
   * The origin people reach the console at (PUBLIC_URL, e.g. https://pds.example.gov.cn): the
   * OIDC redirect URI and sign-in links are built on it, and under https its cookies are Secure.
   * Default: http://HOST:PORT.
   */
  publicUrl: URL | undefined;
  /** A session ends after this long without a request (CONSOLE_IDLE_MINUTES). Default 30. */
  idleMinutes: number;
  /** A session ends this long after sign-in, however active (CONSOLE_SESSION_HOURS). Default 8. */
  absoluteHours: number;
}

export interface Config {
  /** Root of all state: domain and control databases, snapshots, outputs, keys. Default `./data`. */
  dataDir: string;
  /** Policy files (catalog, masking, disclosure, SQL allowlist). Default: the package's `policies/`. */
  policiesDir: string;
  /** Listen port. Default 8080. */
  port: number;
  /** Listen address. Default 127.0.0.1: exposing the API is a deliberate act. */
  host: string;
  /** BullMQ connection; unset means the embedded executor. */
  redisUrl: URL | undefined;
  /** External JWKS auth; unset means the embedded issuer. */
  auth: ExternalAuthConfig | undefined;
  console: ConsoleConfig;
  /**
   * The credential a Prometheus scraper presents at `/metrics` (METRICS_TOKEN, at least 32
   * characters, as `Authorization: Bearer …`); unset, `/metrics` is off.
   */
  metricsToken: string | undefined;
  /** pino level. Default `info`. */
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Embedded executor concurrency, and a `pds worker`'s. Default 2 (one per core on the reference machine). */
  executorConcurrency: number;
  /** Attempts a contract's snapshot build gets before it is reported failed (SNAPSHOT_BUILD_ATTEMPTS). Default 3. */
  snapshotBuildAttempts: number;
  /** `pds worker` without the API's disk: the size of its cache of fetched snapshots, MB (WORKER_CACHE_MB). Default 20480. */
  workerCacheMb: number;
  /** BullMQ: how often the API reconciles the queue with the store (RECONCILE_MS). Default 5000. */
  reconcileMs: number;
  /** BullMQ: key prefix in Redis (QUEUE_PREFIX), so several domains can share one Redis. Default `pds`. */
  queuePrefix: string;
  /**
   * BullMQ: how long a worker's claim on a job lasts unrenewed (WORKER_LEASE_MS); the worker renews
   * it every third of that. A worker lost mid-job frees its job after this. Default 20000.
   */
  workerLeaseMs: number;
  /**
   * Free space DATA_DIR must keep (MIN_FREE_MB, in MB): a write that would go below it — a store
   * transaction, a snapshot, an output, a report, dummy data — is refused with ERR_STORAGE_FULL.
   * Default 64, at least MIN_FREE_MB_FLOOR (16).
   */
  minFreeBytes: number;
  /**
   * The OS layer around each runner (SANDBOX_OS): `bwrap` (default) runs it inside bubblewrap and
   * refuses to start where that cannot work; `off` runs without it, which is logged and shown in
   * /healthz and every risk report. BWRAP names a bubblewrap binary outside the usual places.
   */
  sandboxOs: 'bwrap' | 'off';
  /**
   * Refuse to start unless DATA_DIR is on an encrypted device or directory (REQUIRE_ENCRYPTED_DATA_DIR,
   * `true` or `false`). Default false: the state is logged as a warning, shown in /healthz, the
   * metrics and every risk report (docs/operations.md "Encryption at rest").
   */
  requireEncryptedDataDir: boolean;
}

/**
 * The least MIN_FREE_MB takes: the check before a write is all that keeps a control-store commit
 * from meeting a full disk, and such a commit can abort the process (docs/architecture.md §14).
 */
export const MIN_FREE_MB_FLOOR = 16;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function bad(variable: string, why: string): never {
  throw new PdsError('ERR_CONFIG', `${variable}: ${why}`, { extra: { variable } });
}

function parseIntVar(env: NodeJS.ProcessEnv, name: string, def: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (!/^\d+$/.test(raw)) bad(name, `must be an integer, got ${JSON.stringify(raw)}`);
  const n = Number(raw);
  if (n < min || n > max) bad(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

/** `true` or `false` exactly; unset or empty is the default (no `1`, `yes` or `TRUE`: a typo must not read as false). */
function parseBoolVar(env: NodeJS.ProcessEnv, name: string, def: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  if (raw !== 'true' && raw !== 'false') bad(name, `must be true or false, got ${JSON.stringify(raw)}`);
  return raw === 'true';
}

function parseUrlVar(env: NodeJS.ProcessEnv, name: string, protocols: string[]): URL | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    bad(name, `must be a URL, got ${JSON.stringify(raw)}`);
  }
  if (!protocols.includes(url.protocol)) bad(name, `must use ${protocols.join(' or ')}, got ${url.protocol}`);
  return url;
}

/**
 * Reads and validates the configuration once, at start-up. This is the only place that reads
 * `process.env`; everything else receives a `Config`. A bad value throws `ERR_CONFIG` naming the
 * variable, so start-up stops with a message an operator can act on.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const dataDir = path.resolve(env.DATA_DIR && env.DATA_DIR !== '' ? env.DATA_DIR : './data');
  const policiesDir = path.resolve(
    env.POLICIES_DIR && env.POLICIES_DIR !== '' ? env.POLICIES_DIR : path.join(PACKAGE_ROOT, 'policies'),
  );
  const port = parseIntVar(env, 'PORT', 8080, 0, 65535);
  const host = env.HOST && env.HOST !== '' ? env.HOST : '127.0.0.1';
  const redisUrl = parseUrlVar(env, 'REDIS_URL', ['redis:', 'rediss:']);

  const auth = loadExternalAuth(env);

  const logLevel = (env.LOG_LEVEL || 'info') as Config['logLevel'];
  if (!LOG_LEVELS.includes(logLevel))
    bad('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(env.LOG_LEVEL)}`);
  const executorConcurrency = parseIntVar(env, 'EXECUTOR_CONCURRENCY', 2, 1, 64);
  const snapshotBuildAttempts = parseIntVar(env, 'SNAPSHOT_BUILD_ATTEMPTS', 3, 1, 20);
  const workerCacheMb = parseIntVar(env, 'WORKER_CACHE_MB', 20_480, 1, 100_000_000);
  const reconcileMs = parseIntVar(env, 'RECONCILE_MS', 5000, 200, 600_000);
  const workerLeaseMs = parseIntVar(env, 'WORKER_LEASE_MS', 20_000, 1000, 3_600_000);
  const minFreeBytes = loadMinFreeBytes(env);
  const sandboxOs = (env.SANDBOX_OS || 'bwrap') as Config['sandboxOs'];
  if (sandboxOs !== 'bwrap' && sandboxOs !== 'off')
    bad('SANDBOX_OS', `must be bwrap or off, got ${JSON.stringify(env.SANDBOX_OS)}`);
  const requireEncryptedDataDir = parseBoolVar(env, 'REQUIRE_ENCRYPTED_DATA_DIR', false);
  const queuePrefix = env.QUEUE_PREFIX || 'pds';
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(queuePrefix))
    bad('QUEUE_PREFIX', `must be 1–64 letters, digits, '_', '.' or '-', got ${JSON.stringify(queuePrefix)}`);

  const consoleConfig = loadConsoleConfig(env);
  const metricsToken = loadMetricsToken(env);

  return {
    dataDir,
    policiesDir,
    console: consoleConfig,
    metricsToken,
    port,
    host,
    redisUrl,
    auth,
    logLevel,
    executorConcurrency,
    snapshotBuildAttempts,
    workerCacheMb,
    sandboxOs,
    reconcileMs,
    queuePrefix,
    workerLeaseMs,
    minFreeBytes,
    requireEncryptedDataDir,
    ...overrides,
  };
}

/** AUTH_JWKS_URL, AUTH_ISSUER and AUTH_AUDIENCE, all three or none (none: the embedded issuer). */
function loadExternalAuth(env: NodeJS.ProcessEnv): ExternalAuthConfig | undefined {
  const jwksUrl = parseUrlVar(env, 'AUTH_JWKS_URL', ['https:', 'http:']);
  const issuer = env.AUTH_ISSUER || undefined;
  const audience = env.AUTH_AUDIENCE || undefined;
  const authSet = [jwksUrl, issuer, audience].filter((v) => v !== undefined).length;
  if (authSet === 0) return undefined;
  if (authSet < 3) {
    const missing = [
      jwksUrl ? null : 'AUTH_JWKS_URL',
      issuer ? null : 'AUTH_ISSUER',
      audience ? null : 'AUTH_AUDIENCE',
    ].filter((v): v is string => v !== null);
    bad(
      missing[0]!,
      `AUTH_JWKS_URL, AUTH_ISSUER and AUTH_AUDIENCE must be set together; missing ${missing.join(', ')}`,
    );
  }
  const claim = (name: string, def: string) => {
    const v = env[name] || def;
    if (!/^[A-Za-z0-9_:/.-]{1,128}$/.test(v))
      bad(name, `must be a claim name or dotted path, got ${JSON.stringify(v)}`);
    return v;
  };
  const auth: ExternalAuthConfig = {
    jwksUrl: jwksUrl!,
    issuer: issuer!,
    audience: audience!,
    rolesClaim: claim('AUTH_ROLES_CLAIM', 'roles'),
    orgClaim: claim('AUTH_ORG_CLAIM', 'org'),
    client: env.AUTH_CLIENT_ID ? { id: env.AUTH_CLIENT_ID, secret: env.AUTH_CLIENT_SECRET || undefined } : undefined,
  };
  if (auth.jwksUrl.protocol === 'http:' && !['localhost', '127.0.0.1', '[::1]'].includes(auth.jwksUrl.hostname))
    bad('AUTH_JWKS_URL', 'must use https unless it points at localhost');
  return auth;
}

/** MIN_FREE_MB, in bytes: never below MIN_FREE_MB_FLOOR. */
function loadMinFreeBytes(env: NodeJS.ProcessEnv): number {
  const minFreeMb = parseIntVar(env, 'MIN_FREE_MB', 64, 0, 1_000_000);
  if (minFreeMb < MIN_FREE_MB_FLOOR)
    bad(
      'MIN_FREE_MB',
      `must be at least ${MIN_FREE_MB_FLOOR}, got ${minFreeMb}: with less, a control-store commit can meet a full disk (docs/architecture.md §14)`,
    );
  return minFreeMb * 1024 * 1024;
}

/** PUBLIC_URL and the console's session lengths. */
function loadConsoleConfig(env: NodeJS.ProcessEnv): ConsoleConfig {
  const publicUrl = parseUrlVar(env, 'PUBLIC_URL', ['https:', 'http:']);
  if (publicUrl && (publicUrl.pathname !== '/' || publicUrl.search || publicUrl.hash))
    bad('PUBLIC_URL', `must be an origin only (scheme, host, port), got ${JSON.stringify(env.PUBLIC_URL)}`);
  return {
    publicUrl,
    idleMinutes: parseIntVar(env, 'CONSOLE_IDLE_MINUTES', 30, 1, 24 * 60),
    absoluteHours: parseIntVar(env, 'CONSOLE_SESSION_HOURS', 8, 1, 24 * 7),
  };
}

/** METRICS_TOKEN: unset, /metrics is off. */
function loadMetricsToken(env: NodeJS.ProcessEnv): string | undefined {
  const metricsToken = env.METRICS_TOKEN || undefined;
  if (metricsToken !== undefined && (metricsToken.length < 32 || /\s/.test(metricsToken)))
    bad('METRICS_TOKEN', 'must be at least 32 characters without spaces (e.g. openssl rand -hex 32)');
  return metricsToken;
}
