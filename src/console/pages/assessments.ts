/** A contract's yearly assessment of its results (seed 002 第三十五条): the record, and the bureau's form. */
import type { FastifyInstance } from 'fastify';
import type { Answer } from '../../client/index.ts';
import { PdsError } from '../../errors/index.ts';
import { shanghaiDate } from '../../terms/index.ts';
import { formAction, must, type Console, type Signed } from '../context.ts';
import { choice, int, lines, one, type Form } from '../forms.ts';
import { html, type Html } from '../html.ts';
import { csrfField, table } from '../layout.ts';

export function assessmentsTable(assessments: Answer<'listAssessments'>): Html {
  return table(
    '成效评估',
    ['年度', '结论', '指标', '评估人', '记录'],
    assessments.map((a) => [
      a.year,
      a.passed ? '通过' : html`<strong class="warn">未通过</strong>`,
      a.indicators
        .map(
          (i) =>
            `${i.name}：${i.value ?? '未测量'}${i.target !== undefined && i.target !== null ? ` / ${i.target}` : ''}${i.met ? '' : '（未达标）'}`,
        )
        .join('；'),
      a.assessor,
      `${a.recordedBy}，${shanghaiDate(a.recordedAt)}`,
    ]),
    { empty: '暂无评估' },
  );
}

/** The bureau's record of a year's assessment; `mine` is a refused one sent back, filled in as it was. */
export function assessmentForm(s: Signed, contractId: string, mine: Form): Html {
  const passed = one(mine, 'passed');
  return html`<form method="post" action="/console/contracts/${contractId}/assessments" class="stack card">
    ${csrfField(s.session)}
    <h3>记录评估（seed 002 第三十五条）</h3>
    <label for="as-year">年度</label
    ><input id="as-year" name="year" type="number" min="2000" max="2200" required value="${new Date().getFullYear()}" />
    <label for="as-ind"
      >指标（每行一条：名称=实际值/目标值=是否达标，如 服务企业数=120/100=是；未测量的写“未测量”）</label
    >
    <textarea id="as-ind" name="indicators" rows="3" required>${one(mine, 'indicators')}</textarea>
    <input type="hidden" name="form" value="assessment" />
    <fieldset>
      <legend>结论</legend>
      <label class="inline"
        ><input type="radio" name="passed" value="true" required ${passed === 'true' ? html` checked` : ''} />
        通过</label
      >
      <label class="inline"
        ><input type="radio" name="passed" value="false" ${passed === 'false' ? html` checked` : ''} /> 未通过</label
      >
    </fieldset>
    <label for="as-who">评估人</label
    ><input id="as-who" name="assessor" required maxlength="200" value="${one(mine, 'assessor')}" />
    <label for="as-notes">说明</label><textarea id="as-notes" name="notes" rows="2">${one(mine, 'notes')}</textarea>
    <div class="actions"><button type="submit">记录评估</button></div>
  </form>`;
}

/**
 * The indicators, one a line: `name=value/target=met`. A value is a number, or 未测量 / n/a / empty
 * for one not measured; other text is named, not stored.
 */
function indicatorsOf(f: Form) {
  return lines(f, 'indicators').map((line) => {
    const [name, values = '', met = ''] = line.split('=').map((x) => x.trim());
    const [value = '', target] = values.split('/').map((x) => x.trim());
    const n = (x: string) => {
      if (x === '' || /^(未测量|不适用|n\/?a|-)$/i.test(x)) return null;
      if (Number.isFinite(Number(x))) return Number(x);
      throw new PdsError('ERR_VALIDATION', `指标“${name}”的值“${x}”应为数字，未测量请写“未测量”`);
    };
    return {
      name: name!,
      value: n(value),
      ...(target !== undefined ? { target: n(target) } : {}),
      met: /^(是|yes|true|y)$/i.test(met),
    };
  });
}

export function assessmentAction(scope: FastifyInstance, c: Console): void {
  const toContract = (p: Record<string, string>) => `/console/contracts/${p.id!}`;
  formAction(scope, c, '/console/contracts/:id/assessments', toContract, async (s, f, p) => {
    const indicators = indicatorsOf(f);
    const notes = one(f, 'notes');
    await must(
      s.api.POST('/v1/contracts/{id}/assessments', {
        params: { path: { id: p.id! } },
        body: {
          year: int(f, 'year') ?? 0,
          passed: choice(f, 'passed', ['true', 'false'] as const, '结论') === 'true',
          indicators,
          assessor: one(f, 'assessor'),
          ...(notes ? { notes } : {}),
        },
      }),
    );
    return { text: '评估已记录。' };
  });
}
