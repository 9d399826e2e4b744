/**
 * The voter's receipt and its verification. A receipt is everything needed to check one entry without
 * trusting the server: the entry, its leaf index, a checkpoint signed by the ledger nodes and an
 * inclusion proof against that checkpoint. verifyReceipt runs in the browser, the CLI and the nodes.
 */
import { fromBase64, toBase64, toHex } from './bytes.ts';
import { parseCheckpoint, type Checkpoint } from './checkpoint.ts';
import { ballotTrackerCode, canonicalEntryBytes, ledgerEntryProblem, normalizeTracker, type LedgerEntry } from './entry.ts';
import type { Ed25519, Sha256 } from './hash.ts';
import { HASH_SIZE, hashLeaf, verifyConsistency, verifyInclusion } from './merkle.ts';
import { distinctSigners, openNote, parseVerifierKeys, type NoteVerifier } from './note.ts';

export interface Receipt {
  version: 1;
  origin: string;
  /** XXXX-XXXX-XXXX for ballots; empty for poll entries, which have no tracker. */
  tracker: string;
  entry: LedgerEntry;
  leafIndex: number;
  /** The checkpoint as a signed note (body plus signature lines). */
  checkpoint: string;
  /** Base64 hashes, lowest level first. */
  inclusionProof: string[];
}

export type ReceiptCheckCode = 'tracker' | 'entry-hash' | 'signatures' | 'origin' | 'inclusion' | 'consistency';

export interface ReceiptCheck {
  code: ReceiptCheckCode;
  ok: boolean;
  /** Plain English for the portal and the CLI. */
  detail: string;
}

export interface ReceiptVerification {
  ok: boolean;
  checks: ReceiptCheck[];
}

export interface VerifyReceiptOptions {
  /** Verifier keys of the ledger nodes (note.ts format). */
  verifierKeys: readonly string[];
  /** Distinct node keys that must have signed; 3 for our 4 nodes. */
  quorum: number;
  /** The log's origin line, e.g. `vote.example.org/ledger`. */
  origin: string;
  /** A later signed checkpoint and a consistency proof from the receipt's checkpoint to it. */
  latest?: { note: string; consistencyProof: readonly string[] };
}

/** Builds a receipt; the tracker is taken from the entry (ballots) or left empty (poll entries). */
export function buildReceipt(input: {
  origin: string;
  entry: LedgerEntry;
  leafIndex: number;
  checkpoint: string;
  inclusionProof: readonly Uint8Array[];
}): Receipt {
  const data = input.entry.data as { tracker?: unknown } | null;
  const tracker = input.entry.kind === 'ballot' && typeof data?.tracker === 'string' ? data.tracker : '';
  return {
    version: 1,
    origin: input.origin,
    tracker,
    entry: input.entry,
    leafIndex: input.leafIndex,
    checkpoint: input.checkpoint,
    inclusionProof: input.inclusionProof.map(toBase64),
  };
}

/** A check that threw is a failed check: verification must never throw on hostile input. */
function check(code: ReceiptCheckCode, run: () => string | { fail: string }): ReceiptCheck {
  try {
    const result = run();
    return typeof result === 'string' ? { code, ok: true, detail: result } : { code, ok: false, detail: result.fail };
  } catch (e) {
    return { code, ok: false, detail: e instanceof Error ? e.message : String(e) };
  }
}

function decodeHashes(list: unknown): Uint8Array[] | null {
  if (!Array.isArray(list)) return null;
  const out: Uint8Array[] = [];
  for (const item of list) {
    const bytes = typeof item === 'string' ? fromBase64(item) : null;
    if (!bytes || bytes.length !== HASH_SIZE) return null;
    out.push(bytes);
  }
  return out;
}

export interface SignedCheckpoint {
  checkpoint: Checkpoint;
  /** Names of the distinct known keys that validly signed. */
  signers: string[];
}

/**
 * Opens a signed checkpoint note and counts distinct known keys (by public key) with valid signatures.
 * Throws NoteError or CheckpointError for malformed input; does not enforce the quorum.
 */
export function openSignedCheckpoint(ed: Ed25519, noteText: string, verifiers: readonly NoteVerifier[]): SignedCheckpoint {
  const opened = openNote(ed, noteText, verifiers);
  return { checkpoint: parseCheckpoint(opened.text), signers: distinctSigners(opened).map((v) => v.name) };
}

/**
 * Checks a receipt. Each check reports independently; `ok` is true only if all pass. Never throws:
 * malformed receipts, keys or notes produce failed checks with the reason.
 */
