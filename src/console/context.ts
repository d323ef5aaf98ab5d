/**
 * What every console route works with: the signed-in session, and the typed API client acting
 * with that session's bearer token in this process (`injectFetch`): the console holds no rights
 * of its own — every read and every action is the API's, checked as for any client.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteGenericInterface } from 'fastify';
import { ApiError, createPdsClient, injectFetch, must, type Injectable, type PdsClient } from '../client/index.ts';
import { PdsError } from '../errors/index.ts';
import { errorText } from '../terms/index.ts';
import type { Form } from './forms.ts';
import { html, type Html } from './html.ts';
import { csrfField, page } from './layout.ts';
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

/** A group of console pages: registers its routes on the console's scope (src/console/pages, one file a resource). */
export type Pages = (scope: FastifyInstance, c: Console) => void;

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

/**
 * A page's handler: the signed-in caller (or the way to sign in), then what `render` makes of the
 * API's answers — the page's title and body — in the layout.
 */
export function signedPage<R extends RouteGenericInterface = RouteGenericInterface>(
  c: Console,
  render: (s: Signed, req: FastifyRequest<R>) => Promise<[title: string, body: Html]>,
) {
  return async (req: FastifyRequest<R>, reply: FastifyReply<R>) => {
    const s = signedIn(c, req, reply);
    if (!s) return;
    const [title, body] = await render(s, req);
    return send(reply, s.session, title, body);
  };
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

/** A refusal as the one-time message: the code's Chinese sentence, the code, the API's detail beside. */
export function refusalFlash(err: ApiError | PdsError): NonNullable<Session['flash']> {
  const { primary, secondary } = errorText(err);
  return { kind: 'error', text: primary, code: err.code, ...(secondary ? { detail: secondary } : {}) };
}

/** The form a refusal sent back to `path`, once (then forgotten); undefined when there is none. */
export function takeDraft(session: Session, path: string): Form | undefined {
  const draft = session.draft;
  if (!draft || draft.path !== path) return undefined;
  delete session.draft;
  return draft.form;
}

/** A destructive or irreversible choice, asked once more before it is made. */
export interface Confirmation {
  /** What will happen, in a sentence. */
  question: string;
  /** The confirming button's words (确认撤销 …). */
  button: string;
}

/**
 * The confirmation step (issue 33): the same form posted again with every field kept and
 * `confirm=yes`, so it works with no script; "返回修改" goes back to the form, filled in as it was.
 */
function confirmView(session: Session, action: string, form: Form, ask: Confirmation, back: string): Html {
  const fields = Object.entries(form).filter(([k]) => k !== '_csrf' && k !== 'confirm');
  return html`<div class="notice warn" role="alert"><p>${ask.question}</p></div>
    <form method="post" action="${action}" class="stack card">
      ${csrfField(session)}
      ${fields.flatMap(([k, v]) => [v ?? []].flat().map((x) => html`<input type="hidden" name="${k}" value="${x}" />`))}
      <input type="hidden" name="confirm" value="yes" />
      <div class="actions">
        <button type="submit" class="danger">${ask.button}</button>
        <a class="button" href="${back}">返回修改</a>
      </div>
    </form>`;
}

/** Whether a posted form carries the confirmation of its second step. */
export const confirmed = (form: Form): boolean => form.confirm === 'yes';

/**
 * Runs a form's action through the API and answers with a redirect (post/redirect/get): to `next`
 * with a message on success; back to the form with the refusal (its code and words) otherwise,
 * the form's fields kept for the page to fill in again (`takeDraft`). A console refusal (PdsError:
 * a choice missing, a confirmation not given) is answered the same way.
 */
export async function act(
  reply: FastifyReply,
  session: Session,
  action: () => Promise<{ next: string; text: string } | { confirm: Confirmation }>,
  back: string,
  form?: Form,
) {
  try {
    const done = await action();
    if ('confirm' in done) {
      // kept for "返回修改" as for a refusal
      if (form) session.draft = { path: back.split('?')[0]!, form: withoutCsrf(form) };
      return send(reply, session, '请确认', confirmView(session, reply.request.url, form ?? {}, done.confirm, back));
    }
    session.flash = { kind: 'ok', text: done.text };
    return reply.redirect(done.next, 303);
  } catch (err) {
    if (!(err instanceof ApiError) && !(err instanceof PdsError && err.status < 500)) throw err;
    session.flash = refusalFlash(err);
    if (form) session.draft = { path: back.split('?')[0]!, form: withoutCsrf(form) };
    return reply.redirect(back, 303);
  }
}

const withoutCsrf = (form: Form): Form =>
  Object.fromEntries(Object.entries(form).filter(([k]) => k !== '_csrf' && k !== 'confirm'));

/**
 * A form's POST route: the action through the API, then post/redirect/get — to where the action
 * says (or `back`) with its message, or back to the form with the refusal and the fields kept.
 * `confirm` (which may refuse a missing choice by throwing) names a destructive choice: the form is
 * then answered with a confirmation step until it comes back with `confirm=yes`.
 */
export function formAction(
  scope: FastifyInstance,
  c: Console,
  url: string,
  back: (params: Record<string, string>) => string,
  action: (s: Signed, form: Form, params: Record<string, string>) => Promise<{ next?: string; text: string }>,
  opts: { confirm?: (form: Form, params: Record<string, string>) => Confirmation | undefined } = {},
): void {
  scope.post<{ Params: Record<string, string>; Body: Form }>(url, async (req, reply) => {
    const s = signedIn(c, req, reply);
    if (!s) return;
    const to = back(req.params);
    return act(
      reply,
      s.session,
      async () => {
        const form = req.body ?? {};
        const ask = opts.confirm?.(form, req.params);
        if (ask && !confirmed(form)) return { confirm: ask };
        const done = await action(s, form, req.params);
        return { next: done.next ?? to, text: done.text };
      },
      to,
      req.body ?? {},
    );
  });
}

export { must };
