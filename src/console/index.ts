/**
 * The web console (docs/architecture.md §16): server-rendered pages for the four roles at
 * /console, every read and action through the typed API client with the session's own token,
 * progressive enhancement from one local script, a strict CSP, sessions in HttpOnly SameSite=Strict
 * cookies with a CSRF token on every form, sign-in by OIDC (authorization code + PKCE) or, in the
 * embedded mode, by one-time links from `pds login-link`.
 */
import fs from 'node:fs';
import path from 'node:path';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../client/index.ts';
import { PACKAGE_ROOT } from '../config/index.ts';
import { PdsError } from '../errors/index.ts';
import type { Platform } from '../platform/index.ts';
import { problemText, ROLE, term } from '../terms/index.ts';
import { assertCsrf, send, type Console } from './context.ts';
import { html, type Html } from './html.ts';
import { page } from './layout.ts';
import { openLoginLink, recordSignIn } from './login-link.ts';
import { OidcSignIn } from './oidc.ts';
import { applicationPages } from './pages/applications.ts';
import { contractPages } from './pages/contracts.ts';
import { homePages } from './pages/home.ts';
import { jobPages } from './pages/jobs.ts';
import { outputPages } from './pages/outputs.ts';
import { oversightPages } from './pages/oversight.ts';
import { registerPages } from './pages/register.ts';
import { templatePages } from './pages/templates.ts';
import { cookieName, Sessions, type Session } from './session.ts';

export { issueLoginLink, LOGIN_LINK_TYP, LOGIN_LINK_TTL_SECONDS } from './login-link.ts';
export { Sessions } from './session.ts';

/** Nothing runs but our own script, nothing loads from elsewhere, no one frames us. */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

