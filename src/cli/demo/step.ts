import type { DemoContext } from './context.ts';

/** One named step of `pds demo`: what it shows, in Chinese, and what it does. */
export interface DemoStep {
  /** Printed as the step's title (`[ 3/17] 提交场景申请`) and named when it fails. */
  name: string;
  /** Runs only when this answers true (default: always). */
  when?: (ctx: DemoContext) => boolean;
  run: (ctx: DemoContext) => Promise<void>;
}
