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

/** Why a job was refused, by kind (src/policies/refusals.ts `categorize`). */
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

/** Kinds of entry in the public register (seed 003 第三十五条; policies/register.yaml). */
export const REGISTER_KIND: Record<string, string> = {
  restriction: '限制访问',
  suspension: '暂停授权',
  resumption: '恢复授权',
  revocation: '撤销授权',
  'dataset-withdrawal': '数据集撤回',
  violation: '违规行为',
};

/** The closed list of reasons a register entry may give (the internal reason is never published). */
export const REGISTER_REASON: Record<string, string> = {
  'breach-of-agreement': '违反授权运营协议',
  'unauthorised-use': '超出授权范围使用数据',
  're-identification': '试图识别特定个人',
  'data-leak': '数据泄露或扩散',
  'security-incident': '数据安全事件',
  objection: '数据权利异议',
  'under-investigation': '调查核实中',
  effectiveness: '成效评估不达标',
  'measures-lifted': '核查完毕，恢复授权',
};

/** What a destruction record destroyed, why, and what the deletion step found (docs/architecture.md §19). */
export const DESTRUCTION_KIND: Record<string, string> = { snapshot: '快照', output: '输出数据' };
export const DESTRUCTION_WHY: Record<string, string> = {
  'term-ended': '合约到期',
  revoked: '合约撤销',
  retention: '留存期满',
  request: '审核决定',
};
export const FILE_REMOVAL: Record<string, string> = {
  unlinked: '已解除链接（未覆写）',
  'gone-before': '删除时已不存在',
};

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
  const [sub, arg, top] = rest;
  const name = MASKING[kind] ?? kind;
  if (kind === 'generalize') {
    if (sub === undefined) return name;
    if (sub === 'year' || sub === 'quarter' || sub === 'month')
      return `${name}：按${{ year: '年', quarter: '季度', month: '月' }[sub]}`;
    if (sub === 'district') return `${name}：到区县`;
    if (sub === 'age-band')
      return arg ? `${name}：${arg} 岁年龄段${top ? `，${top} 岁及以上合并` : ''}` : `${name}：年龄段`;
    if (sub === 'range') return arg ? `${name}：宽 ${arg} 的区间` : `${name}：数值区间`;
    return `${name}：${rest.join(':')}`;
  }
  if (kind === 'topcode' || kind === 'bottomcode') return sub ? `${name}于 ${sub}` : name;
  if (kind === 'noise') return sub ? `${name}（±${Number(sub) * 100}% 以内）` : name;
  if (kind === 'rare-to-other') return sub ? `少于 ${sub} 个主体的类别归为其他` : name;
  return name;
}

/**
 * The report's rating rules (src/reports/rating.ts, service.ts): each rule's name, what fires it
 * and what to do, in words. `action` is the recommendation the reports sign (rating.ts takes it
 * from here); the signed `when` adds the policy's thresholds to this one's words.
 */
export const RATING_RULE: Record<string, { name: string; when: string; action: string }> = {
  'audit-integrity': {
    name: '审计链完整性',
    when: '审计哈希链或签名检查点校验不通过',
    action: '按控制库已被篡改处理：保全控制库，与最近一次审计导出和签名检查点比对，查明前不依赖任何数字。',
  },
  'escape-attempts': {
    name: '逃逸尝试',
    when: '被拒绝的逃逸尝试（读取文件、其他表、设置或多条语句）达到阈值',
    action: '与运营单位及其人员核查被拒绝的查询；属故意的，按应急预案暂停合约，并考虑限制或终止访问。',
  },
  'singling-out-attempts': {
    name: '单独识别尝试',
    when: '被拒绝的读取个体值或标识符的尝试达到阈值',
    action: '提醒运营单位输出只能是统计结果；在被拒绝与已发布的查询中查找针对某人或某小群体的试探。',
  },
  differencing: {
    name: '差分比对',
    when: '有输出因差分比对检查转人工审核',
    action: '审核人先将待审输出与其配对的早先输出比对再决定；拒绝能分离出小群体的组合。',
  },
  'tracker-pattern': {
    name: '追踪者模式',
    when: '运营单位的多份输出合起来可平均掉扰动',
    action: '与运营单位核查构成该模式的输出（待审输出队列列出了配对）；属故意的，按应急预案暂停合约并降低每日配额。',
  },
  'refusal-share': {
    name: '拒绝比例',
    when: '被拒绝作业的比例达到阈值',
    action: '向运营单位说明允许的查询结构（模拟数据、SQL 白名单）；比例上升而无解释的，应约谈。',
  },
  'report-unacknowledged': {
    name: '报告未确认',
    when: '此前评级为中或高的报告未经运营单位确认',
    action:
      '要求运营单位确认报告并说明所做的整改（控制台的“确认并说明整改”，或 POST /v1/reports/{id}/acknowledgement）；结论长期无回应的，暂停合约。',
  },
  'decision-override': {
    name: '越过政策提示批准',
    when: '风险预览不符合政策，合约经越过政策提示的理由批准',
    action: '复核该合约快照的脱敏（更粗的泛化、更少的准标识符），以及越过理由是否仍成立；不成立则收紧条款或撤销。',
  },
  'worker-forgery': {
    name: '工作节点伪造结果',
    when: '抽查发现远程工作节点的结果与平台自行重算的不同',
    action:
      '视该工作节点所在主机已被攻破：重装后再注册；拒绝被扣留的输出或重新运行其作业；告知运营单位已下载的副本作废。',
  },
  'os-sandbox-off': {
    name: '未启用操作系统沙箱',
    when: '有作业在没有操作系统沙箱的情况下运行',
    action:
      '在启动运行器的主机（API 与每个工作节点）上安装 bubblewrap，并去掉 SANDBOX_OS=off 后重启：在此之前，越过引擎的查询不会遇到任何文件、网络或进程边界。',
  },
  'privacy-budget': {
    name: '隐私预算',
    when: '已用 ε 达到合约预算的阈值比例',
    action: '与运营单位规划剩余查询；预算用尽后，在签订新合约前不能再运行差分隐私查询。',
  },
  'snapshot-risk': {
    name: '快照重识别风险',
    when: '快照中小于 k 的等价类所含记录比例超过阈值',
    action: '下次生成快照时加粗准标识符的脱敏（更宽的年龄段、更短的邮编），减少小等价类中的记录。',
  },
  'contract-interrupted': {
    name: '合约中断',
    when: '本期内合约被暂停或撤销，或其使用的数据集被撤回',
    action: '确认原因已解决后再恢复；对数据集的异议由提供单位答复后数据方可恢复。',
  },
  effectiveness: {
    name: '成效评估',
    when: '年度成效评估未通过',
    action: '与运营单位商定改进计划；连续两年未通过的，取消授权。',
  },
  'contract-rating': {
    name: '合约评级',
    when: '运营单位的某份合约评级为中或高',
    action: '按该合约报告的结论处理。',
  },
  'operator-rating': {
    name: '运营单位评级',
    when: '某运营单位评级为中或高',
    action: '阅读该运营单位及其合约的报告，按其结论处理。',
  },
};

/** The report's trend metrics (src/reports/rating.ts `trend`). */
export const TREND_METRIC: Record<string, string> = {
  'jobs submitted': '提交的作业',
  'jobs refused': '被拒绝的作业',
  'escape attempts': '逃逸尝试',
  'singling-out attempts': '单独识别尝试',
  'outputs released': '发布的输出',
  'outputs held': '待审的输出',
  'cells suppressed': '隐藏的单元格',
};
