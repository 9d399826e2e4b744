/**
 * What the ledger stores per event, its canonical bytes (the leaf input), and the tracker code a voter
 * uses to find their ballot.
 */
import type { BallotSelections } from '../domain/pollDefinition.ts';
import { concatBytes, fromHex, isLowerHex, utf8 } from './bytes.ts';
import { canonicalJsonBytes, canonicalJsonText } from './canonicalJson.ts';
import { nobleSha256, type Sha256 } from './hash.ts';
import { sealedBallotProblem, type SealedBallot } from './threshold/seal.ts';

export type LedgerEntryKind = 'poll' | 'ballot';

/**
 * One anchored event. Plain JSON only (see canonicalEntryBytes). `at` is the event's ISO-8601 instant.
 * No personal data: ballots carry a per-poll voter tag, never a citizen id or phone number.
 */
export interface LedgerEntry {
  kind: LedgerEntryKind;
  pollId: string;
  eventType: string;
  eventId: string;
  at: string;
  data: unknown;
}

/** The `data` of a ballot entry (a sealed poll's ballot has `sealed` in place of `selections`). */
export interface BallotEntryData {
  /** HMAC-SHA256(serverSecret, pollId || citizenId), hex: unlinkable across polls. */
  voterTag: string;
  selections?: BallotSelections;
  sealed?: SealedBallot;
  /** 32 random bytes, lower-case hex: makes the tracker unguessable from the other fields. */
  salt: string;
  /** ballotTrackerCode(salt, eventId), formatted XXXX-XXXX-XXXX. */
  tracker: string;
}

export { canonicalJsonBytes, canonicalJsonText } from './canonicalJson.ts';

/** The bytes a ledger leaf hashes: canonical JSON of the entry. Equal entries give equal bytes everywhere. */
export function canonicalEntryBytes(entry: LedgerEntry): Uint8Array {
  return canonicalJsonBytes(entry);
}

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;

/**
 * Why `value` is not a well-formed LedgerEntry, or undefined if it is. Checks shape only, not the poll
 * rules (ledger nodes do that). Used on untrusted input such as receipts, so it never throws.
 */
export function ledgerEntryProblem(
  value: unknown,
  /** The value came from JSON.parse, so its data is plain JSON already (skips one canonicalisation). */
  options: { parsedFromJson?: boolean } = {},
): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'entry is not an object';
  const e = value as Record<string, unknown>;
  if (e.kind !== 'poll' && e.kind !== 'ballot') return 'entry kind must be "poll" or "ballot"';
  for (const field of ['pollId', 'eventType', 'eventId', 'at'] as const) {
    if (typeof e[field] !== 'string' || e[field] === '') return `entry ${field} must be a non-empty string`;
  }
  if (!ISO_INSTANT.test(e.at as string) || Number.isNaN(Date.parse(e.at as string))) {
    return 'entry at must be an ISO-8601 instant';
  }
  if (!('data' in e)) return 'entry data is missing';
  const extra = Object.keys(e).filter((k) => !['kind', 'pollId', 'eventType', 'eventId', 'at', 'data'].includes(k));
  if (extra.length > 0) return `entry has unexpected fields: ${extra.join(', ')}`;
  if (!options.parsedFromJson) {
    try {
      canonicalJsonText(e.data);
    } catch {
      return 'entry data is not plain JSON';
    }
  }
  if (e.kind === 'ballot') return ballotDataProblem(e.data);
  return undefined;
}

function ballotDataProblem(data: unknown): string | undefined {
  if (typeof data !== 'object' || data === null) return 'ballot data is not an object';
  const d = data as Record<string, unknown>;
  if (typeof d.voterTag !== 'string' || d.voterTag === '') return 'ballot voterTag must be a non-empty string';
  if (typeof d.salt !== 'string' || !isLowerHex(d.salt, 64)) return 'ballot salt must be 32 bytes of lower-case hex';
  if (typeof d.tracker !== 'string') return 'ballot tracker must be a string';
  // A sealed poll's ballot carries its choices sealed (threshold/seal.ts), a live poll's in the clear: never both.
  if ('sealed' in d) {
    if ('selections' in d) return 'a ballot carries either selections or sealed choices, not both';
    return sealedBallotProblem(d.sealed);
  }
  if (typeof d.selections !== 'object' || d.selections === null) return 'ballot selections must be an object';
  return undefined;
}

// Crockford base32: no I, L, O or U, so the code survives being read aloud and retyped.
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const TRACKER_CHARS = 12;

function formatTracker(chars: string): string {
  return `${chars.slice(0, 4)}-${chars.slice(4, 8)}-${chars.slice(8, 12)}`;
}

/**
 * A short human-typable code for `bytes`: the first 60 bits of SHA-256(bytes) as 12 Crockford base32
 * characters, shown as XXXX-XXXX-XXXX. 60 bits keep accidental collisions negligible for any poll size.
 */
export function trackerCode(bytes: Uint8Array, h: Sha256 = nobleSha256): string {
  const digest = h(bytes);
  let out = '';
  for (let i = 0; i < TRACKER_CHARS; i++) {
    // Character i takes bits [5i, 5i + 5) of the digest, most significant bit first.
    let v = 0;
    for (let bit = 5 * i; bit < 5 * i + 5; bit++) v = (v << 1) | ((digest[bit >> 3]! >> (7 - (bit & 7))) & 1);
    out += CROCKFORD[v];
  }
  return formatTracker(out);
}

/**
 * The tracker of a ballot: trackerCode(salt bytes || UTF-8 event id). Anyone holding the entry can
 * recompute it, and nobody can predict it without the salt. Throws RangeError for a malformed salt.
 */
export function ballotTrackerCode(saltHex: string, eventId: string, h: Sha256 = nobleSha256): string {
  const salt = isLowerHex(saltHex, 64) ? fromHex(saltHex) : null;
  if (!salt) throw new RangeError('salt must be 32 bytes of lower-case hex');
  return trackerCode(concatBytes(salt, utf8(eventId)), h);
}

/**
 * Reads a tracker code as a person typed it: any case, with or without dashes or spaces, I and L read as
 * 1, O as 0. Returns the canonical XXXX-XXXX-XXXX form, or null if it cannot be a tracker.
 */
export function normalizeTracker(input: string): string | null {
  const chars = input
    .replace(/[\s\-\u2010-\u2015]/g, '')
    .toUpperCase()
    .replace(/[IL]/g, '1')
    .replace(/O/g, '0');
  if (chars.length !== TRACKER_CHARS) return null;
  for (const c of chars) if (!CROCKFORD.includes(c)) return null;
  return formatTracker(chars);
}
