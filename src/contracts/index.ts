export {
  ContractService, actorOf,
  type ApplicationInput, type ApplicationView, type ContractServiceDeps, type ContractStatus, type ContractView,
  type DecisionInput, type Principal, type ReviewView,
} from './service.ts';
export {
  addMonths, signContract, verifyContract, CONTRACT_AUDIENCE, CONTRACT_ISSUER, CONTRACT_TYP,
  type ContractClaims, type EmergencyPlan, type Scenario, type VerifiedContract,
} from './contract-token.ts';
