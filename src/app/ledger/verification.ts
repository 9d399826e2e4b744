/**
 * The rules behind a poll's "Blockchain verification" badge, pure: the verdict from the nodes' signed
 * tallies, and the comparisons the tamper watch makes between the app's events, its read model and
 * what the ledger holds. The infra services (src/infra/ledger/verification.ts) feed them.
 */
import { fromUtf8 } from '../../ledger/bytes.ts';
import { canonicalJsonBytes } from '../../ledger/entry.ts';
import type { Ed25519, Sha256 } from '../../ledger/hash.ts';
import { tallyVerdict } from '../../ledger/tallyNote.ts';

export type VerificationStatus = 'pending' | 'completed' | 'failed';

export interface NodeTallyAnswer {
  url: string;
  ok: boolean;
  note?: string;
  reason?: string;
}

export interface TallyVerificationOptions {
  verifierKeys: readonly string[];
  quorum: number;
  origin: string;
  pollId: string;
}

/**
 * The badge from the nodes' tally answers and the result the app published (and anchored):
 * `completed` when a quorum of distinct nodes signed that very result, `failed` when 2 or more signed a
 * different one (tallyVerdict), `pending` otherwise. The detail names nodes, never voters.
 */
export function tallyVerification(
  h: Sha256,
  ed: Ed25519,
  answers: readonly NodeTallyAnswer[],
  published: unknown,
  options: TallyVerificationOptions,
): { status: VerificationStatus; detail: string } {
  const notes = answers.filter((a) => a.ok && typeof a.note === 'string').map((a) => a.note!);
  const v = tallyVerdict(h, ed, notes, published, options);
  const failedNodes = answers.filter((a) => !a.ok).length;
  const parts = [`${v.agreeing.length} node(s) signed the published result`];
  if (v.conflicting.length > 0) parts.push(`${v.conflicting.length} signed a different result (${v.conflicting.join(', ')})`);
  if (failedNodes > 0) parts.push(`${failedNodes} did not answer with a tally`);
  if (v.unreadable > 0) parts.push(`${v.unreadable} unreadable note(s)`);
  return { status: v.verdict, detail: parts.join('; ') };
}

/** A leaf whose event no longer says what was anchored. */
export interface LeafMismatch {
  leafIndex: number;
  eventId: string;
  pollId: string;
  kind: 'event-edited' | 'event-deleted';
}

/**
 * Compares the anchored leaves with leaf hashes re-derived from the app's events (by event id).
 * An event that maps to another hash was edited; one that is gone (or no longer maps to an entry)
 * was deleted.
 */
export function compareLeaves(
  anchored: ReadonlyArray<{ leafIndex: number; eventId: string; pollId: string; entryHash: string }>,
  derived: ReadonlyMap<string, string | null>,
): LeafMismatch[] {
  const out: LeafMismatch[] = [];
  for (const leaf of anchored) {
    const hash = derived.get(leaf.eventId);
    if (hash === undefined || hash === null) out.push({ leafIndex: leaf.leafIndex, eventId: leaf.eventId, pollId: leaf.pollId, kind: 'event-deleted' });
    else if (hash !== leaf.entryHash) out.push({ leafIndex: leaf.leafIndex, eventId: leaf.eventId, pollId: leaf.pollId, kind: 'event-edited' });
  }
  return out;
}

/** Whether two tallies are the same plain JSON (canonical bytes, so key order does not matter). */
export function sameTally(a: unknown, b: unknown): boolean {
  try {
    return fromUtf8(canonicalJsonBytes(a)) === fromUtf8(canonicalJsonBytes(b));
  } catch {
    return false;
  }
}

/**
 * Buckets whose digest moved between two passes of the tamper watch: changed, new, or gone (a bucket
 * with no rows left has no digest). The watch re-reads only these.
 */
export function movedBuckets(before: ReadonlyMap<number, string>, after: ReadonlyMap<number, string>): number[] {
  const moved = new Set<number>();
  for (const [bucket, digest] of after) if (before.get(bucket) !== digest) moved.add(bucket);
  for (const bucket of before.keys()) if (!after.has(bucket)) moved.add(bucket);
  return [...moved].sort((a, b) => a - b);
}

/** Buckets `from` up to (not including) `to`; no `to`: every bucket from `from` on. */
export interface BucketRange {
  from: number;
  to?: number;
}

/**
 * Which buckets one tamper-watch pass digests: from the highest bucket it knows upwards (where the log
 * grows) and the next `window` older buckets of a sweep that starts again from 0 once it reaches the
 * top. Nothing known yet: everything. So a pass costs the new rows plus a window, and an edit anywhere is
 * seen within one sweep (top / window passes).
 */
export function sweepRanges(highestKnown: number | null, cursor: number, window: number): { ranges: BucketRange[]; nextCursor: number } {
  if (highestKnown === null) return { ranges: [{ from: 0 }], nextCursor: 0 };
  const start = cursor < highestKnown ? cursor : 0;
  const to = Math.min(start + window, highestKnown);
  // Once the window reaches the top the sweep starts again from 0, so a window as large as the log
  // digests every bucket on every pass.
  return { ranges: to > start ? [{ from: start, to }, { from: highestKnown }] : [{ from: highestKnown }], nextCursor: to >= highestKnown ? 0 : to };
}

/** Whether a bucket is in one of the ranges. */
export const inRanges = (bucket: number, ranges: readonly BucketRange[]): boolean =>
  ranges.some((r) => bucket >= r.from && (r.to === undefined || bucket < r.to));
