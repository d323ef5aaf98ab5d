/**
 * An SQL refusal in Chinese (issue 33): the sandbox refuses with an English `detail` for API
 * clients and machine facts (`extra.facts`, src/errors/refusals.ts); people read the explanation
 * rendered here from the facts, in the console and the CLI alike. Never from the English text.
 */
import type { RefusalFacts, SqlReason, SqlRule } from '../errors/index.ts';

/** 规则: the named SQL rules a refusal cites (README, "Sandbox rules"). */
export const SQL_RULE: Record<SqlRule, string> = {
  'one-select': '单条只读查询',
  'table-in-snapshot': '只读快照中的表',
  'unqualified-names': '名称不带库名或模式名',
  'no-table-functions': '不用表函数',
  'function-allowlist': '函数允许清单',
  'expression-kind': '允许的表达式种类',
  'reserved-names': '保留名称',
  'aggregate-outer': '外层查询做聚合',
  'identifier-only-counted': '标识符只计数',
  'individual-values': '不返回个体值',
  'no-scalar-subquery-projection': '输出中不用标量子查询',
  'units-traceable': '可追溯到主体',
  'sql-size': 'SQL 长度上限',
  'dp-shape': '差分隐私查询结构',
  'closed-statistics': '限定的统计量',
  'contributors-by-filter': '以筛选决定贡献者',
  'dp-only': '仅限差分隐私',
  'bounded-cost': '代价与数据无关',
};

type Facts = Omit<RefusalFacts, 'reason'>;

const fn = (f: Facts) => (f.function ? `函数 ${f.function}` : '该函数');
const col = (f: Facts) => (f.columnName ? `字段 ${f.columnName}` : '该字段');
const tbl = (f: Facts) => (f.table ? `表 ${f.table}` : '该表');
const at = (f: Facts) => (f.clause ? `（${f.clause}）` : '');
const listed = (names: string[] | undefined) => (names && names.length ? names.join('、') : '本合约中没有');
const AGG = '聚合统计模式';
const DP = '差分隐私模式';

