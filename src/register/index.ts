/**
 * The public register (公示名录, seed 003 第三十五条; docs/architecture.md §18): the bureau's
 * measures published, each entry sealed and chained, readable without sign-in, verifiable offline.
 */
export {
  bodyOf,
  REGISTER_ENTRY_TYP,
  REGISTER_FORMAT,
  REGISTER_GENESIS,
  REGISTER_HEAD_TYP,
  type Measure,
  type Notice,
  type PublicFields,
  type PublishContext,
  type RegisterAction,
  type RegisterBody,
  type RegisterEntry,
} from './entries.ts';
export {
  REGISTER_PAGE_MAX,
  RegisterService,
  type ContractFacts,
  type RegisterHead,
  type RegisterPage,
  type ViolationInput,
} from './service.ts';
export { assertPublishable } from './statement.ts';
export { verifyRegister, type RegisterCheck, type RegisterProblem } from './verify.ts';
