import type { DemoContext } from './context.ts';
import {
  applicationStep,
  catalogStep,
  contractSignatureStep,
  decisionStep,
  providerReviewStep,
  snapshotStep,
} from './contract-steps.ts';
import { downloadStep, escapeStep, jobStep, outputStep, validateStep } from './job-steps.ts';
import { auditStep, reportStep, suspendStep } from './oversight-steps.ts';
import { osSandboxStep, seedStep, serverStep, workerStep } from './setup-steps.ts';

/** One named step of `pds demo`: what it shows, in Chinese, and what it does. */
export interface DemoStep {
  /** Printed as the step's title (`[ 3/17] 提交场景申请`) and named when it fails. */
  name: string;
  /** Runs only when this answers true (default: always). */
  when?: (ctx: DemoContext) => boolean;
  run: (ctx: DemoContext) => Promise<void>;
}

/**
 * The whole flow on synthetic data, over real HTTP with real tokens, acting as the four roles:
 * catalog → application → provider review → bureau decision → signed contract → masked
 * snapshot → sandboxed job → disclosure control → signed release → suspend/resume → risk report
 * → audit verification.
 */
export const DEMO_STEPS: DemoStep[] = [
  seedStep,
  osSandboxStep,
  serverStep,
  workerStep,
  catalogStep,
  applicationStep,
  providerReviewStep,
  decisionStep,
  snapshotStep,
  contractSignatureStep,
  validateStep,
  jobStep,
  outputStep,
  downloadStep,
  escapeStep,
  suspendStep,
  reportStep,
  auditStep,
];
