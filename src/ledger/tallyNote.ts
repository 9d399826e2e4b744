/**
 * Signed tally statements. At close every ledger node tallies a poll from its own copy of the ledger
 * and signs a short statement of the result as a C2SP note:
 *
 *   <origin>/tally\n
 *   poll <pollId>\n
 *   size <tree size the tally was computed at>\n
 *   sha256 <base64 SHA-256 of the RFC 8785 canonical JSON of the tally>\n
 *
 * The `/tally` suffix keeps a tally statement from ever parsing as a checkpoint of the same log.
 */
import { bytesEqual, fromBase64, toBase64, toHex } from './bytes.ts';
import { isValidOrigin } from './checkpoint.ts';
import { canonicalJsonBytes } from './entry.ts';
import type { Ed25519, Sha256 } from './hash.ts';
import { HASH_SIZE } from './merkle.ts';
import { distinctSigners, openNote, parseVerifierKeys, signNote, type NoteSigner, type NoteVerifier } from './note.ts';

export interface TallyStatement {
  origin: string;
  pollId: string;
  size: number;
  tallyHash: Uint8Array;
}

export class TallyStatementError extends Error {
  override readonly name = 'TallyStatementError';
  readonly code = 'malformed-tally-statement';
}

/** SHA-256 of the canonical JSON of a tally (any plain JSON value). */
export function tallyHash(h: Sha256, tally: unknown): Uint8Array {
  return h(canonicalJsonBytes(tally));
}

// eslint-disable-next-line no-control-regex
const isValidPollId = (id: string): boolean => id !== '' && !/[\p{White_Space}\x00-\x1f\x7f]/u.test(id);

/** The statement body, ready to sign. Throws TallyStatementError on bad fields. */
export function formatTallyStatement(st: TallyStatement): string {
  const text = `${st.origin}/tally\npoll ${st.pollId}\nsize ${st.size}\nsha256 ${toBase64(st.tallyHash)}\n`;
  parseTallyStatement(text);
  return text;
}

/** Parses a statement body strictly (exactly four lines). Throws TallyStatementError. */
export function parseTallyStatement(text: string): TallyStatement {
  const match = /^(.+)\/tally\npoll (.+)\nsize (0|[1-9][0-9]*)\nsha256 ([A-Za-z0-9+/=]+)\n$/u.exec(text);
  if (!match) throw new TallyStatementError('tally statement must be origin/tally, poll, size and sha256 lines');
  const [, origin, pollId, sizeText, hashText] = match as unknown as [string, string, string, string, string];
  const size = Number(sizeText);
  const hash = fromBase64(hashText);
  if (!isValidOrigin(origin)) throw new TallyStatementError('invalid origin');
  if (!isValidPollId(pollId)) throw new TallyStatementError('invalid poll id');
  if (!Number.isSafeInteger(size)) throw new TallyStatementError('invalid size');
  if (!hash || hash.length !== HASH_SIZE) throw new TallyStatementError('sha256 must be base64 of 32 bytes');
  return { origin, pollId, size, tallyHash: hash };
}

/** Signs a statement as a note (one signer per node in practice). */
export function signTallyNote(ed: Ed25519, statement: TallyStatement, signers: readonly NoteSigner[]): string {
  return signNote(ed, formatTallyStatement(statement), signers);
}

export interface OpenedTallyNote {
  statement: TallyStatement;
  /** Distinct known keys (by public key) with valid signatures, by name. */
  signers: string[];
  verifiers: NoteVerifier[];
}

/** Opens a signed tally statement. Throws NoteError or TallyStatementError for malformed input. */
export function openTallyNote(ed: Ed25519, noteText: string, verifiers: readonly NoteVerifier[]): OpenedTallyNote {
  const opened = openNote(ed, noteText, verifiers);
  const distinct = distinctSigners(opened);
  return { statement: parseTallyStatement(opened.text), signers: distinct.map((v) => v.name), verifiers: distinct };
}

export type TallyVerdict = 'completed' | 'failed' | 'pending';

export interface TallyVerdictResult {
  verdict: TallyVerdict;
  /** Names of distinct keys that signed the published result. */
  agreeing: string[];
  /** Names of distinct keys that signed a different result for the same poll. */
  conflicting: string[];
  /** Notes that could not be read (malformed, ambiguous keys); they count for nothing. */
  unreadable: number;
}

/**
 * The poll card's "Blockchain verification" state from the tally notes the nodes published (separate
 * or merged). `completed`: at least `quorum` distinct known keys signed the published tally.
 * `failed`: at least `conflictThreshold` (default 2) distinct keys signed a different result for this
 * poll; this wins over `completed`, because it means the nodes' copies disagree. Otherwise `pending`.
 * Never throws.
 */
export function tallyVerdict(
  h: Sha256,
  ed: Ed25519,
  notes: readonly string[],
  published: unknown,
  options: { verifierKeys: readonly string[]; quorum: number; origin: string; pollId: string; conflictThreshold?: number },
): TallyVerdictResult {
  const verifiers = parseVerifierKeys(h, options.verifierKeys);
  let expected: Uint8Array | undefined;
  try {
    expected = tallyHash(h, published);
  } catch {
    expected = undefined; // an unpublishable tally can only conflict
  }
  const agreeing = new Map<string, string>();
  const conflicting = new Map<string, string>();
  let unreadable = 0;
  for (const note of notes) {
    let opened: OpenedTallyNote;
    try {
      opened = openTallyNote(ed, note, verifiers);
    } catch {
      unreadable++;
      continue;
    }
    const st = opened.statement;
    if (st.origin !== options.origin || st.pollId !== options.pollId) continue;
    const target = expected && bytesEqual(st.tallyHash, expected) ? agreeing : conflicting;
    for (const v of opened.verifiers) target.set(toHex(v.publicKey), v.name);
  }
  const verdict: TallyVerdict =
    conflicting.size >= (options.conflictThreshold ?? 2)
      ? 'failed'
      : agreeing.size >= Math.max(1, options.quorum)
        ? 'completed'
        : 'pending';
  return { verdict, agreeing: [...agreeing.values()], conflicting: [...conflicting.values()], unreadable };
}
