/**
 * Sign-in and sign-out (docs/architecture.md §16): the sign-in page, a one-time link shown then
 * used by its form's POST (embedded mode), OpenID Connect with PKCE (an identity provider), and
 * the sign-out that ends the session.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { PdsError } from '../errors/index.ts';
import type { Platform } from '../platform/index.ts';
import { ROLE, term } from '../terms/index.ts';
import { send, type Console } from './context.ts';
import { html } from './html.ts';
import { page } from './layout.ts';
import { openLoginLink, recordSignIn } from './login-link.ts';
import { OidcSignIn } from './oidc.ts';
import type { Session } from './session.ts';

/** What the sign-in routes work with beside the console's own: the platform and the console's origin. */
interface SignIn {
  c: Console;
  platform: Platform;
  origin: URL;
  /** The identity provider's flow, when one is configured (AUTH_CLIENT_ID). */
  oidc: OidcSignIn | undefined;
}

export function signInRoutes(scope: FastifyInstance, c: Console, platform: Platform, origin: URL): void {
  const auth = platform.config.auth;
  const oidc =
    auth?.client !== undefined
      ? new OidcSignIn({ ...auth, client: auth.client }, `${origin.origin}/console/auth/callback`, platform.verifyToken)
      : undefined;
  const s: SignIn = { c, platform, origin, oidc };
  signInPage(scope, s);
  linkSignIn(scope, s);
  oidcSignIn(scope, s);
  signOut(scope, c);
}

function startSession(c: Console, reply: FastifyReply, session: Session) {
  return reply.setCookie(c.cookie.name, session.id, {
    httpOnly: true,
    sameSite: 'strict',
    secure: c.cookie.secure,
    path: '/',
  });
}

function signInPage(scope: FastifyInstance, { oidc }: SignIn): void {
  scope.get<{ Querystring: { next?: string } }>('/console/signin', async (req, reply) => {
    const next = safeNext(req.query.next);
    return send(
      reply,
      undefined,
      '登录',
      oidc
        ? html`<p>使用本单位的统一身份认证登录。</p>
            <p>
              <a class="button primary" href="/console/auth/start?next=${encodeURIComponent(next)}">统一身份认证登录</a>
            </p>`
        : html`<p>本系统未接入外部统一身份认证（嵌入模式）。请管理员在服务器上为您生成一次性登录链接：</p>
            <pre><code>pds login-link --role operator --org org-shuzhi --sub 张伟</code></pre>
            <p>链接十分钟内有效，只能使用一次。</p>`,
    );
  });
}

/** A sign-in link: shown, then used by the form's POST (a prefetch of the link spends nothing). */
function linkSignIn(scope: FastifyInstance, { c, platform, oidc }: SignIn): void {
  const linksOff = () => {
    if (oidc || platform.config.auth)
      throw new PdsError(
        'ERR_LOGIN_LINK_INVALID',
        'sign-in links are off: this console signs in with the identity provider',
      );
  };
  scope.get<{ Querystring: { link?: string } }>('/console/login', async (req, reply) => {
    linksOff();
    const link = await openLoginLink(platform.keys, req.query.link ?? '');
    const p = link.principal;
    return send(
      reply,
      undefined,
      '确认登录',
      html`<p>以下列身份登录控制台：</p>
        <dl class="facts">
          <dt>用户</dt>
          <dd>${p.sub}</dd>
          <dt>单位</dt>
          <dd>${p.org}</dd>
          <dt>角色</dt>
          <dd>${p.roles.map((r) => term(ROLE, r)).join('、')}</dd>
        </dl>
        <form method="post" action="/console/login">
          <input type="hidden" name="link" value="${req.query.link ?? ''}" />
          <button type="submit" class="primary">登录</button>
        </form>`,
    );
  });

  scope.post<{ Body: { link?: string } }>('/console/login', async (req, reply) => {
    linksOff();
    const link = await openLoginLink(platform.keys, String(req.body?.link ?? ''));
    await recordSignIn(platform.store, { jti: link.jti, via: 'link', principal: link.principal, requestId: req.id });
    const { issueToken } = await import('../auth/index.ts');
    const ttlSeconds = platform.config.console.absoluteHours * 3600;
    const bearer = await issueToken(platform.keys, {
      sub: link.principal.sub,
      org: link.principal.org,
      roles: link.principal.roles as never,
      ttlSeconds,
    });
    c.sessions.destroy(req.cookies[c.cookie.name]);
    const session = c.sessions.create(link.principal, bearer, 'link');
    startSession(c, reply, session);
    return reply.redirect('/console/', 303);
  });
}

/** OpenID Connect's authorization-code flow with PKCE: the start, and the identity provider's redirect back. */
function oidcSignIn(scope: FastifyInstance, { c, platform, origin, oidc }: SignIn): void {
  scope.get<{ Querystring: { next?: string } }>('/console/auth/start', async (req, reply) => {
    if (!oidc) throw new PdsError('ERR_NOT_FOUND', 'no identity provider is configured (AUTH_CLIENT_ID)');
    const { url, pendingId } = await oidc.start();
    // Lax: the IdP's redirect back is a cross-site navigation, on which a Strict cookie is not sent
    reply.setCookie('pds_oidc', `${pendingId}.${encodeURIComponent(safeNext(req.query.next))}`, {
      httpOnly: true,
      sameSite: 'lax',
      secure: c.cookie.secure,
      path: '/console/auth',
      maxAge: 600,
    });
    return reply.redirect(url.href, 303);
  });

  scope.get('/console/auth/callback', async (req, reply) => {
    if (!oidc) throw new PdsError('ERR_NOT_FOUND', 'no identity provider is configured (AUTH_CLIENT_ID)');
    const pending = req.cookies.pds_oidc ?? '';
    const dot = pending.indexOf('.');
    const [pendingId, next] = dot < 0 ? [pending, ''] : [pending.slice(0, dot), pending.slice(dot + 1)];
    reply.clearCookie('pds_oidc', { path: '/console/auth' });
    const signed = await oidc.finish(pendingId, new URL(req.url, origin));
    await recordSignIn(platform.store, {
      jti: signed.signInId,
      via: 'oidc',
      principal: signed.principal,
      requestId: req.id,
    });
    c.sessions.destroy(req.cookies[c.cookie.name]);
    const session = c.sessions.create(signed.principal, signed.accessToken, 'oidc', signed.expiresAt);
    startSession(c, reply, session);
    // a page, not a redirect: after a cross-site navigation a Strict cookie is sent only on a
    // request this origin starts itself
    const to = safeNext(decodeURIComponent(next ?? ''));
    return reply.type('text/html; charset=utf-8').send(
      page({
        title: '登录成功',
        refreshTo: to,
        body: html`<p><a href="${to}">进入控制台</a></p>`,
      }),
    );
  });
}

function signOut(scope: FastifyInstance, c: Console): void {
  scope.post('/console/logout', async (req, reply) => {
    c.sessions.destroy(req.cookies[c.cookie.name]);
    reply.clearCookie(c.cookie.name, { path: '/', httpOnly: true, sameSite: 'strict', secure: c.cookie.secure });
    return reply.redirect('/console/signin', 303);
  });
}

/** Only a path of this console is a place to go back to after sign-in (no open redirect). */
function safeNext(next: string | undefined): string {
  return next && /^\/console\/[^\\]*$/.test(next) && !next.startsWith('//') ? next : '/console/';
}
