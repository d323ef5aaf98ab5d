export {
  ApplicationService,
  type ApplicationInput,
  type ApplicationView,
  type DecisionInput,
  type ReviewQueueItem,
  type ReviewView,
} from './applications.ts';
export { WorkingCalendar } from './calendar.ts';
export { officialCalendar, type OfficialCalendar } from './official-calendar.ts';
export {
  addMonths,
  signContract,
  verifyContract,
  CONTRACT_AUDIENCE,
  CONTRACT_ISSUER,
  CONTRACT_TYP,
  type ContractClaims,
  type DecidedClaims,
  type DecisionOverride,
  type EmergencyPlan,
  type Scenario,
  type VerifiedContract,
} from './contract-token.ts';
export {
  ContractService,
  contractStatusError,
  CONTRACT_TRANSITIONS,
  type ContractAction,
  type ContractJobs,
  type ContractServiceDeps,
  type ContractStatus,
  type BuildView,
  type ContractView,
  type SignedContractView,
  type Transitioned,
} from './contracts.ts';
export { SnapshotBuilds, type SnapshotBuildsDeps } from './builds.ts';
export {
  EffectivenessService,
  type AssessmentInput,
  type AssessmentView,
  type Indicator,
  storedIndicator,
} from './effectiveness.ts';
export { tightenTerms, type AskedTerms, type Terms } from './terms.ts';
export { WithdrawalService, type Withdrawal } from './withdrawals.ts';
export { FeedbackService, type FeedbackInput, type FeedbackKind, type FeedbackView } from './feedback.ts';
