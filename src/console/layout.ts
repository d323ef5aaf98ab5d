import type { UserRole } from '../auth/index.ts';
import { Html, html } from './html.ts';
import type { Session } from './session.ts';

export const ROLE_LABEL: Record<UserRole, string> = {
  operator: '授权运营单位',
  provider: '数据提供单位',
  bureau: '数据主管部门',
  risk: '风险管理',
};

/** Each role's sections, in the order of its daily work. */
const NAV: Record<UserRole, [string, string][]> = {
  operator: [
    ['/console/catalog', '数据目录'],
    ['/console/applications', '申请'],
    ['/console/contracts', '合约'],
    ['/console/jobs', '作业'],
    ['/console/templates', '查询模板'],
    ['/console/feedback', '反馈'],
    ['/console/reports', '风险报告'],
  ],
  provider: [
    ['/console/reviews', '审核队列'],
    ['/console/applications', '申请'],
    ['/console/feedback', '反馈'],
    ['/console/catalog', '数据集'],
  ],
  bureau: [
    ['/console/applications', '申请决定'],
    ['/console/contracts', '合约'],
    ['/console/outputs/held', '待审输出'],
    ['/console/jobs', '作业'],
    ['/console/reports', '风险报告'],
  ],
  risk: [
    ['/console/reports', '风险报告'],
    ['/console/audit', '审计日志'],
    ['/console/contracts', '合约'],
    ['/console/jobs', '作业'],
  ],
};

export function navFor(roles: readonly UserRole[]): [string, string][] {
  const seen = new Set<string>();
  return roles.flatMap((r) => NAV[r]).filter(([href]) => !seen.has(href) && seen.add(href) !== undefined);
}

export interface PageInput {
  title: string;
  /** Go on to this console path at once (a page after a cross-site redirect, see the OIDC callback). */
  refreshTo?: string;
  session?: Session;
  /** The current path, to mark its nav entry. */
  path?: string;
  body: Html;
  /** Shown once, above the body (the outcome of the last form). */
  flash?: Session['flash'];
}

/** The page around every console view: skip link, header, role navigation, sign-out, main. */
export function page({ title, session, path, body, flash, refreshTo }: PageInput): string {
  const nav = session ? navFor(session.principal.roles as UserRole[]) : [];
  return html`<!doctype html>
    <html lang="zh-CN">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${title} · 公共数据授权运营沙箱</title>
        ${refreshTo ? html`<meta http-equiv="refresh" content="0;url=${refreshTo}" />` : ''}
        <link rel="icon" href="/console/assets/favicon.svg" type="image/svg+xml" />
        <link rel="stylesheet" href="/console/assets/console.css" />
        <script type="module" src="/console/assets/console.js"></script>
      </head>
      <body>
        <a class="skip" href="#main">跳到主要内容</a>
        <header class="top">
          <a class="brand" href="/console/">公共数据授权运营沙箱</a>
          ${
            session
              ? html`<nav aria-label="主导航">
                    <ul>
                      ${nav.map(
                        ([href, label]) =>
                          html`<li>
                            <a href="${href}" ${path?.startsWith(href) ? html` aria-current="page"` : ''}>${label}</a>
                          </li>`,
                      )}
                    </ul>
                  </nav>
                  <div class="who">
                    <span
                      >${session.principal.sub} · ${session.principal.org} ·
                      ${session.principal.roles.map((r) => ROLE_LABEL[r as UserRole] ?? r).join('、')}</span
                    >
                    <form method="post" action="/console/logout">
                      <input type="hidden" name="_csrf" value="${session.csrf}" /><button type="submit" class="link">
                        退出
                      </button>
                    </form>
                  </div>`
              : ''
          }
        </header>
        <main id="main" tabindex="-1">
          <h1>${title}</h1>
          ${flash ? html`<p class="flash ${flash.kind}" role="${flash.kind === 'error' ? 'alert' : 'status'}">${flash.text}</p>` : ''}
          ${body}
        </main>
        <footer class="foot"><p>原始数据不出域 · 数据可用不可见</p></footer>
      </body>
    </html>`.value;
}

/** A hidden CSRF field for a form. */
export function csrfField(session: Session): Html {
  return html`<input type="hidden" name="_csrf" value="${session.csrf}" />`;
}

/** A definition list of label → value pairs. */
export function facts(pairs: [string, unknown][]): Html {
  return html`<dl class="facts">
    ${pairs.map(
      ([k, v]) =>
        html`<dt>${k}</dt>
          <dd>${v instanceof Html ? v : v === null || v === undefined ? '—' : String(v)}</dd>`,
    )}
  </dl>`;
}

/** A status as a badge with words, never colour alone. */
export function badge(status: string): Html {
  return html`<span class="badge s-${status.replace(/[^a-z-]/g, '')}">${STATUS_LABEL[status] ?? status}</span>`;
}

const STATUS_LABEL: Record<string, string> = {
  pending: '待审核',
  approved: '已批准',
  rejected: '已拒绝',
  building: '快照生成中',
  active: '生效中',
  suspended: '已暂停',
  revoked: '已撤销',
  expired: '已到期',
  queued: '排队中',
  running: '运行中',
  released: '已发布',
  held: '待人工审核',
  failed: '失败',
  cancelled: '已取消',
  'changes-requested': '需修改',
};

/** A table from headers and rows of cells (each already Html or text). */
export function table(caption: string, headers: string[], rows: unknown[][], opts: { empty?: string } = {}): Html {
  if (rows.length === 0) return html`<p class="empty">${opts.empty ?? '暂无记录'}</p>`;
  return html`<div class="table-wrap" tabindex="0" role="region" aria-label="${caption}">
    <table>
      <caption>
        ${caption}
      </caption>
      <thead>
        <tr>
          ${headers.map((h) => html`<th scope="col">${h}</th>`)}
        </tr>
      </thead>
      <tbody>
        ${rows.map(
          (r) =>
            html`<tr>
              ${r.map((c) => html`<td>${c}</td>`)}
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}
