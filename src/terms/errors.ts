/**
 * Each error code of the catalogue (src/errors) in a Chinese sentence, for the people who meet it
 * in the console. The API's `detail` stays English (clients match on the code, never the words);
 * the console shows this sentence first and the detail only as a secondary line (issue 33).
 */
import type { ErrorCode } from '../errors/index.ts';
import { refusalZh } from './refusals.ts';

export const ERROR_ZH: Record<ErrorCode, string> = {
  ERR_CONFIG: '服务器配置有误，请联系管理员。',
  ERR_KEY_PERMISSIONS: '密钥文件的权限不安全，服务器拒绝使用。',
  ERR_KEY_DAMAGED: '密钥文件已损坏。',
  ERR_DOMAIN_DAMAGED: '数据域数据库无法读取。',
  ERR_POLICY_INVALID: '策略文件有误，请联系管理员。',
  ERR_STORE_MIGRATION: '控制库升级失败。',
  ERR_STORE_DAMAGED: '控制库校验未通过。',
  ERR_STORE_LOCKED: '控制库正被运行中的服务器占用：请改用 --api 经接口操作，或先停止服务器。',
  ERR_SANDBOX_OS_UNAVAILABLE: '本机无法运行操作系统沙箱。',
  ERR_DATA_DIR_NOT_ENCRYPTED: '数据目录不在加密的设备上，按设置拒绝启动。',
  ERR_VALIDATION: '提交的内容不符合要求，请按下方说明修改。',
  ERR_PAYLOAD_TOO_LARGE: '提交的内容过大。',
  ERR_URI_TOO_LONG: '地址中的编号过长。',
  ERR_UNSUPPORTED_MEDIA_TYPE: '提交的内容格式不受支持。',
  ERR_NOT_FOUND: '未找到，或您无权查看。',
  ERR_CONFLICT: '与当前状态冲突，请刷新后重试。',
  ERR_AUTH_MISSING_TOKEN: '您的登录已结束，请重新登录。',
  ERR_AUTH_INVALID_TOKEN: '登录凭证无效，请重新登录。',
  ERR_AUTH_TOKEN_EXPIRED: '登录凭证已过期，请重新登录。',
  ERR_AUTH_FORBIDDEN: '您的角色无权进行此操作。',
  ERR_LOGIN_LINK_INVALID: '登录链接无效或已过期，请重新生成。',
  ERR_LOGIN_LINK_USED: '此登录链接已使用过，每个链接只能使用一次。',
  ERR_CONSOLE_CSRF: '表单已过期或并非从本控制台提交，请刷新页面后重试。',
  ERR_CONSOLE_SIGN_IN: '通过统一身份认证登录失败。',
  ERR_INGEST_FILE: '导入文件缺失、为空或格式未知。',
  ERR_INGEST_ENCODING: '导入文件不是有效的 UTF-8 编码。',
  ERR_INGEST_COLUMNS: '导入文件的字段与数据目录不一致。',
  ERR_INGEST_TYPE: '导入文件的取值与数据目录的类型不符。',
  ERR_COLUMN_NOT_GRANTABLE: '所选字段不可授予（负面清单或不允许的脱敏规则）。',
  ERR_MODE_NOT_AVAILABLE: '此查询模式对所选数据集不可用。',
  ERR_REVIEW_NOT_PROVIDER: '只有数据集的提供单位可以审核。',
  ERR_REVIEW_REASON_REQUIRED: '拒绝时必须填写理由。',
  ERR_APPLICATION_NOT_PENDING: '该申请已有决定。',
  ERR_APPLICATION_REVIEWS_INCOMPLETE: '尚有数据集未获提供单位同意，不能批准。',
  ERR_CONTRACT_INVALID: '合约格式或条款无效。',
  ERR_CONTRACT_SIGNATURE_INVALID: '合约签名校验失败。',
  ERR_CONTRACT_KEY_UNKNOWN: '合约不是由数据主管部门的密钥签署的。',
  ERR_CONTRACT_ALG_NOT_ALLOWED: '合约的签名算法不被允许。',
  ERR_CONTRACT_SUSPENDED: '合约已暂停。',
  ERR_CONTRACT_REVOKED: '合约已撤销。',
  ERR_DATASET_WITHDRAWN: '数据集已撤回。',
  ERR_CONTRACT_STATE: '合约当前的状态不允许此操作。',
  ERR_CONTRACT_EXPIRED: '合约期限已满。',
  ERR_CONTRACT_NOT_YET_VALID: '合约期限尚未开始。',
  ERR_CONTRACT_NOT_READY: '合约的快照正在生成或生成失败。',
  ERR_SNAPSHOT_MISMATCH: '快照与合约不符。',
  ERR_SQL_SYNTAX: 'SQL 有语法错误。',
  ERR_SQL_NOT_SELECT: '只允许一条只读的 SELECT 语句。',
  ERR_SQL_TABLE_NOT_ALLOWED: 'SQL 读取了合约快照之外的表。',
  ERR_SQL_FUNCTION_NOT_ALLOWED: 'SQL 使用了不允许的函数。',
  ERR_SQL_SHAPE_NOT_ALLOWED: '此查询模式不允许这种查询结构。',
  ERR_SQL_INVALID: 'SQL 与快照的表或字段对不上。',
  ERR_SQL_RUNTIME: 'SQL 运行时出错。',
  ERR_SANDBOX_DENIED: '被沙箱的安全限制拦截。',
  ERR_LIMIT_EXCEEDED: '作业超出了资源限制。',
  ERR_SANDBOX_FAILURE: '沙箱未能运行该作业。',
  ERR_JOB_NOT_CANCELLABLE: '作业已无法取消。',
  ERR_DISCLOSURE_REFUSED: '输出未通过披露控制，不予发布。',
  ERR_OUTPUT_NOT_RELEASED: '输出尚未发布。',
  ERR_OUTPUT_REJECTED: '输出已被审核人拒绝。',
  ERR_OUTPUT_NOT_HELD: '该输出不在待审状态。',
  ERR_REVIEW_DUPLICATE: '您已对该输出投过票。',
  ERR_DECISION_OVERRIDE_REQUIRED: '风险预览不符合政策：批准需要填写越过政策提示的理由。',
  ERR_FEEDBACK_ANSWERED: '该反馈已答复。',
  ERR_REPORT_ACKNOWLEDGED: '该报告已确认过。',
  ERR_REVIEW_OWN_WORK: '作业的提交人不能审核其输出。',
  ERR_CHANGES_REQUESTED: '审核人要求修改。',
  ERR_BUDGET_EXHAUSTED: '隐私预算（ε）已用尽。',
  ERR_QUOTA_EXCEEDED: '合约的作业配额已用完。',
  ERR_RATE_LIMITED: '请求过于频繁，请稍后再试。',
  ERR_IDEMPOTENCY_MISMATCH: '同一个幂等键用于了不同的请求。',
  ERR_WORKER_CLAIM_REFUSED: '工作节点的领取请求被拒绝。',
  ERR_WORKER_LEASE_HELD: '作业已被另一次运行租用，尚未到期。',
  ERR_WORKER_NOT_LEASE_HOLDER: '该工作节点不持有此次运行的租约。',
  ERR_WORKER_OUTCOME_INVALID: '运行结果与下发的任务不符。',
  ERR_WORKER_REVOKED: '工作节点的凭证已被撤销或轮换。',
  ERR_WORKER_OUTCOME_MISMATCH: '抽查发现工作节点的结果与平台自行重算的不同。',
  ERR_REPORT_SIGNATURE_INVALID: '报告与其签名不符。',
  ERR_REPORT_UNRENDERABLE: '报告无法生成页面。',
  ERR_DATA_DESTROYED: '该数据已销毁，销毁记录载明了时间和原因。',
  ERR_DESTRUCTION_RECORD_INVALID: '销毁记录与其签名不符。',
  ERR_INTERNAL: '服务器内部错误，已记录。',
  ERR_STORAGE_FULL: '存储空间不足。',
  ERR_REGISTER_STATEMENT_PERSONAL:
    '公示说明不得包含个人身份信息（身份证号码、手机号码、电子邮箱）或查询语句，请改写后再提交。',
  ERR_REGISTER_INVALID: '公示名录副本校验未通过。',
  ERR_STORE_UNAVAILABLE: '控制库出错，服务正在重启，请稍后再试。',
  ERR_TEMPLATE_PARAMETER: '查询模板的参数不符合其类型或取值范围。',
  ERR_TEMPLATE_NOT_APPLICABLE: '本合同未授予该查询模板所需的数据集或字段。',
};