/** One Chinese explanation per refusal of the sandbox; each names what the query named. */
const REASON_ZH: Record<SqlReason, (f: Facts) => string> = {
  empty: () => '查询为空，请填写一条 SELECT 语句。',
  syntax: () => 'SQL 有语法错误，请检查所指位置附近的写法。',
  'too-long': (f) => `查询超过了 ${f.limit ?? '允许的'} 字节的长度上限。`,
  'statement-count': (f) => `只允许一条语句，此查询有 ${f.limit ?? '多'} 条。`,
  'not-select': () => '只允许一条只读的 SELECT 语句，不能修改数据或设置。',
  parameters: () => '不允许预编译参数（$1、?），请把取值直接写进查询。',
  binding: (f) =>
    f.columnName
      ? `快照中没有字段 ${f.columnName}，请核对字段名。`
      : f.table
        ? `快照中没有表 ${f.table}，请核对表名。`
        : f.function
          ? `没有名为 ${f.function} 的函数，请核对函数名。`
          : 'SQL 与快照的表或字段对不上，请核对表名、字段名和类型。',
  'mode-unknown': (f) => `“${f.clause ?? ''}”不是查询模式，应为聚合统计、差分隐私或定制。`,
  'reserved-name': (f) => `名称 ${f.columnName ?? ''} 使用了系统保留的前缀，请换一个名称。`,
  'query-kind': (f) => `不允许这种查询结构${at(f)}。`,
  'table-qualified': (f) => `${tbl(f)} 带了库名或模式名，请直接写快照中的表名。`,
  'table-not-in-snapshot': (f) => `${tbl(f)} 不在本合约的快照中，只能读取合约授予的表。`,
  'time-travel': () => '不允许 AT（时间回溯）子句。',
  'table-function': (f) => `不允许表函数 ${f.function ?? ''}，请按表名读取快照中的表。`,
  'from-kind': (f) => `FROM 中不允许这种成分${at(f)}：PIVOT、SHOW、DESCRIBE、SUMMARIZE 不是分析。`,
  'expression-kind': (f) => `不允许这类表达式${at(f)}。`,
  'function-qualified': (f) => `${fn(f)} 带了库名或模式名，请直接写函数名。`,
  'export-state': (f) => `不允许对 ${fn(f)} 使用 EXPORT_STATE。`,
  'function-not-allowed': (f) => `${fn(f)} 不在函数允许清单上（policies/sql-allowlist.yaml）。`,
  'operator-not-allowed': (f) => `运算符 ${f.function ?? ''} 不在允许清单上（policies/sql-allowlist.yaml）。`,
  'dp-only-table': (f) => `${tbl(f)} 含有关于个人的敏感信息，只能在差分隐私模式下、在 ε 预算内分析。`,
  'dp-only-column': (f) => `${col(f)} 只能在差分隐私模式下、在合约的 ε 预算内分析。`,
  'dp-only-columns-star': () => 'COLUMNS(…) 可能读到仅限差分隐私的字段，请逐一写出字段名。',
  'alias-list': (f) =>
    `${AGG}不允许给快照表 ${f.table ?? ''} 加字段别名列表（可能改名标识符），请在 SELECT 列表中改名。`,
  'identifier-outer': (f) =>
    `标识符${col(f)} 在外层查询中只能计数（count(DISTINCT ${f.columnName ?? '…'})）；按它分组或输出它会逐人发布。`,
  'identifier-inner': (f) => `标识符${col(f)} 只能计数、在筛选条件中比较，或以原名传递。`,
  'identifier-renamed': (f) => `标识符${col(f)} 不能改名。`,
  'scalar-subquery': () => `${AGG}的输出列和 GROUP BY 中不允许标量子查询：其值不按主体计数，请改用连接。`,
  'star-outer': () => `${AGG}的外层查询不能用 * 或 COLUMNS(…)（会读到标识符字段），请逐一写出字段名。`,
  'star-alias': () => `${AGG}中 * 和 COLUMNS(…) 不能加别名。`,
  'individual-values': (f) =>
    `${fn(f)} 返回个体值；${AGG}只发布统计量（可在按 ${f.columnName ?? '主体'} 分组的子查询中使用，或改用需人工审核的定制模式）。`,
  'outer-set-operation': (f) => `${AGG}的外层只允许聚合结果的 UNION ALL，不允许 ${f.clause ?? '该集合运算'}。`,
  'outer-union-by-name': () => `${AGG}的外层只允许 UNION ALL BY NAME，不允许 UNION BY NAME。`,
  'outer-not-aggregate': () => `${AGG}要求外层查询做聚合：使用 GROUP BY，或 count(*)、avg(x) 等聚合函数。`,
  'subquery-set-operation': (f) => `FROM 子查询中的 ${f.clause ?? '集合运算'} 无法追溯到主体，${AGG}下请用 UNION ALL。`,
  'recursive-cte': () => `读取快照表的递归 CTE（WITH RECURSIVE）无法追溯到主体，${AGG}不允许。`,
  'subquery-aggregate': (f) =>
    `FROM 子查询只能按主体聚合（GROUP BY ${f.columnName ?? '主体'}），其他聚合请写在外层查询。`,
  'subquery-distinct': () => `FROM 子查询中的 SELECT DISTINCT 无法追溯到主体，请在外层查询用 count(DISTINCT …)。`,
  'subquery-window': (f) =>
    `${AGG}下 FROM 子查询中的窗口函数必须 PARTITION BY ${f.columnName ?? '主体'}（否则会把一个主体的值复制到其他行）。`,
  'join-not-equal': () =>
    `${AGG}只允许按相等字段连接表（JOIN … ON a.x = b.x 或 USING）：交叉、自然或条件连接可能因一个人的行而成倍增加计算量。`,
  'pad-length': (f) =>
    `${fn(f)} 只能填充到不超过 ${f.limit ?? ''} 的固定长度：由数据决定的长度可能因一个人的行而使作业失败。`,
  'join-using-type': (f) =>
    `JOIN … USING (${f.columnName ?? ''}) 要求两边的 ${col(f)} 直接取自快照表且类型一致，请改写为 ON a.${f.columnName ?? 'x'} = b.${f.columnName ?? 'x'}。`,
  'over-statistic': (f) =>
    `对统计量使用${f.clause === 'CAST' ? '类型转换（CAST）' : ` ${fn(f)}`} 可能因一个人的行而出错；请用算术、round、abs、greatest、least、coalesce、CASE 和比较组合统计量（转换用 TRY_CAST）。`,
  'window-over-aggregate': () =>
    `对聚合结果使用窗口函数会在单元格之间移动数值；${AGG}逐格发布（占比请用已发布的计数计算）。`,
  'having-filter': (f) =>
    `HAVING 只比较本行自己的统计量；其中的 ${f.function ?? ''}(…) FILTER (…) 会检验输出未计入的行。`,
  'one-argument': (f) => `${AGG}下 ${fn(f)} 只接受一个参数。`,
  'magnitude-distinct': (f) =>
    `${f.function ?? ''}(DISTINCT …) 按取值而非按人加权；请用 ${f.function ?? ''}(…) 或 count(DISTINCT …)。`,
  'variance-shape': (f) => `${AGG}下 ${fn(f)} 只接受一个参数，且不带 DISTINCT。`,
  'extreme-not-generalized': (f) =>
    `度量的 ${f.function ?? ''}(…) 是某个人的确切取值；${AGG}只允许对合约已泛化的字段使用（${listed(f.allowed)}），否则请用差分隐私或定制模式。`,
  'statistic-not-released': (f) =>
    `${AGG}发布 count、count(DISTINCT …)、sum、avg、方差、标准差和中间分位数（均加扰动）；${fn(f)} 请在差分隐私或定制模式中使用。`,
  'quantile-shape': (f) =>
    `${AGG}下 ${fn(f)} 接受一个字段${f.function === 'median' ? '' : '和一个常数分位点'}，且不带 DISTINCT。`,
  'quantile-not-noised': (f) =>
    `${f.function ?? ''}(${f.columnName ?? ''}) 会是某个人的确切取值：${AGG}只允许对按噪声规则逐人扰动过的度量求分位数（${listed(f.allowed)}）；泛化字段请用 min/max。`,
  'quantile-not-central': (f) =>
    `${f.function ?? ''}(…, p) 需要在 ${f.limit ?? '中间区间'} 之间的常数 p：中间区间以外的分位数是极端值。`,
  'condition-with-else': (f) =>
    `${f.function ?? ''}(…) 内带 ELSE 取值的条件会使每个人都成为贡献者；请写作 ${f.function ?? ''}(取值) FILTER (WHERE 条件)。`,
  'argument-hides-contributors': (f) =>
    `${f.function ?? ''}(…) 的参数只能是字段或字段的算术；条件、类型转换或函数会掩盖谁是贡献者，请用 ${f.function ?? ''}(…) FILTER (WHERE …) 或 WHERE 筛选行。`,
  'dp-null-test': () => `${DP}只对普通字段做 NULL 判断（IS NULL）。`,
  'dp-filter': () =>
    `${DP}的 WHERE 只允许普通字段与常数的比较、BETWEEN、IN 列表和 NULL 判断：其他表达式的代价可能取决于某个人的行。`,
  'dp-from': () =>
    `${DP}只读一张快照表，或以 JOIN … ON a.pds_unit = b.pds_unit 内连接的快照表（不用子查询、外连接、USING 或抽样）。`,
  'dp-unit-kinds': (f) => `${DP}只连接关于同一类主体的表：${f.table ?? '这些表'} 标识的是不同的对象。`,
  'dp-join-condition': () => `${DP}只按各表的个人标识连接（a.pds_unit = b.pds_unit）；其他字段请在 WHERE 中筛选。`,
  'dp-join-all': () => `${DP}要求每张表都按个人标识连接。`,
  'dp-union': () => `${DP}只接受一条 SELECT … GROUP BY（不用 UNION）。`,
  'dp-with': () => `${DP}不接受 WITH。`,
  'dp-modifiers': (f) => `${DP}不接受 HAVING、QUALIFY、ORDER BY 或 LIMIT${at(f)}：它们会作用于确切值。`,
  'dp-grouping-sets': () => `${DP}只接受普通的 GROUP BY（不用 ROLLUP、CUBE 或 GROUPING SETS）。`,
  'dp-group-column': (f) => `${DP}只按普通的、非标识的字段分组${f.columnName ? `（${col(f)} 不可以）` : ''}。`,
  'dp-select-item': (f) =>
    `${DP}只返回分组键，以及 count(*)、count(DISTINCT 个人标识)、对一个字段的 sum、avg、variance 或 stddev${f.function ? `（${fn(f)} 的写法不符合）` : ''}。`,
  'dp-count': () => `${DP}用 count(*) 计行数，用 count(DISTINCT <表>.pds_unit) 计人数。`,
  'dp-function': (f) => `${DP}支持 count、sum、avg、variance 和 stddev，不支持 ${fn(f)}。`,
  'dp-distinct': (f) => `${f.function ?? ''}(DISTINCT …) 不是差分隐私统计量，请去掉 DISTINCT。`,
  'dp-plain-column': (f) => `${DP}下 ${fn(f)} 只接受一个普通（非标识）字段。`,
  'dp-bounds': (f) =>
    `${f.function ?? ''}(${f.columnName ?? ''}) 需要贡献界限：提交作业时附上 "dp": {"bounds": {"${f.columnName ?? ''}": [下限, 上限]}}。`,
  'dp-no-statistic': () => `${DP}至少需要 count(*)、count(DISTINCT pds_unit)、sum、avg、variance、stddev 中的一个。`,
  'dp-keys': () => `${DP}要求每个 GROUP BY 键都作为单独的一列返回。`,
  'dp-duplicate-names': () => `${DP}要求输出列名互不相同，请加别名。`,
};

/** The facts of a refusal as the API or the store carries them, read without trusting their shape. */
function factsOf(extra: unknown): RefusalFacts | undefined {
  const facts = typeof extra === 'object' && extra !== null ? (extra as { facts?: unknown }).facts : undefined;
  if (typeof facts !== 'object' || facts === null) return undefined;
  const reason = (facts as { reason?: unknown }).reason;
  return typeof reason === 'string' && reason in REASON_ZH ? (facts as RefusalFacts) : undefined;
}

/**
 * The Chinese explanation of an SQL refusal, from its facts (a problem's or a job reason's
 * `facts`, its `rule`, the `line`/`column` where it points); undefined when it has no known facts.
 */
export function refusalZh(extra: unknown): string | undefined {
  const facts = factsOf(extra);
  if (!facts) return undefined;
  const { line, column, rule } = extra as { line?: unknown; column?: unknown; rule?: unknown };
  const where = typeof line === 'number' && typeof column === 'number' ? `第 ${line} 行第 ${column} 列：` : '';
  const named = typeof rule === 'string' && rule in SQL_RULE ? `规则：${SQL_RULE[rule as SqlRule]}。` : '';
  return `${where}${REASON_ZH[facts.reason](facts)}${named}`;
}
