export {
  resolveGrants, ruleSetFor, PRIVACY_UNIT_COLUMN,
  type ColumnGrant, type DatasetGrant, type DatasetRequest,
} from './rules.ts';
export { buildSnapshot, fileSha256, maskingSql, pseudonym, TOKEN_HEX_LENGTH, type SnapshotInfo } from './snapshot.ts';
