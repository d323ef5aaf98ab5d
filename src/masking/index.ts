export {
  resolveGrants,
  effectiveRules,
  PRIVACY_UNIT_COLUMN,
  type ColumnGrant,
  type DatasetGrant,
  type DatasetRequest,
  type EffectiveRules,
} from './rules.ts';
export { assessRisk, type RiskReport } from './risk.ts';
export {
  buildSnapshot,
  RECORD_KEY_COLUMN,
  UNIT_KEY_COLUMN,
  recordKeySalt,
  maskingSql,
  previewRisk,
  pseudonym,
  snapshotSelect,
  TOKEN_HEX_LENGTH,
  type BuildProgress,
  type MaskContext,
  type SnapshotInfo,
  type SnapshotTable,
} from './snapshot.ts';
export {
  dummyData,
  dummyDataOffThread,
  dummyFile,
  prepareDummyThread,
  snapshotSchema,
  type DummyTable,
} from './dummy.ts';
export { fileHasSha256, fileSha256 } from '../digest/index.ts';
