/**
 * Opening a sealed poll from the ledger's own entries, and checking an opening: shared by the ledger
 * nodes (their entry checks and tallies), the app (which assembles the opening entries from the nodes'
 * decryption shares) and the auditors (the portal and `npm run audit`). Pure: no I/O.
 *
 * The counted ballots of a sealed poll (one per voter tag, by the tally's own rule) are opened in batches
 * of OPEN_BATCH in log order. Each batch becomes one `SealedBallotsOpened` entry: the decryption shares
 * of at least 3 nodes (each batch with its Chaum-Pedersen proof) and, per ballot, the opened choices and
 * the nonce of their commitment, or `unopenable` for a ballot whose ciphertext does not open to its
 * commitment (it is then not counted, and anyone can check why from the shares).
 */
import { assertValidSelections, type SealedChoices } from '../domain/ballot.ts';
import type { PollDefinition, BallotSelections } from '../domain/pollDefinition.ts';
import { castInstant, countsInstead, type TallyBallot } from '../domain/tally.ts';
import type { LedgerEntry } from './entry.ts';
import { checkShareBatch, combineDecodedShares, prepareItems, type SealedItem, type ShareBatch } from './threshold/decryption.ts';
import type { Point } from './threshold/group.ts';
import { openingMatches, openSealed, sealedBallotProblem, type Opening, type SealedBallot } from './threshold/seal.ts';
import type { PublicKeySet } from './threshold/vss.ts';
import { THRESHOLD } from './threshold/vss.ts';

/** The poll event type of an opening entry (a persisted contract: never rename). */
export const OPENING_EVENT = 'SealedBallotsOpened';
/** Ballots per opening entry and per batch of decryption shares. */
export const OPEN_BATCH = 500;

export interface SealedBallotRef {
  eventId: string;
  voterTag: string;
  ballotId: string;
  castAt: string;
  sealed: SealedBallot;
}

export type OpenedBallot = { eventId: string } & (Opening | { unopenable: true });

/** The data of a SealedBallotsOpened entry (and event). */
export interface OpeningData {
  pollId: string;
  keyId: string;
  /** The log size the counted ballots were read at (every batch of one opening names the same). */
  size: number;
  batch: number;
  /** How many counted sealed ballots the poll has in all. */
  total: number;
  openings: OpenedBallot[];
  /** At least THRESHOLD verified share batches of distinct nodes. */
  shares: ShareBatch[];
  openedAt: string;
}

const ballotIdOf = (e: LedgerEntry): string => {
  const id = (e.data as { ballotId?: unknown }).ballotId;
  return typeof id === 'string' && id !== '' ? id : e.eventId;
};

/**
 * A sealed ballot entry's reference, or null when the entry is not a sealed ballot. Its ephemeral is not
 * decoded here (every caller's entries were checked with it when parsed or appended, and opening a batch
 * decodes every ephemeral once more): this runs over every ballot of a poll, several times per opening.
 */
export function sealedRefOf(entry: LedgerEntry): SealedBallotRef | null {
  if (entry.kind !== 'ballot') return null;
  const d = entry.data as { voterTag?: unknown; sealed?: unknown };
  if (typeof d.voterTag !== 'string' || sealedBallotProblem(d.sealed, { decode: false }) !== undefined) return null;
  return { eventId: entry.eventId, voterTag: d.voterTag, ballotId: ballotIdOf(entry), castAt: entry.at, sealed: d.sealed as SealedChoices };
}

/** The counted sealed ballots among a poll's entries (log order, up to the size the caller cut at). */
export function countedSealedBallots(definition: Pick<PollDefinition, 'settings'>, entries: Iterable<LedgerEntry>): SealedBallotRef[] {
  const refs: SealedBallotRef[] = [];
  const chooser = countedSealedChooser(definition);
  for (const e of entries) {
    const ref = sealedRefOf(e);
    if (ref) chooser.offer(refs.push(ref) - 1, ref);
  }
  return Array.from(chooser.positions(), (k) => refs[k]!);
}

export const batchOf = <T>(list: readonly T[], batch: number): T[] => list.slice(batch * OPEN_BATCH, (batch + 1) * OPEN_BATCH);

/**
 * A poll's counted sealed ballots as an opening reads them: how many, and one batch at a time. A ledger
 * node keeps only their log positions and reads a batch from its log when asked ({@link countedInMemory}
 * wraps a list for everyone else).
 */
export interface CountedSealed {
  readonly total: number;
  batch(batch: number): readonly SealedBallotRef[];
}

export const countedInMemory = (refs: readonly SealedBallotRef[]): CountedSealed => ({ total: refs.length, batch: (b) => batchOf(refs, b) });

/** {@link CountedSealed} for an opener that reads each batch from its store when it needs it. */
export interface CountedSealedSource {
  readonly total: number;
  batch(batch: number): Promise<readonly SealedBallotRef[]> | readonly SealedBallotRef[];
}

/**
 * countedSealedBallots' choice made as a poll's sealed ballots stream by, keeping per voter tag only
 * the chosen ballot's log position and time (not the ballot): the opener then reads each batch of the
 * counted ones back from its store by position. `offer` in log order; `positions` ascending (log order,
 * so batches hold what countedSealedBallots would have listed).
 */
