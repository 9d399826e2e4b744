/**
 * The pure ledger API, shared by the server, the CLI and the browser bundle of the verification portal.
 * Nothing reachable from here imports a node:* module (index.spec.ts bundles it for the browser to prove
 * it). The node:crypto implementations live in nodeCrypto.ts, for server code only.
 */
export { bytesEqual, fromBase64, fromHex, toBase64, toHex, utf8 } from './bytes.ts';
export { nobleEd25519, nobleSha256, type Ed25519, type Sha256 } from './hash.ts';
export {
  HASH_SIZE,
  MerkleFrontier,
  MerkleTree,
  ProofError,
  emptyRoot,
  hashChildren,
  hashLeaf,
  verifyConsistency,
  verifyInclusion,
  type ProofErrorCode,
} from './merkle.ts';
export {
  ballotTrackerCode,
  canonicalEntryBytes,
  canonicalJsonBytes,
  ledgerEntryProblem,
  normalizeTracker,
  trackerCode,
  type BallotEntryData,
  type LedgerEntry,
  type LedgerEntryKind,
} from './entry.ts';
export {
  CheckpointError,
  GENESIS_PREV,
  checkpointHash,
  followsCheckpoint,
  formatCheckpoint,
  isValidOrigin,
  parseCheckpoint,
  type Checkpoint,
  type CheckpointErrorCode,
} from './checkpoint.ts';
export {
  NoteError,
  addSignatures,
  countValidSignatures,
  distinctSigners,
  formatVerifierKey,
  generateSignerKey,
  isValidKeyName,
  keyHash,
  openNote,
  parseNote,
  parseSignerKey,
  parseVerifierKey,
  parseVerifierKeys,
  signNote,
  signatureLine,
  type NoteErrorCode,
  type NoteSignature,
  type NoteSigner,
  type NoteVerifier,
  type OpenedNote,
  type ValidNoteSignature,
} from './note.ts';
export {
  buildReceipt,
  openSignedCheckpoint,
  verifyReceipt,
  type Receipt,
  type ReceiptCheck,
  type ReceiptCheckCode,
  type ReceiptVerification,
  type SignedCheckpoint,
  type VerifyReceiptOptions,
} from './receipt.ts';
export {
  TallyStatementError,
  formatTallyStatement,
  openTallyNote,
  parseTallyStatement,
  signTallyNote,
  tallyHash,
  tallyVerdict,
  type OpenedTallyNote,
  type TallyStatement,
  type TallyVerdict,
  type TallyVerdictResult,
} from './tallyNote.ts';
