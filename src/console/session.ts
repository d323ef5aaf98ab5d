/**
 * Console sessions: a random id in an HttpOnly, SameSite=Strict cookie (Secure, and `__Host-`
 * prefixed, under https), the session itself held by the server — the bearer token the console
 * calls the API with never reaches the browser. A session ends after `idleMinutes` without a
 * request, `absoluteHours` after sign-in, when its token expires, or at sign-out. Each carries a
 * CSRF token every state-changing request must return (docs/architecture.md §16).
 *
 * Held in memory: the API is one process (docs/architecture.md §2), a restart signs people out and
 * loses nothing else, and no bearer token is written to disk.
 */
import { createHash, randomBytes } from 'node:crypto';
import { sameSecret } from '../digest/index.ts';
import type { Principal } from '../auth/index.ts';

export interface Session {
  id: string;
  principal: Principal;
  /** What the console sends the API as `Authorization: Bearer`. */
  bearer: string;
  csrf: string;
  via: 'link' | 'oidc';
  createdAt: number;
  lastSeen: number;
  /** The earliest of the absolute timeout and the bearer token's expiry (ms since the epoch). */
  expiresAt: number;
  /** A message for the next page (the outcome of a form), shown once. */
  flash?: { kind: 'ok' | 'error'; text: string; code?: string; detail?: string };
  /**
   * What a refused form held, for the page it goes back to (issue 33: a refusal never loses what
   * was entered or chosen); read once, by that page only.
   */
  draft?: { path: string; form: Record<string, string | string[] | undefined> };
}

export interface SessionLimits {
  idleMs: number;
  absoluteMs: number;
}

/** At most this many live sessions: the oldest are dropped first (a flood cannot exhaust memory). */
const MAX_SESSIONS = 10_000;

const token = () => randomBytes(32).toString('base64url');
/** Sessions are looked up by a digest of their id, so a timing side channel on the map reveals nothing useful. */
const keyOf = (id: string) => createHash('sha256').update(id).digest('base64url');

export class Sessions {
  private readonly byKey = new Map<string, Session>();

  constructor(
    private readonly limits: SessionLimits,
    private readonly now: () => number = Date.now,
  ) {}

  create(principal: Principal, bearer: string, via: Session['via'], bearerExpiresAt?: number): Session {
    const at = this.now();
    const session: Session = {
      id: token(),
      principal,
      bearer,
      csrf: token(),
      via,
      createdAt: at,
      lastSeen: at,
      expiresAt: Math.min(at + this.limits.absoluteMs, bearerExpiresAt ?? Infinity),
    };
    if (this.byKey.size >= MAX_SESSIONS) this.byKey.delete(this.byKey.keys().next().value!);
    this.byKey.set(keyOf(session.id), session);
    return session;
  }

  /** The live session with this id, its idle clock restarted; undefined when unknown or timed out. */
  get(id: string | undefined): Session | undefined {
    if (!id) return undefined;
    const key = keyOf(id);
    const s = this.byKey.get(key);
    if (!s) return undefined;
    const at = this.now();
    if (at >= s.expiresAt || at - s.lastSeen >= this.limits.idleMs) {
      this.byKey.delete(key);
      return undefined;
    }
    s.lastSeen = at;
    return s;
  }

  destroy(id: string | undefined): void {
    if (id) this.byKey.delete(keyOf(id));
  }

  /** Live and not yet swept sessions. */
  count(): number {
    return this.byKey.size;
  }
}

/** Constant-time comparison of a submitted CSRF token with the session's. */
export function csrfMatches(session: Session, submitted: unknown): boolean {
  return typeof submitted === 'string' && sameSecret(session.csrf, submitted);
}

/** The cookie's name: `__Host-` binds it to this origin, path / and https (browsers refuse it otherwise). */
export function cookieName(secure: boolean): string {
  return secure ? '__Host-pds_console' : 'pds_console';
}
