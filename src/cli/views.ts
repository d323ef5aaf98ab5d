/**
 * What `pds catalog`, `pds apply`, `pds validate` and `pds preview` show a person: the catalog, an
 * application's risk preview, a validation, a dp query's price — as tables in Chinese. `--json` prints the API's answer instead.
 */
import type { Answer } from '../client/index.ts';
import { CLASSIFICATION, IDENTIFIER_ROLE, policyWarningText, problemText, term, UPDATE_CYCLE } from '../terms/index.ts';
import { facts, modeText, statusText, table } from './table.ts';

type Catalog = Answer<'getCatalog'>;
type Application = Answer<'createApplication'>;
type Risk = NonNullable<NonNullable<Application['risk']>[string]>;
type Validation = Answer<'validateJob'>;
type Preview = Answer<'previewJob'>;
type Reason = Validation['reasons'][number];

/** Columns the dp rewrite adds for the engine (counts, sums, squares): never part of the answer. */
const isInternal = (name: string) => name.startsWith('__dp_');

const percent = (x: number) => `${(x * 100).toFixed(x > 0 && x < 0.001 ? 3 : 1)} %`;

/** A size bucket's bounds: `1`, `3-4`, `100+`. */
function sizeBounds(size: string): [number, number] {
  if (size.endsWith('+')) return [Number(size.slice(0, -1)), Infinity];
  const [lo, hi = lo] = size.split('-').map(Number);
  return [lo!, hi!];
}

/**
 * The classes smaller than the policy's k, from the size buckets: exact when no bucket straddles
 * k, else a floor (≥).
 */
export function classesBelowK(r: Risk): string {
  let n = 0;
  let straddles = false;
  for (const b of r.classSizes) {
    const [lo, hi] = sizeBounds(b.size);
    if (hi < r.policyK) n += b.classes;
    else if (lo < r.policyK) straddles = true;
  }
  return straddles ? `≥ ${n}` : String(n);
}

/**
 * `pds catalog`: a dataset a block, a column a row. Masking rules stay codes (`generalize:age-band:10`):
 * they are what an application file names.
 */
export function catalogLines(catalog: Catalog): string[] {
  return catalog.datasets.flatMap((d) => [
    `${d.name}  ${d.title}（${d.providerName || d.provider}，${term(UPDATE_CYCLE, d.updateCycle)}更新）`,
    ...table(
      ['列', '名称', '类型', '分级', '标识符类型', '可选脱敏规则（默认在前）'],
      d.columns.map((c) => [
        c.name,
        c.title,
        c.type,
        term(CLASSIFICATION, c.classification),
        term(IDENTIFIER_ROLE, c.role),
        c.negativeList
          ? '负面清单：不可申请'
          : c.masking
            ? [c.masking.default, ...c.masking.allowed.filter((r) => r !== c.masking!.default)].join(' | ')
            : '—',
      ]),
    ).map((line) => `  ${line}`),
    '',
  ]);
}

/** The risk preview of an application, a row a dataset, then its warnings and notices. */
export function riskLines(app: Application): string[] {
  const risk = Object.entries(app.risk ?? {});
  const rows = risk.map(([dataset, r]) =>
    r
      ? [
          dataset,
          r.quasiIdentifiers.join('、'),
          r.records,
          r.classes,
          `${r.k}${r.k < r.policyK ? ` < ${r.policyK}` : ` ≥ ${r.policyK}`}`,
          percent(r.prosecutorRisk),
          percent(r.averageRisk),
          classesBelowK(r),
          `${r.recordsBelowK}（${percent(r.shareBelowK)}）`,
        ]
      : [dataset, '尚无数据，无法评估'],
  );
  return [
    '风险预览（k 匿名）：',
    ...table(
      ['数据集', '准标识符', '记录数', '等价类', 'k', '检察官风险', '平均风险', '低于 k 的等价类', '低于 k 的记录'],
      rows,
      '（无风险预览）',
    ),
    ...(app.warnings.length
      ? ['', '警告（批准时须说明理由）：', ...app.warnings.map((w) => `  - ${policyWarningText(w)}`)]
      : ['', '无警告']),
    ...(app.notices.length ? ['', '提示：', ...app.notices.map((n) => `  - ${n}`)] : []),
  ];
}

/** `pds apply`: the application, its grants and its risk preview. */
export function applicationLines(app: Application): string[] {
  return [
    ...facts([
      ['申请', app.id],
      ['状态', statusText(app.status)],
      ['模式', modeText(app.mode)],
      ['场景', app.scenario.name],
    ]),
    '',
    '申请的列（列:脱敏规则）：',
    ...app.grants.map(
      (g) => `  ${g.dataset}（${g.providerName}）：${g.columns.map((c) => `${c.column}:${c.rule}`).join(' ')}`,
    ),
    '',
    ...riskLines(app),
  ];
}

/** Each reason in Chinese (an SQL refusal from its facts), then its code, layer, rule and the English. */
export function reasonLines(reasons: Pick<Reason, 'code' | 'message' | 'layer' | 'rule'>[]): string[] {
  return reasons.flatMap((r) => [
    `  ${problemText(r.code, r.message, r).primary}`,
    `    ${r.code}${r.layer ? `（${r.layer}${r.rule ? `：${r.rule}` : ''}）` : ''}：${r.message}`,
  ]);
}

/** A dp query's price: ε, what is left, the threshold, each measure's noise and 95 % error. */
export function dpLines(dp: NonNullable<Preview['dp']>): string[] {
  const error = (m: (typeof dp.measures)[number]) =>
    typeof m.error95 === 'number' ? `±${m.error95}` : m.error95.map((e) => `±${e.error95}（${e.units} 人）`).join('，');
  return [
    ...facts([
      ['本次消耗 ε', `${dp.epsilon}（δ ${dp.delta}）`],
      ['之后剩余 ε', dp.affordable ? dp.remainingAfter : `不足：剩余预算小于本次消耗`],
      ['分组显示阈值', dp.threshold > 0 ? `带噪计数达到 ${dp.threshold} 的分组才显示` : '不设阈值：所有分组都显示'],
    ]),
    '',
    ...table(
      ['统计量', '类型', '列', '噪声尺度', '95 % 误差'],
      dp.measures.map((m) => [m.name, m.kind, m.column, m.noiseScale, error(m)]),
      '（无统计量）',
    ),
  ];
}

/** `pds validate`: valid or the reasons; the columns a person will get, and for dp its price. */
export function validationLines(v: Validation, preview?: Preview): string[] {
  if (!v.valid) return ['不通过：', ...reasonLines(v.reasons)];
  // a dp query's statistics come back as the engine's __dp_ sums; a person reads them by their names
  const columns = [
    ...(v.columns ?? []).filter((c) => !isInternal(c.name)).map((c) => `${c.name} ${c.type}`),
    ...(preview?.dp?.measures ?? []).map((m) => `${m.name}（${m.kind}，加噪）`),
  ];
  return [
    `通过（${modeText(v.mode)}）：读取 ${v.tables?.join('、') || '—'}`,
    `输出列：${columns.join('，') || '—'}`,
    ...(preview?.dp ? ['', ...dpLines(preview.dp)] : []),
  ];
}

/** `pds preview`. */
export function previewLines(p: Preview): string[] {
  if (!p.validation.valid) return ['不通过：', ...reasonLines(p.validation.reasons)];
  if (!p.dp) return ['通过；此合约不是差分隐私模式，不消耗 ε'];
  return dpLines(p.dp);
}