export const countedSealedChooser = (definition: Pick<PollDefinition, 'settings'>) => {
  const chosen = new Map<string, { position: number; at: number }>();
  return {
    offer(position: number, ref: Pick<SealedBallotRef, 'voterTag' | 'castAt'>): void {
      const at = castInstant(ref);
      const prev = chosen.get(ref.voterTag);
      if (!prev || countsInstead(definition, prev.at, at)) chosen.set(ref.voterTag, { position, at });
    },
    positions(): Float64Array {
      return Float64Array.from(chosen.values(), (c) => c.position).sort();
    },
  };
};
export const batchCount = (total: number): number => Math.ceil(total / OPEN_BATCH);
export const itemsOf = (refs: readonly SealedBallotRef[]): SealedItem[] => refs.map((r) => ({ eventId: r.eventId, ephemeral: r.sealed.ephemeral }));

const contextOf = (pollId: string, r: SealedBallotRef) => ({ pollId, voterTag: r.voterTag, ballotId: r.ballotId });

/**
 * Opens one batch from the nodes' share batches: each is checked against its node's verification key
 * (a wrong one is left out and its node named), 3 good ones are combined, every ballot is opened.
 * Throws when fewer than 3 good batches remain, naming the nodes whose shares failed.
 */
export function openBatch(keySet: PublicKeySet, pollId: string, refs: readonly SealedBallotRef[], batches: readonly ShareBatch[]): { openings: OpenedBallot[]; shares: ShareBatch[]; wrongNodes: number[] } {
  // The ephemerals are decoded once for every node's batch; a ballot whose ephemeral is not a point
  // cannot be opened by any share, and then nothing in this batch can be checked.
  const prepared = prepareItems(itemsOf(refs));
  const good: { batch: ShareBatch; shares: Point[] }[] = [];
  const wrongNodes: number[] = [];
  for (const b of batches) {
    // Three good batches open the ballots: a fourth is not even checked.
    if (good.length === THRESHOLD) break;
    if (good.some((g) => g.batch.node === b.node)) continue;
    const key = keySet.verificationKeys[String(b.node)];
    const decoded = b.keyId === keySet.keyId && b.pollId === pollId && key ? checkShareBatch(b, key, prepared) : null;
    if (decoded) good.push({ batch: b, shares: decoded });
    else wrongNodes.push(b.node);
  }
  if (good.length < THRESHOLD) throw new NotEnoughShares(good.length, wrongNodes);
  const keys = combineDecodedShares(
    good.map((g) => g.batch.node),
    good.map((g) => g.shares),
  );
  const openings = refs.map((r, j): OpenedBallot => {
    const opened = openSealed(keySet.jointKey, contextOf(pollId, r), r.sealed, keys[j]!, prepared.bytes[j]!);
    return opened ? { eventId: r.eventId, selections: opened.selections, nonce: opened.nonce } : { eventId: r.eventId, unopenable: true };
  });
  return { openings, shares: good.map((g) => g.batch), wrongNodes };
}

/**
 * Why an opening entry's data cannot be the opening of batch `data.batch` of these counted ballots, or
 * undefined. `full` re-does the decryption from the shares (the auditors); without it only the cheap
 * checks run (what a ledger node does before signing): the ballots are the batch's, each opening
 * matches its commitment and fits the poll, and a claimed unopenable ballot is re-checked in full.
 */
export function openingProblem(
  definition: PollDefinition,
  keySet: PublicKeySet | null,
  counted: CountedSealed,
  data: OpeningData,
  full: boolean,
): string | undefined {
  if (!Array.isArray(data.openings) || !Array.isArray(data.shares)) return 'an opening needs openings and shares';
  if (!Number.isSafeInteger(data.batch) || data.batch < 0) return 'the batch must be a number';
  if (data.total !== counted.total) return `the opening counts ${String(data.total)} sealed ballots, the log ${counted.total}`;
  if (data.batch >= batchCount(counted.total)) return `batch ${data.batch} is beyond the poll's ${counted.total} counted ballots`;
  const refs = counted.batch(data.batch);
  if (data.openings.length !== refs.length) return `batch ${data.batch} opens ${data.openings.length} ballots, not ${refs.length}`;
  const needsShares = full || data.openings.some((o) => 'unopenable' in o);
  if (needsShares) {
    if (!keySet || keySet.keyId !== data.keyId) return `the opening names key ${String(data.keyId)}, which is not the nodes' key set`;
    let redone: ReturnType<typeof openBatch>;
    try {
      redone = openBatch(keySet, data.pollId, refs, data.shares);
    } catch (e) {
      return (e as Error).message;
    }
    if (redone.wrongNodes.length > 0) return `the decryption shares of node ${redone.wrongNodes.join(', ')} do not verify`;
    for (let j = 0; j < refs.length; j++) {
      const want = redone.openings[j]!;
      const got = data.openings[j]!;
      if (('unopenable' in want) !== ('unopenable' in got)) return `ballot ${refs[j]!.eventId} ${'unopenable' in got ? 'opens, but is published as unopenable' : 'does not open with the shares'}`;
      if (!('unopenable' in want) && !('unopenable' in got) && (want.nonce !== got.nonce || JSON.stringify(want.selections) !== JSON.stringify(got.selections))) {
        return `ballot ${refs[j]!.eventId} decrypts to other choices than the ones published`;
      }
    }
  }
  for (let j = 0; j < refs.length; j++) {
    const ref = refs[j]!;
    const o = data.openings[j]!;
    if (o.eventId !== ref.eventId) return `opening ${j} of batch ${data.batch} is of ballot ${String(o.eventId)}, not ${ref.eventId}`;
    if ('unopenable' in o) continue;
    if (!openingMatches(ref.sealed, contextOf(data.pollId, ref), o)) return `the opening of ballot ${ref.eventId} does not match its commitment`;
    try {
      assertValidSelections(definition, o.selections);
    } catch (e) {
      return `the opened ballot ${ref.eventId} does not fit the poll: ${(e as Error).message}`;
    }
  }
  return undefined;
}