const HAN = /\p{Script=Han}/u;
const ENGLISH_PROSE = /[a-z]{2,}\s+[a-z]{2,}/i;

/**
 * What to show for a refusal: the Chinese sentence of its code first; the API's English detail
 * kept as `secondary` (shown smaller, for support). An SQL refusal with facts (`facts`: a
 * problem's body, an error's `extra`, a job reason) is explained from them instead of the code's
 * generic sentence (src/terms/refusals.ts). A detail all in Chinese (the console's own refusals)
 * is the primary text itself; one that mixes English words with Chinese (the API's, with a policy
 * warning quoted) is secondary like any other.
 */
export function problemText(code: string, detail: string, facts?: unknown): { primary: string; secondary?: string } {
  if (HAN.test(detail) && !ENGLISH_PROSE.test(detail)) return { primary: detail };
  const zh = refusalZh(facts) ?? (ERROR_ZH as Record<string, string>)[code];
  return zh ? { primary: zh, ...(detail ? { secondary: detail } : {}) } : { primary: detail || code };
}

/**
 * `problemText` of a thrown refusal: our own PdsError (its `extra`) or the API client's ApiError
 * (the problem body), for the console's error display and the CLI's error lines alike.
 */
export function errorText(err: { code: string; detail: string; extra?: unknown; problem?: unknown }): {
  primary: string;
  secondary?: string;
} {
  return problemText(err.code, err.detail, err.problem ?? err.extra);
}
