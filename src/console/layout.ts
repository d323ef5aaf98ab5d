import type { UserRole } from '../auth/index.ts';
import { errorText, ROLE, shanghaiDate, STATUS } from '../terms/index.ts';
import { cell, Html, html } from './html.ts';
import type { Session } from './session.ts';

/** The roles' names (docs/glossary.md, from src/terms). */
export const ROLE_LABEL = ROLE as Record<UserRole, string>;

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
          ${flash ? flashView(flash) : ''} ${body}
        </main>
        <footer class="foot">
          <p>原始数据不出域 · 数据可用不可见 · <a href="/console/register">公示名录</a></p>
        </footer>
      </body>
    </html>`.value;
}

/**
 * The one-time message. A refusal shows its Chinese sentence and code; the API's English detail
 * follows as a secondary line marked `lang="en"` (for support, and read by screen readers in English).
 */
function flashView(flash: NonNullable<Session['flash']>): Html {
  return html`<div class="flash ${flash.kind}" role="${flash.kind === 'error' ? 'alert' : 'status'}">
    <p>${flash.text}${flash.code ? html`（<code>${flash.code}</code>）` : ''}</p>
    ${flash.detail ? html`<p class="problem-detail" lang="en">${flash.detail}</p>` : ''}
  </div>`;
}

/** A refusal shown inside a page (a preview or validation answered with an error), as the flash shows one. */
export function problemView(primary: string, code: string, detail?: string): Html {
  return html`<div class="notice warn" role="alert">
    <p>${primary}（<code>${code}</code>）</p>
    ${detail ? html`<p class="problem-detail" lang="en">${detail}</p>` : ''}
  </div>`;
}

/** An API's refusal inside a page: its code's Chinese sentence, the code, the English detail beside. */
export function apiProblemView(err: { code: string; detail: string }): Html {
  const { primary, secondary } = errorText(err);
  return problemView(primary, err.code, secondary);
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
  return html`<span class="badge s-${status.replace(/[^a-z-]/g, '')}">${STATUS[status] ?? status}</span>`;
}

/** 已逾期 in words beside a date or status whose time has passed (never colour alone). */
export function overdueMark(overdue: boolean): Html | '' {
  return overdue ? html` <strong class="warn">已逾期</strong>` : '';
}

/** A date something is due by, marked when it has passed. */
export function dueDate(dueAt: string | null, overdue: boolean): Html {
  return html`${shanghaiDate(dueAt)}${overdueMark(overdue)}`;
}

/**
 * A table from headers and rows of cells (each already Html or text). With `cards`, a narrow screen
 * shows each row as a card of label → value (console.css `.cards`) instead of a table scrolled
 * sideways, where only the first column would be seen (issue 33: the held-output queue at 390 px).
 * With `codeHeaders`, the headers are column names of a result (machine identifiers).
 */
export function table(
  caption: string,
  headers: string[],
  rows: unknown[][],
  opts: { empty?: string; cards?: boolean; codeHeaders?: boolean } = {},
): Html {
  if (rows.length === 0) return html`<p class="empty">${opts.empty ?? '暂无记录'}</p>`;
  return html`<div class="table-wrap${opts.cards ? ' cards' : ''}" tabindex="0" role="region" aria-label="${caption}">
    <table>
      <caption>
        ${caption}
      </caption>
      <thead>
        <tr>
          ${headers.map((h) => html`<th scope="col">${opts.codeHeaders ? html`<code>${h}</code>` : h}</th>`)}
        </tr>
      </thead>
      <tbody>
        ${rows.map(
          (r) =>
            html`<tr>
              ${r.map((c, i) => html`<td data-label="${headers[i] ?? ''}">${c}</td>`)}
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

/** Rows of a query's result: its column names as the headers (machine identifiers), each value as a cell. */
export function resultTable(caption: string, columns: { name: string }[], rows: unknown[][]): Html {
  return table(
    caption,
    columns.map((c) => c.name),
    rows.map((r) => r.map(cell)),
    { codeHeaders: true },
  );
}
