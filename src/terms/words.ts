/**
 * The words people read for the machine values of this system, each fixed once in
 * docs/glossary.md (issue 33). The console and the report page take their words from here; the
 * API, the store and the signed documents keep the machine values.
 */

/** 模式: the three query modes (docs/architecture.md §12). */
export const MODE: Record<string, string> = { aggregate: '聚合统计', dp: '差分隐私', custom: '定制' };

/** The four roles of the console (docs/architecture.md §16). */
export const ROLE: Record<string, string> = {
  operator: '授权运营单位',
  provider: '数据提供单位',
  bureau: '数据主管部门',
  risk: '风险管理',
};

/** Statuses of applications, reviews, contracts, jobs and outputs (docs/architecture.md §6, §7). */
export const STATUS: Record<string, string> = {
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

/** A provider's review, the bureau's decision, a reviewer's vote on a held output. */
export const DECISION: Record<string, string> = { approve: '同意', reject: '拒绝', 'request-changes': '退回修改' };

/** Disclosure-control checks (policies/disclosure.yaml, docs/architecture.md §12). */
export const CHECK: Record<string, string> = {
  'min-units': '最小单位数',
  'max-rows': '最多行数',
  dominance: '优势占比',
  'secondary-suppression': '二次隐藏',
  'round-counts': '计数修约',
  differencing: '差分比对',
  'differential-privacy': '差分隐私',
  'earlier-answers': '与已发布结果比对',
  'identifier-scan': '标识符扫描',
  perturbation: '扰动',
  review: '人工审核',
  'units-column': '主体计数列',
};

/** What a failed check does (`onFail`). */
export const ON_FAIL: Record<string, string> = { hold: '转人工审核', refuse: '拒绝发布' };

/** Catalog: update cycles (policies/catalog.yaml `updateCycle`). */
export const UPDATE_CYCLE: Record<string, string> = {
  realtime: '实时',
  daily: '每日',
  weekly: '每周',
  monthly: '每月',
  quarterly: '每季度',
  yearly: '每年',
};

/** Catalog: classification levels after GB/T 43697 (policies/catalog.yaml `classification`). */
export const CLASSIFICATION: Record<string, string> = {
  core: '核心数据',
  important: '重要数据',
  'general-L1': '一般数据 1 级',
  'general-L2': '一般数据 2 级',
  'general-L3': '一般数据 3 级',
  'general-L4': '一般数据 4 级',
};

/** Catalog: identifier roles of columns (policies/masking.yaml `byRole`). */
export const IDENTIFIER_ROLE: Record<string, string> = {
  direct: '直接标识符',
  quasi: '准标识符',
  sensitive: '敏感属性',
  other: '其他',
};

/** Catalog: sharing / open / operation attributes. */
export const ATTRIBUTE: Record<string, string> = { unconditional: '无条件', conditional: '有条件', none: '不予' };

/** Masking rules by kind (policies/masking.yaml, "Rules"). */
export const MASKING: Record<string, string> = {
  keep: '保留',
  drop: '删除',
  pseudonymize: '假名化',
  generalize: '泛化',
  partial: '部分遮盖',
  topcode: '上限截断',
  bottomcode: '下限截断',
  noise: '乘性噪声',
  'rare-to-other': '稀有类别归为其他',
};

/** Risk ratings of reports (src/reports/rating.ts). */
export const RATING: Record<string, string> = { low: '低', medium: '中', high: '高', critical: '严重' };

/** What a report is about, and what made it. */
export const REPORT_KIND: Record<string, string> = { contract: '合约', operator: '运营单位', domain: '全域' };
export const REPORT_TRIGGER: Record<string, string> = { schedule: '定期', demand: '按需' };

/** Why a job was refused, by kind (src/reports/figures.ts `categorize`). */
export const REFUSAL_CATEGORY: Record<string, string> = {
  escape: '逃逸尝试',
  'singling-out': '单独识别',
  limit: '超出资源限制',
  error: '错误',
  other: '其他',
};

/** The sandbox's layers (docs/architecture.md §11). */
export const LAYER: Record<string, string> = {
  analysis: '分析',
  engine: '引擎',
  process: '进程',
  os: '操作系统',
  disclosure: '披露控制',
  worker: '工作节点',
  none: '—',
};

/** Feedback kinds (seed 002 第二十二条). */
export const FEEDBACK_KIND: Record<string, string> = { 'data-quality': '数据质量', usage: '使用情况与成效' };

/** The word for `value` in `dictionary`, or the value itself when none is fixed (a new code shows as it is). */
export function term(dictionary: Record<string, string>, value: string | null | undefined): string {
  if (value === null || value === undefined || value === '') return '—';
  return dictionary[value] ?? value;
}

/**
 * A masking rule in words with its parameter (`generalize:age-band:5` → 泛化：5 岁年龄段); the
 * grammar is policies/masking.yaml's.
 */
export function maskingRule(rule: string): string {
  const [kind = '', ...rest] = rule.split(':');
  const [sub, arg] = rest;
  const name = MASKING[kind] ?? kind;
  if (kind === 'generalize') {
    if (sub === undefined) return name;
    if (sub === 'year' || sub === 'quarter' || sub === 'month')
      return `${name}：按${{ year: '年', quarter: '季度', month: '月' }[sub]}`;
    if (sub === 'district') return `${name}：到区县`;
    if (sub === 'age-band') return arg ? `${name}：${arg} 岁年龄段` : `${name}：年龄段`;
    if (sub === 'range') return arg ? `${name}：宽 ${arg} 的区间` : `${name}：数值区间`;
    return `${name}：${rest.join(':')}`;
  }
  if (kind === 'topcode' || kind === 'bottomcode') return sub ? `${name}于 ${sub}` : name;
  if (kind === 'noise') return sub ? `${name}（±${Number(sub) * 100}% 以内）` : name;
  if (kind === 'rare-to-other') return sub ? `少于 ${sub} 个主体的类别归为其他` : name;
  return name;
}