/**
 * The ballots a tally counts in a sealed poll: the counted sealed ballots with their opened choices
 * (unopenable ones are not counted). Throws when a batch has no opening yet.
 */
export function openedTallyBallots(counted: readonly SealedBallotRef[], openings: ReadonlyMap<number, OpeningData>): TallyBallot[] {
  const out: TallyBallot[] = [];
  for (let b = 0; b < batchCount(counted.length); b++) {
    const data = openings.get(b);
    if (!data) throw new SealedNotOpened(b);
    batchOf(counted, b).forEach((ref, j) => {
      const o = data.openings[j]!;
      if (!('unopenable' in o)) out.push({ voterTag: ref.voterTag, selections: o.selections as BallotSelections, castAt: ref.castAt });
    });
  }
  return out;
}

/** Fewer than THRESHOLD nodes gave shares that verify: the batch waits; `wrongNodes` gave wrong ones. */
export class NotEnoughShares extends RangeError {
  constructor(
    readonly good: number,
    readonly wrongNodes: number[],
  ) {
    super(`${good} nodes gave valid decryption shares, ${THRESHOLD} needed${wrongNodes.length ? `; wrong shares from node ${wrongNodes.join(', ')}` : ''}`);
  }
}

export class SealedNotOpened extends Error {
  readonly code = 'sealed.not-opened';
  constructor(batch: number) {
    super(`batch ${batch} of the sealed ballots is not opened yet`);
  }
}

/**
 * The auditors' check of a sealed poll's opening, from the poll's entries in log order (with their leaf
 * index) and the nodes' public key set: every counted ballot's commitment has exactly one opening
 * (each batch opened once, all batches present, in the counted order), and every batch re-done from
 * its shares (each node's proof checked, 3 combined, every ballot decrypted) gives exactly the published
 * choices, which match their commitments. Returns the problems (empty: sound) and a short summary.
 */
export function auditSealedOpening(
  definition: PollDefinition,
  entries: readonly { index: number; entry: LedgerEntry }[],
  keySet: PublicKeySet,
): { problems: string[]; summary: string } {
  const problems: string[] = [];
  const openings = entries.filter((e) => e.entry.kind === 'poll' && e.entry.eventType === OPENING_EVENT).map((e) => e.entry.data as OpeningData);
  if (openings.length === 0) return { problems: ['the log holds no opening of this sealed poll yet'], summary: '' };
  const size = openings[0]!.size;
  if (openings.some((o) => o.size !== size)) problems.push('the opening batches read the ballots at different log sizes');
  const counted = countedSealedBallots(definition, entries.filter((e) => e.index < size).map((e) => e.entry));
  const byBatch = new Map<number, OpeningData>();
  for (const o of openings) {
    if (byBatch.has(o.batch)) problems.push(`batch ${o.batch} is opened more than once`);
    byBatch.set(o.batch, o);
  }
  const batches = batchCount(counted.length);
  let unopenable = 0;
  for (let b = 0; b < batches; b++) {
    const data = byBatch.get(b);
    if (!data) {
      problems.push(`batch ${b} of ${batches} has no opening`);
      continue;
    }
    const problem = openingProblem(definition, keySet, countedInMemory(counted), data, true);
    if (problem) problems.push(`batch ${b}: ${problem}`);
    unopenable += data.openings.filter((o) => 'unopenable' in o).length;
  }
  for (const b of byBatch.keys()) if (b >= batches) problems.push(`batch ${b} opens ballots the poll does not have`);
  const later = entries.filter((e) => e.index >= size && e.entry.kind === 'ballot').length;
  if (later > 0) problems.push(`${later} ballot entries come after the log size the opening read at`);
  return {
    problems,
    summary: `${counted.length} sealed commitments, each opened once in ${batches} batches; every batch's decryption shares verify (key ${keySet.keyId}) and decrypt to the published choices${unopenable ? `; ${unopenable} ballots do not open and are not counted` : ''}`,
  };
}
