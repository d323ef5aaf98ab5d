/**
 * Destruction records and retention (docs/architecture.md §19; seed 003 第三十九条（四）): every
 * deletion of durable data — a contract's snapshot, an output's data — is recorded pending before
 * the files go, sealed by the bureau key after; housekeeping deletes what policies/retention.yaml
 * says is due.
 */
export {
  DESTRUCTION_KINDS,
  DESTRUCTION_TYP,
  DESTRUCTION_WHYS,
  DestructionClaimsSchema,
  HOUSEKEEPING_ACTOR,
  sealDestruction,
  verifyDestruction,
  type DestroyedFile,
  type DestructionClaims,
  type DestructionKind,
  type DestructionWhy,
} from './record.ts';
export { DestructionService, type DestructionRequest, type DestructionView, type RecordReader } from './service.ts';
export { Housekeeping, type DueItem } from './retention.ts';
