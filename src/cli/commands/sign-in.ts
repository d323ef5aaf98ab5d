import { Option, type Command } from 'commander';
import { issueToken, USER_ROLES, type UserRole } from '../../auth/index.ts';
import { PdsError } from '../../errors/index.ts';
import { loadKeyRing } from '../../keys/index.ts';
import { configFrom, dataDirOption, positiveInt } from '../shared.ts';

interface LinkOpts {
  dataDir?: string;
  role: UserRole;
  org: string;
  sub: string;
  ttl: number;
  url?: string;
  json?: boolean;
}

/** `pds login-link`: a one-time console sign-in link from the embedded issuer. */
async function loginLink(opts: LinkOpts): Promise<void> {
  const config = configFrom(opts);
  if (config.auth)
    throw new PdsError('ERR_CONFIG', 'AUTH_ISSUER is set: people sign in with the identity provider, not with links');
  if (opts.ttl > 86_400) throw new PdsError('ERR_VALIDATION', '--ttl: at most 86400 seconds (a day)');
  const { issueLoginLink } = await import('../../console/index.ts');
  const keys = await loadKeyRing(config.dataDir);
  const link = await issueLoginLink(keys, { sub: opts.sub, org: opts.org, role: opts.role, ttlSeconds: opts.ttl });
  const origin = (
    opts.url ? new URL(opts.url) : (config.console.publicUrl ?? new URL(`http://${config.host}:${config.port}`))
  ).origin;
  const url = `${origin}/console/login?link=${link}`;
  const expiresAt = new Date(Date.now() + opts.ttl * 1000).toISOString();
  console.log(opts.json ? JSON.stringify({ url, expiresAt }) : url);
}

/** Signing in without an identity provider (embedded mode): `pds token` and `pds login-link`. */
export function addSignInCommands(program: Command): void {
  program
    .command('token')
    .description('用 DATA_DIR 的内置签发方签发用户令牌（用于 API 的 Authorization 请求头）')
    .addOption(dataDirOption())
    .addOption(new Option('--role <role>', '角色').choices(USER_ROLES).makeOptionMandatory())
    .requiredOption('--org <org>', '机构编号（例如 org-psb）')
    .option('--sub <sub>', '主体（用户编号）', 'cli-user')
    .option('--ttl <seconds>', '有效期（秒）', positiveInt, 12 * 3600)
    .option('--json', '打印 {"token": …}')
    .action(
      async (opts: { dataDir?: string; role: UserRole; org: string; sub: string; ttl: number; json?: boolean }) => {
        const config = configFrom(opts);
        const keys = await loadKeyRing(config.dataDir);
        const token = await issueToken(keys, {
          sub: opts.sub,
          org: opts.org,
          roles: [opts.role],
          ttlSeconds: opts.ttl,
        });
        console.log(opts.json ? JSON.stringify({ token }) : token);
      },
    );

  program
    .command('login-link')
    .description('打印一次性的 Web 控制台登录链接（内置模式：没有外部身份提供方）')
    .addOption(dataDirOption())
    .addOption(new Option('--role <role>', '角色').choices(USER_ROLES).makeOptionMandatory())
    .requiredOption('--org <org>', '机构编号（例如 org-psb）')
    .option('--sub <sub>', '主体（用户编号）', 'console-user')
    .option('--ttl <seconds>', '链接可等待使用的时长（秒，最多一天）', positiveInt, 600)
    .option('--url <origin>', '链接中的控制台地址（默认 PUBLIC_URL，否则 http://HOST:PORT）')
    .option('--json', '打印 {"url": …, "expiresAt": …}')
    .action(loginLink);
}