export function verifyReceipt(
  h: Sha256,
  ed: Ed25519,
  receipt: unknown,
  options: VerifyReceiptOptions,
): ReceiptVerification {
  const r = (typeof receipt === 'object' && receipt !== null ? receipt : {}) as Partial<Record<keyof Receipt, unknown>>;
  const verifiers = parseVerifierKeys(h, options.verifierKeys);
  const entryProblem = r.version === 1 ? ledgerEntryProblem(r.entry) : 'receipt version must be 1';
  const entry = r.entry as LedgerEntry;
  let leafHash: Uint8Array | undefined;
  let signed: SignedCheckpoint | undefined;

  const checks: ReceiptCheck[] = [
    check('tracker', () => {
      if (entryProblem) return { fail: entryProblem };
      if (entry.kind !== 'ballot') {
        return r.tracker === '' ? 'poll entries carry no tracker' : { fail: 'a poll entry receipt must not carry a tracker' };
      }
      const data = entry.data as { salt: string; tracker: string };
      const expected = ballotTrackerCode(data.salt, entry.eventId, h);
      if (data.tracker !== expected) return { fail: 'the tracker in the entry does not derive from its salt and event id' };
      if (typeof r.tracker !== 'string' || normalizeTracker(r.tracker) !== expected) {
        return { fail: 'the receipt tracker differs from the one in the entry' };
      }
      return `tracker ${expected} derives from the ballot's salt and event id`;
    }),
    check('entry-hash', () => {
      if (entryProblem) return { fail: entryProblem };
      leafHash = hashLeaf(h, canonicalEntryBytes(entry));
      return `leaf hash ${toHex(leafHash)} computed from the canonical entry`;
    }),
    check('signatures', () => {
      if (typeof r.checkpoint !== 'string') return { fail: 'checkpoint missing' };
      signed = openSignedCheckpoint(ed, r.checkpoint, verifiers);
      const summary = `${signed.signers.length} of ${options.verifierKeys.length} known ledger nodes signed`;
      const names = signed.signers.length > 0 ? ` (${signed.signers.join(', ')})` : '';
      return signed.signers.length >= Math.max(1, options.quorum)
        ? `${summary}${names}; quorum is ${options.quorum}`
        : { fail: `${summary}${names}; quorum is ${options.quorum}` };
    }),
    check('origin', () => {
      if (r.origin !== options.origin) return { fail: `receipt names log ${JSON.stringify(r.origin)}, expected ${options.origin}` };
      if (!signed) return { fail: 'no readable signed checkpoint' };
      if (signed.checkpoint.origin !== options.origin) {
        return { fail: `checkpoint is for log ${signed.checkpoint.origin}, expected ${options.origin}` };
      }
      return `checkpoint is for log ${options.origin}`;
    }),
    check('inclusion', () => {
      if (!leafHash) return { fail: 'no leaf hash to prove' };
      if (!signed) return { fail: 'no readable signed checkpoint' };
      const proof = decodeHashes(r.inclusionProof);
      if (!proof) return { fail: 'inclusion proof must be a list of base64 32-byte hashes' };
      if (typeof r.leafIndex !== 'number') return { fail: 'leaf index missing' };
      verifyInclusion(h, r.leafIndex, signed.checkpoint.size, leafHash, proof, signed.checkpoint.rootHash);
      return `entry is leaf ${r.leafIndex} of the ${signed.checkpoint.size}-leaf tree`;
    }),
  ];

  if (options.latest) {
    const latest = options.latest;
    checks.push(
      check('consistency', () => {
        if (!signed) return { fail: 'no readable signed checkpoint' };
        const newer = openSignedCheckpoint(ed, latest.note, verifiers);
        if (newer.signers.length < Math.max(1, options.quorum)) {
          return { fail: `latest checkpoint has ${newer.signers.length} valid signatures; quorum is ${options.quorum}` };
        }
        if (newer.checkpoint.origin !== options.origin) return { fail: 'latest checkpoint is for another log' };
        const proof = decodeHashes(latest.consistencyProof);
        if (!proof) return { fail: 'consistency proof must be a list of base64 32-byte hashes' };
        const [m, n] = [signed.checkpoint.size, newer.checkpoint.size];
        if (n < m) return { fail: `latest checkpoint (${n}) is smaller than the receipt's (${m})` };
        verifyConsistency(h, m, n, proof, signed.checkpoint.rootHash, newer.checkpoint.rootHash);
        return `the ${n}-leaf tree extends the receipt's ${m}-leaf tree`;
      }),
    );
  }
  return { ok: checks.every((c) => c.ok), checks };
}
