/**
 * What every console route works with: the signed-in session, and the typed API client acting
 * with that session's bearer token in this process (`injectFetch`): the console holds no rights
 * of its own — every read and every action is the API's, checked as for any client.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, createPdsClient, injectFetch, must, type Injectable, type PdsClient } from '../client/index.ts';
import { PdsError } from '../errors/index.ts';
import type { Form } from './forms.ts';
import type { Html } from './html.ts';
import { page } from './layout.ts';
import { csrfMatches, type Session, type Sessions } from './session.ts';

declare module 'fastify' {
  interface FastifyRequest {
    consoleSession: Session | undefined;
  }
}

export interface Console {
  sessions: Sessions;
  /** The session cookie's name and flags (Secure under https). */
  cookie: { name: string; secure: boolean };
  server: Injectable;
}

export interface Signed {
  session: Session;
  api: PdsClient;
}

/** The signed-in caller, or a redirect to the sign-in page (then undefined: the route returns). */
export function signedIn(c: Console, req: FastifyRequest, reply: FastifyReply): Signed | undefined {
  const session = req.consoleSession;
  if (!session) {
    const next = req.url.startsWith('/console/') ? req.url : '/console/';
    void reply.redirect(`/console/signin?next=${encodeURIComponent(next)}`, 303);
    return undefined;
  }
  return { session, api: apiFor(c, session) };
}

export function apiFor(c: Console, session: Session): PdsClient {
  return createPdsClient({ baseUrl: 'http://console.invalid', token: session.bearer, fetch: injectFetch(c.server) });
}

/** Refuses a state change whose CSRF token is missing or not the session's. */
export function assertCsrf(session: Session, req: FastifyRequest): void {
  const body = (req.body ?? {}) as Record<string, unknown>;
  const submitted = body._csrf ?? req.headers['x-csrf-token'];
  if (!csrfMatches(session, submitted))
    throw new PdsError(
      'ERR_CONSOLE_CSRF',
      'this form is stale or was not sent from the console; reload the page and try again',
    );
}

/** Renders a page for the session. */
export function send(reply: FastifyReply, session: Session | undefined, title: string, body: Html, status = 200) {
  const flash = session?.flash;
  if (session) delete session.flash;
  return reply
    .code(status)
    .type('text/html; charset=utf-8')
    .send(page({ title, session, path: reply.request.url, body, flash }));
}

/**
 * Runs a form's action through the API and answers with a redirect (post/redirect/get): to `next`
 * with a message on success; back to the form with the API's refusal (its code and words) otherwise.
 */
export async function act(
  reply: FastifyReply,
  session: Session,
  action: () => Promise<{ next: string; text: string }>,
  back: string,
) {
  try {
    const { next, text } = await action();
    session.flash = { kind: 'ok', text };
    return reply.redirect(next, 303);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    session.flash = { kind: 'error', text: `${err.detail}（${err.code}）` };
    return reply.redirect(back, 303);
  }
}

/**
 * A form's POST route: the action through the API, then post/redirect/get — to where the action
 * says (or `back`) with its message, or back to the form with the API's refusal.
 */
export function formAction(
  scope: FastifyInstance,
  c: Console,
  url: string,
  back: (params: Record<string, string>) => string,
  action: (s: Signed, form: Form, params: Record<string, string>) => Promise<{ next?: string; text: string }>,
): void {
  scope.post<{ Params: Record<string, string>; Body: Form }>(url, async (req, reply) => {
    const s = signedIn(c, req, reply);
    if (!s) return;
    const to = back(req.params);
    return act(
      reply,
      s.session,
      async () => {
        const done = await action(s, req.body ?? {}, req.params);
        return { next: done.next ?? to, text: done.text };
      },
      to,
    );
  });
}

export { must };
