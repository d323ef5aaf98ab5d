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
import { errorText } from '../terms/index.ts';
import { assertCsrf, send, type Console, type Pages } from './context.ts';
import { html, type Html } from './html.ts';
import { applicationPages } from './pages/applications.ts';
import { auditPages } from './pages/audit.ts';
import { catalogPages } from './pages/catalog.ts';
import { contractPages } from './pages/contracts.ts';
import { feedbackPages } from './pages/feedback.ts';
import { homePages } from './pages/home.ts';
import { jobPages } from './pages/jobs.ts';
import { outputReviewPages } from './pages/output-review.ts';
import { outputPages } from './pages/outputs.ts';
import { reportPages } from './pages/reports.ts';
import { reviewPages } from './pages/reviews.ts';
import { sqlPages } from './pages/sql.ts';
import { registerPages } from './pages/register.ts';
import { templatePages } from './pages/templates.ts';
import { cookieName, Sessions } from './session.ts';
import { signInRoutes } from './sign-in.ts';

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

/** Every group of console pages, each registering its own routes (src/console/pages, one file a resource). */
const PAGES: Pages[] = [
  homePages,
  catalogPages,
  applicationPages,
  contractPages,
  sqlPages,
  jobPages,
  outputPages,
  outputReviewPages,
  reviewPages,
  feedbackPages,
  reportPages,
  auditPages,
  templatePages,
  registerPages,
];

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
  guard(scope, c, origin);
  await errorPages(scope, c);
  assetRoutes(scope);
  signInRoutes(scope, c, platform, origin);
  for (const pages of PAGES) pages(scope, c);
}

/**
 * What every console request passes: pages kept out of the OpenAPI document, the security headers,
 * the session read from its cookie, and for every state change the same origin and the CSRF token.
 */
function guard(scope: FastifyInstance, c: Console, origin: URL): void {
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
    const here = [origin.origin, `${c.cookie.secure ? 'https' : 'http'}://${req.headers.host ?? ''}`];
    if (site === 'cross-site' || site === 'same-site' || (from !== undefined && !here.includes(from)))
      throw new PdsError('ERR_CONSOLE_CSRF', 'this request came from another site and is refused');
    if (req.routeOptions.url === '/console/login') return;
    if (!req.consoleSession) throw new PdsError('ERR_AUTH_MISSING_TOKEN', 'your session has ended; sign in again');
    assertCsrf(req.consoleSession, req);
  });
}

/** A refusal or failure as a page (errorPage), and a path under /console that is no page. */
async function errorPages(scope: FastifyInstance, c: Console): Promise<void> {
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
}

/** The one script, the style sheet and the icon, read once at start. */
function assetRoutes(scope: FastifyInstance): void {
  const assets = new Map(
    fs.readdirSync(ASSETS_DIR).map((f) => [f, fs.readFileSync(path.join(ASSETS_DIR, f))] as const),
  );
  scope.get<{ Params: { name: string } }>('/console/assets/:name', async (req, reply) => {
    const body = assets.get(req.params.name);
    if (!body) return reply.code(404).type('text/plain').send('not found');
    return reply
      .type(ASSET_TYPES[path.extname(req.params.name)] ?? 'application/octet-stream')
      .header('cache-control', 'no-cache')
      .send(body);
  });
}

/**
 * An error page's title and body: the code's sentence in Chinese, the English detail as a
 * secondary line (issue 33), the code, and the way back.
 */
function errorPage(err: Error, pds: PdsError | ApiError | undefined, status: number): [string, Html] {
  const text = pds
    ? errorText(pds)
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
