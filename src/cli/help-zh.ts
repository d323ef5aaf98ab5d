import { Help, type Argument, type Option } from 'commander';

/**
 * commander's own framing of `--help` and of its argument errors, in Chinese (issue 33: the
 * terms of docs/glossary.md for people, option names and codes as they are). Set on the root
 * before the command groups are added, so every subcommand inherits it.
 */
const TITLES: Record<string, string> = {
  'Usage:': '用法：',
  'Options:': '选项：',
  'Global Options:': '全局选项：',
  'Commands:': '命令：',
  'Arguments:': '参数：',
};

/** commander's "(choices: …, default: …)" after a description, in Chinese. */
function extraInfoZh(text: string): string {
  return text
    .replace(/ ?\(choices: /g, '（可选值：')
    .replace(/ ?\(default: /g, '（默认：')
    .replace(/, default: /g, '，默认：')
    .replace(/ ?\(env: /g, '（环境变量：')
    .replace(/, env: /g, '，环境变量：')
    .replace(/ ?\(preset: /g, '（预设：')
    .replace(/\)$/, '）');
}

// configureHelp copies these onto commander's Help: `this` is that Help, whose own English text is translated
export const HELP_ZH = {
  styleTitle: (title: string) => TITLES[title] ?? title,
  optionDescription(this: Help, option: Option): string {
    return extraInfoZh(Help.prototype.optionDescription.call(this, option));
  },
  argumentDescription(this: Help, argument: Argument): string {
    return extraInfoZh(Help.prototype.argumentDescription.call(this, argument));
  },
};

/** commander's argument errors (`error: unknown option '--x'` …) in Chinese; others as they are. */
const ERRORS: [RegExp, (...m: string[]) => string][] = [
  [/^error: unknown option '([^']*)'/, (o) => `错误：未知选项 ${o}`],
  [/^error: unknown command '([^']*)'/, (c) => `错误：未知命令 ${c}`],
  [/^error: missing required argument '([^']*)'/, (a) => `错误：缺少必需参数 ${a}`],
  [/^error: required option '([^']*)' not specified/, (o) => `错误：必须提供选项 ${o}`],
  [/^error: option '([^']*)' argument missing/, (o) => `错误：选项 ${o} 缺少取值`],
  [
    /^error: option '([^']*)' argument '([^']*)' is invalid\.?\s*(.*)/s,
    (o, v, why) => `错误：选项 ${o} 的取值 ${v} 无效。${why}`,
  ],
  [/^error: too many arguments(?: for '([^']*)')?/, (c) => `错误：参数过多${c ? `（${c}）` : ''}`],
];

export function commanderErrorZh(text: string): string {
  for (const [pattern, say] of ERRORS) {
    const m = pattern.exec(text);
    if (m) return `${say(...m.slice(1).map((x) => x ?? ''))}\n`;
  }
  return text;
}
