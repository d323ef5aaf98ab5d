import type { DemoStep } from './step.ts';
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

/**
 * The whole flow on synthetic data, over real HTTP with real tokens, acting as the four roles:
 * catalog → application → provider review → bureau decision → signed contract → masked
 * snapshot → sandboxed job → disclosure control → signed release → suspend/resume → risk report
 * → audit verification.
 */
export type { DemoStep };
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