const ASSETS_DIR = path.join(PACKAGE_ROOT, 'src', 'console', 'assets');
const ASSET_TYPES: Record<string, string> = {
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** The console's origin: PUBLIC_URL, else the listen address. */
export function consoleOrigin(platform: Platform): URL {
  return platform.config.console.publicUrl ?? new URL(`http://${platform.config.host}:${platform.config.port}`);
}

export async function consoleRoutes(scope: FastifyInstance, { platform }: { platform: Platform }): Promise<void> {
  await scope.register(cookie);
  // forms arrive urlencoded, in this scope only: the API itself still takes JSON alone
  await scope.register(formbody);
  const origin = consoleOrigin(platform);
  const secure = origin.protocol === 'https:';
  const { idleMinutes, absoluteHours } = platform.config.console;
  const c: Console = {
    sessions: new Sessions({ idleMs: idleMinutes * 60_000, absoluteMs: absoluteHours * 3_600_000 }),
    cookie: { name: cookieName(secure), secure },
    server: scope,
  };
  const auth = platform.config.auth;
  const oidc =
    auth?.client !== undefined
      ? new OidcSignIn({ ...auth, client: auth.client }, `${origin.origin}/console/auth/callback`, platform.verifyToken)
      : undefined;
  const assets = new Map(
    fs.readdirSync(ASSETS_DIR).map((f) => [f, fs.readFileSync(path.join(ASSETS_DIR, f))] as const),
  );

  // pages, not API: kept out of the OpenAPI document
  scope.addHook('onRoute', (route) => {
    route.schema = { ...(route.schema ?? {}), hide: true };
  });
  scope.decorateRequest('consoleSession', undefined);
  scope.addHook('onRequest', async (req, reply) => {
    reply
      .header('content-security-policy', CONSOLE_CSP)
      .header('x-content-type-options', 'nosniff')
      .header('x-frame-options', 'DENY')
      // sign-in links carry their token in the URL: never sent on to another site ('no-referrer'
      // would make the browser send `Origin: null` on our own forms)
      .header('referrer-policy', 'same-origin')
      .header('cache-control', 'no-store');
    req.consoleSession = c.sessions.get(req.cookies[c.cookie.name]);
  });
  // every state change: from this origin (Fetch Metadata, Origin) and with the session's CSRF token
  scope.addHook('preHandler', async (req) => {
    if (req.method === 'GET' || req.method === 'HEAD') return;
    const site = req.headers['sec-fetch-site'];
    const from = req.headers.origin;
    const here = [origin.origin, `${secure ? 'https' : 'http'}://${req.headers.host ?? ''}`];
    if (site === 'cross-site' || site === 'same-site' || (from !== undefined && !here.includes(from)))
      throw new PdsError('ERR_CONSOLE_CSRF', 'this request came from another site and is refused');
    if (req.routeOptions.url === '/console/login') return;
    if (!req.consoleSession) throw new PdsError('ERR_AUTH_MISSING_TOKEN', 'your session has ended; sign in again');
    assertCsrf(req.consoleSession, req);
  });
  scope.setErrorHandler(async (err: Error, req: FastifyRequest, reply: FastifyReply) => {
    // a refusal of the API (ApiError) or of the console itself (PdsError), with its stable code
    const pds = err instanceof PdsError ? err : err instanceof ApiError ? err : undefined;
    const status = pds?.status ?? (err as { statusCode?: number }).statusCode ?? 500;
    if (status >= 500) req.log.error({ err }, 'console error');
    // the API no longer takes the session's token (expired, or its key rotated away): the session is over
    if (err instanceof ApiError && status === 401 && req.consoleSession) {
      c.sessions.destroy(req.cookies[c.cookie.name]);
      req.consoleSession = undefined;
    }
    const [title, body] = errorPage(err, pds, status);
    return send(reply, req.consoleSession, title, body, status);
  });
  // for paths under /console only (the API keeps its problem+json 404)
  await scope.register(
    async (under) =>
      under.setNotFoundHandler(async (req, reply) =>
        send(
          reply,
          req.consoleSession,
          '未找到',
          html`<p>没有这个页面。</p>
            <p><a href="/console/">返回首页</a></p>`,
          404,
        ),
      ),
    { prefix: '/console' },
  );

  scope.get<{ Params: { name: string } }>('/console/assets/:name', async (req, reply) => {
    const body = assets.get(req.params.name);
    if (!body) return reply.code(404).type('text/plain').send('not found');
    return reply
      .type(ASSET_TYPES[path.extname(req.params.name)] ?? 'application/octet-stream')
      .header('cache-control', 'no-cache')
      .send(body);
  });

  const startSession = (reply: FastifyReply, session: Session) =>
    reply.setCookie(c.cookie.name, session.id, {
      httpOnly: true,
      sameSite: 'strict',
      secure: c.cookie.secure,
      path: '/',
    });

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

  // a sign-in link: shown, then used by the form's POST (a prefetch of the link spends nothing)
  scope.get<{ Querystring: { link?: string } }>('/console/login', async (req, reply) => {
    if (oidc || auth)
      throw new PdsError(
        'ERR_LOGIN_LINK_INVALID',
        'sign-in links are off: this console signs in with the identity provider',
      );
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
    if (oidc || auth)
      throw new PdsError(
        'ERR_LOGIN_LINK_INVALID',
        'sign-in links are off: this console signs in with the identity provider',
      );
    const link = await openLoginLink(platform.keys, String(req.body?.link ?? ''));
    await recordSignIn(platform.store, { jti: link.jti, via: 'link', principal: link.principal, requestId: req.id });
    const { issueToken } = await import('../auth/index.ts');
    const ttlSeconds = absoluteHours * 3600;
    const bearer = await issueToken(platform.keys, {
      sub: link.principal.sub,
      org: link.principal.org,
      roles: link.principal.roles as never,
      ttlSeconds,
    });
    c.sessions.destroy(req.cookies[c.cookie.name]);
    const session = c.sessions.create(link.principal, bearer, 'link');
    startSession(reply, session);
    return reply.redirect('/console/', 303);
  });

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
    startSession(reply, session);
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

  scope.post('/console/logout', async (req, reply) => {
    c.sessions.destroy(req.cookies[c.cookie.name]);
    reply.clearCookie(c.cookie.name, { path: '/', httpOnly: true, sameSite: 'strict', secure: c.cookie.secure });
    return reply.redirect('/console/signin', 303);
  });

  homePages(scope, c);
  applicationPages(scope, c);
  contractPages(scope, c);
  jobPages(scope, c);
  outputPages(scope, c);
  oversightPages(scope, c);
  templatePages(scope, c);
  registerPages(scope, c);
}

/**
 * An error page's title and body: the code's sentence in Chinese, the English detail as a
 * secondary line (issue 33), the code, and the way back.
 */
function errorPage(err: Error, pds: PdsError | ApiError | undefined, status: number): [string, Html] {
  const text = pds
    ? problemText(pds.code, pds.detail)
    : status < 500
      ? { primary: '请求无法处理。', secondary: err.message }
      : { primary: '服务器内部错误，已记录。' };
  return [
    status === 401 ? '需要登录' : status === 403 ? '无权访问' : status === 404 ? '未找到' : '出错了',
    html`<p class="problem">${text.primary}</p>
      ${text.secondary ? html`<p class="problem-detail" lang="en">${text.secondary}</p>` : ''}
      ${pds ? html`<p>错误代码 <code>${pds.code}</code></p>` : ''}
      <p><a href="/console/">返回首页</a>${status === 401 ? html` · <a href="/console/signin">登录</a>` : ''}</p>`,
  ];
}

/** Only a path of this console is a place to go back to after sign-in (no open redirect). */
function safeNext(next: string | undefined): string {
  return next && /^\/console\/[^\\]*$/.test(next) && !next.startsWith('//') ? next : '/console/';
}
