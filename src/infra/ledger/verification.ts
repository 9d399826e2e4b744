import type { Kysely } from 'kysely';
import type { EventStore, RecordedEvent } from '../../app/eventStore.ts';
import { readAllCommitted } from '../../app/readAllCommitted.ts';
import { ANCHORED_EVENT_TYPES, entryText, ledgerEntryOf } from '../../app/ledger/entries.ts';
import { compareLeaves, inRanges, movedBuckets, sameTally, sweepRanges, tallyVerification, type BucketRange } from '../../app/ledger/verification.ts';
import { tallyPoll } from '../../domain/tally.ts';
import { toHex, utf8 } from '../../ledger/bytes.ts';
import type { Coordinator } from '../../ledger/coordinator.ts';
import { hashLeaf } from '../../ledger/merkle.ts';
import { nodeEd25519, nodeSha256 } from '../../ledger/nodeCrypto.ts';
import type { Logger } from '../logger.ts';
import { currentBallotsFingerprint, getPoll, loadCurrentBallots } from '../readModels/polls.ts';
import { leafDigests, loadLeafHashesInBuckets, publishedResultsToVerify, raiseAlert, setVerification, verificationRows, type StoredEntry } from './ledgerStore.ts';
import type { LeafRefusal } from '../../app/ledger/refusals.ts';
import type { Database } from '../db/schema.ts';

export interface LedgerVerifierDeps {
  db: Kysely<Database>;
  eventStore: EventStore;
  coordinator: Pick<Coordinator, 'requestTallies'>;
  logger: Logger;
  origin: string;
  quorum: number;
  /** The nodes' verifier keys (pinned or learnt once from their /v1/info). */
  verifierKeys: () => Promise<readonly string[]>;
  /** The leaf hash the app handed the nodes at an index, while the anchoring service still holds it (recent leaves). */
  handedLeafHash: (index: number) => string | undefined;
  /** Leaves below this were checked against the final root when the anchoring service started. */
  checkedAtStart: () => number;
  /** Size of the last final checkpoint: the nodes hold every leaf below it. */
  finalSize: () => number;
  /** Entry texts [from, to) as the nodes hold them (the anchored truth for leaves the app no longer holds). */
  anchoredEntries: (from: number, to: number) => Promise<string[]>;
  /** Changes when leaves were renumbered (a refused leaf taken out): the row check then waits a pass. */
  renumberings: () => number;
  /** Log positions and leaves per digest bucket (TAMPER_WATCH_BUCKET). */
  bucketSize: number;
  /** Older buckets each pass sweeps, besides the newest (TAMPER_WATCH_WINDOW). */
  sweepWindow: number;
}

export interface LedgerVerifier {
  /**
   * Asks the nodes to tally every poll whose published result is anchored below `size` and not yet
   * verified, at the size that ends with that result.
   */
  verifyTallies(size: number): Promise<void>;
  /** One tamper-watch pass; returns how many new problems it found. */
  tamperCheck(): Promise<number>;
  /** Records a leaf every node refused (and the anchoring service took out): the poll fails. */
  entryRefused(leaf: StoredEntry, refusal: LeafRefusal): Promise<void>;
}

/**
 * Tallies by the nodes and the tamper watch. Any problem turns the poll's badge to `failed` (sticky),
 * stores an alert for the admin ledger page and logs it once, naming the leaf and event, never a person.
 */
export const createLedgerVerifier = (deps: LedgerVerifierDeps): LedgerVerifier => {
  const { db, logger } = deps;

  const fail = async (alert: { kind: string; pollId: string; leafIndex?: number; eventId?: string; message: string }): Promise<boolean> => {
    const key = `${alert.kind}:${alert.pollId}:${alert.leafIndex ?? ''}`;
    // One transaction: whoever sees the badge turn `failed` also finds the alert that says why.
    const fresh = await db.transaction().execute(async (trx) => {
      const raised = await raiseAlert(trx, { key, ...alert });
      await setVerification(trx, alert.pollId, 'failed', alert.message);
      return raised;
    });
    if (fresh) logger.error({ alert: alert.kind, pollId: alert.pollId, leafIndex: alert.leafIndex, eventId: alert.eventId }, `LEDGER ALERT: ${alert.message}`);
    return fresh;
  };

  /** Leaves below this were looked at for new published results (pending polls are looked up apart). */
  let tallyScanFrom = 0;
  let tallyLayout = deps.renumberings();
  const verifyTallies = async (size: number): Promise<void> => {
    // A leaf renumbering (a refused leaf taken out) moves results down: look from the start again.
    if (deps.renumberings() !== tallyLayout) [tallyScanFrom, tallyLayout] = [0, deps.renumberings()];
    const rows = await publishedResultsToVerify(db, Math.min(tallyScanFrom, size), size);
    tallyScanFrom = Math.max(tallyScanFrom, size);
    if (rows.length === 0) return;
    const verifierKeys = await deps.verifierKeys();
    for (const row of rows) {
      const published = (JSON.parse(row.entryText) as { data: { result: unknown } }).data.result;
      // Every entry that counts is before the published result, so this size gives every node the same
      // question however far the log has grown since, and a node that stopped signing later can still answer.
      const tallySize = row.leafIndex + 1;
      const answers = await deps.coordinator.requestTallies(row.pollId, tallySize);
      const v = tallyVerification(nodeSha256, nodeEd25519, answers, published, { verifierKeys, quorum: deps.quorum, origin: deps.origin, pollId: row.pollId });
      if (v.status === 'failed') await fail({ kind: 'tally-conflict', pollId: row.pollId, message: `ledger nodes signed a result different from the published one: ${v.detail}` });
      // Stored as pending too (not left without a row), so the pending look-up finds it next time.
      else await setVerification(db, row.pollId, v.status, v.detail, v.status === 'completed' ? { tally: published, size: tallySize } : undefined);
    }
  };

  const leafHashOf = (event: RecordedEvent): string | null => {
    const entry = ledgerEntryOf(event);
    return entry ? toHex(hashLeaf(nodeSha256, utf8(entryText(entry)))) : null;
  };

  type Leaf = Pick<StoredEntry, 'leafIndex' | 'eventId' | 'pollId' | 'entryHash'>;

  // What the watch saw last, so a pass re-reads only buckets whose digest moved (see movedBuckets), and
  // digests only the newest buckets and a window of older ones (see sweepRanges): at 250,000 ballots a
  // pass reads a few dozen digests and the buckets the vote is appending to, instead of every leaf and
  // every event's version, and an edit anywhere is still seen within one sweep.
  const BUCKET = deps.bucketSize;
  /** Leaf hash re-derived from each anchored event as stored now, with the row version it came from. */
  const derived = new Map<string, { version: string; hash: string | null }>();
  const eventDigests = new Map<number, string>();
  const eventIdsByBucket = new Map<number, Set<string>>();
  const leafDigestsSeen = new Map<number, string>();
  const cursors = { events: 0, leaves: 0 };

  /**
   * Digests this pass's buckets for one side, records them in `seen` and returns the buckets that moved
   * since it last looked (the caller re-reads those; a failed pass forgets `seen` altogether).
   */
  const sweep = async (side: keyof typeof cursors, seen: Map<number, string>, digestsIn: (range: BucketRange) => Promise<Map<number, string>>): Promise<number[]> => {
    let highest: number | null = null;
    for (const bucket of seen.keys()) if (highest === null || bucket > highest) highest = bucket;
    const { ranges, nextCursor } = sweepRanges(highest, cursors[side], deps.sweepWindow);
    const digests = new Map<number, string>();
    for (const range of ranges) for (const [bucket, digest] of await digestsIn(range)) digests.set(bucket, digest);
    cursors[side] = nextCursor;
    const moved = movedBuckets(new Map([...seen].filter(([bucket]) => inRanges(bucket, ranges))), digests);
    for (const bucket of moved) {
      const digest = digests.get(bucket);
      if (digest === undefined) seen.delete(bucket);
      else seen.set(bucket, digest);
    }
    return moved;
  };
  const leavesByBucket = new Map<number, Leaf[]>();
  const leafByEvent = new Map<string, Leaf>();
  /** Leaves whose stored row still has to be compared with what the anchoring service handed the nodes. */
  let rowChecksDue: Leaf[] = [];

  /** Leaf buckets this watch had never digested before the current pass (see checkedAtStart). */
  let firstLook = new Set<number>();

  /** Reloads moved leaf buckets; returns the leaves that are new or changed. */
  const refreshLeaves = async (): Promise<Leaf[]> => {
    const before = new Set(leafDigestsSeen.keys());
    const moved = await sweep('leaves', leafDigestsSeen, (range) => leafDigests(db, BUCKET, range));
    firstLook = new Set(moved.filter((b) => !before.has(b)));
    const loaded = await loadLeafHashesInBuckets(db, BUCKET, moved);
    for (const bucket of moved) {
      for (const leaf of leavesByBucket.get(bucket) ?? []) if (leafByEvent.get(leaf.eventId) === leaf) leafByEvent.delete(leaf.eventId);
      leavesByBucket.delete(bucket);
    }
    for (const leaf of loaded) {
      const bucket = Math.floor(leaf.leafIndex / BUCKET);
      const inBucket = leavesByBucket.get(bucket);
      if (inBucket) inBucket.push(leaf);
      else leavesByBucket.set(bucket, [leaf]);
      leafByEvent.set(leaf.eventId, leaf);
    }
    return loaded;
  };

  /**
   * Re-derives leaf hashes for anchored events that are new, rewritten or gone, and returns their ids.
   * Where the event store cannot digest its rows (EventStoreDB), every event is read and hashed again.
   */
  const refreshEvents = async (): Promise<Iterable<string>> => {
    const { eventVersionDigests, eventVersionsInBuckets, readEventsById } = deps.eventStore;
    if (!eventVersionDigests || !eventVersionsInBuckets || !readEventsById) {
      derived.clear();
      await readAllCommitted(deps.eventStore, (batch) => {
        for (const event of batch) derived.set(event.id, { version: '', hash: leafHashOf(event) });
      });
      return leafByEvent.keys();
    }
    // Only events of anchored types can match a leaf (citizens, phone claims and comments are most of the
    // log in a big vote). An anchored event whose type was rewritten drops out here and is then reported
    // as missing, which it is: its leaf has no event any more.
    const moved = await sweep('events', eventDigests, (range) => eventVersionDigests(ANCHORED_EVENT_TYPES, BUCKET, range));
    const rows = await eventVersionsInBuckets(ANCHORED_EVENT_TYPES, BUCKET, moved);
    const touched = new Set<string>();
    const present = new Map<number, Set<string>>(moved.map((b) => [b, new Set<string>()]));
    const stale: string[] = [];
    for (const row of rows) {
      present.get(row.bucket)!.add(row.id);
      if (derived.get(row.id)?.version !== row.version) stale.push(row.id);
    }
    for (const bucket of moved) {
      for (const id of eventIdsByBucket.get(bucket) ?? []) if (!present.get(bucket)!.has(id)) (derived.delete(id), touched.add(id));
      const ids = present.get(bucket)!;
      if (ids.size > 0) eventIdsByBucket.set(bucket, ids);
      else eventIdsByBucket.delete(bucket);
    }
    const versionOf = new Map(rows.map((r) => [r.id, r.version]));
    for (let i = 0; i < stale.length; i += 1000) {
      for (const event of await readEventsById(stale.slice(i, i + 1000))) {
        derived.set(event.id, { version: versionOf.get(event.id)!, hash: leafHashOf(event) });
        touched.add(event.id);
      }
    }
    // A row listed above but gone by the time it was read is missing; the next pass sees its bucket move.
    for (const id of stale) if (!touched.has(id)) (derived.delete(id), touched.add(id));
    return touched;
  };

  /** Per verified poll, the fingerprint of its read-model ballots when they last added up to the result. */
  const talliedBallots = new Map<string, string>();

  /** Forgets what the watch saw: the next pass reads and compares everything again. */
  const forgetWatchState = (): void => {
    for (const seen of [derived, eventDigests, eventIdsByBucket, leafDigestsSeen, leavesByBucket, leafByEvent]) seen.clear();
    rowChecksDue = [];
    cursors.events = cursors.leaves = 0;
  };

  // A pass that stops half-way (the database went away, an alert could not be stored) has already moved
  // its digests on: without a fresh start the next pass would not look at what this one left unreported.
  const tamperCheck = async (): Promise<number> => {
    try {
      return await watchPass();
    } catch (error) {
      forgetWatchState();
      throw error;
    }
  };

  const watchPass = async (): Promise<number> => {
    let found = 0;
    const layout = deps.renumberings();
    const changedLeaves = await refreshLeaves();
    const touchedEvents = await refreshEvents();
    // Compare what moved on either side: a changed leaf with its event, a changed event with its leaf.
    const toCompare = new Map<number, Leaf>(changedLeaves.map((leaf) => [leaf.leafIndex, leaf]));
    for (const id of touchedEvents) {
      const leaf = leafByEvent.get(id);
      if (leaf) toCompare.set(leaf.leafIndex, leaf);
    }
    const hashes = new Map([...toCompare.values()].map((leaf) => [leaf.eventId, derived.get(leaf.eventId)?.hash ?? null]));
    for (const m of compareLeaves([...toCompare.values()], hashes)) {
      const what = m.kind === 'event-edited' ? 'was changed after it was anchored' : 'is missing from the event store';
      if (await fail({ kind: m.kind, pollId: m.pollId, leafIndex: m.leafIndex, eventId: m.eventId, message: `the event of leaf ${m.leafIndex} (event ${m.eventId}) ${what}` })) found++;
    }
    // Stored rows against the anchoring service's own copy. While leaves are renumbered (a refused leaf
    // taken out) the two disagree for a moment: those checks wait a pass, as do leaves not handed yet.
    // A leaf kept from an earlier pass counts only if it is still the stored row for its event.
    // Leaves the anchoring service no longer holds are compared with the nodes' copies, except on the
    // watch's first look at a bucket it checked at start-up (its stored hashes rebuilt the signed root).
    const due = [...rowChecksDue.filter((leaf) => leafByEvent.get(leaf.eventId) === leaf), ...changedLeaves];
    rowChecksDue = [];
    const fromNodes: Leaf[] = [];
    const rowEdited = async (leaf: Leaf): Promise<void> => {
      const message = `the stored copy of leaf ${leaf.leafIndex} (event ${leaf.eventId}) differs from what was sent to the ledger`;
      if (await fail({ kind: 'ledger-row-edited', pollId: leaf.pollId, leafIndex: leaf.leafIndex, eventId: leaf.eventId, message })) found++;
    };
    for (const leaf of due) {
      const handed = deps.handedLeafHash(leaf.leafIndex);
      if (deps.renumberings() !== layout) {
        if (leafByEvent.get(leaf.eventId) === leaf) rowChecksDue.push(leaf);
      } else if (handed !== undefined) {
        if (handed !== leaf.entryHash) await rowEdited(leaf);
      } else if (leaf.leafIndex < deps.checkedAtStart() && firstLook.has(Math.floor(leaf.leafIndex / BUCKET))) {
        // checked at start-up
      } else if (leaf.leafIndex < deps.finalSize()) fromNodes.push(leaf);
      else if (leafByEvent.get(leaf.eventId) === leaf) rowChecksDue.push(leaf); // not handed yet
    }
    fromNodes.sort((a, b) => a.leafIndex - b.leafIndex);
    for (let i = 0; i < fromNodes.length; ) {
      // One request per run of leaves in one bucket (a moved bucket is read whole).
      let j = i + 1;
      while (j < fromNodes.length && Math.floor(fromNodes[j]!.leafIndex / BUCKET) === Math.floor(fromNodes[i]!.leafIndex / BUCKET)) j++;
      const from = fromNodes[i]!.leafIndex;
      const texts = await deps.anchoredEntries(from, fromNodes[j - 1]!.leafIndex + 1);
      for (const leaf of fromNodes.slice(i, j)) {
        const text = texts[leaf.leafIndex - from];
        if (text === undefined) rowChecksDue.push(leaf);
        else if (toHex(hashLeaf(nodeSha256, utf8(text))) !== leaf.entryHash) await rowEdited(leaf);
      }
      i = j;
    }
    for (const v of await verificationRows(db, 'completed')) {
      const poll = await getPoll(db, v.pollId);
      // The nodes can verify a result before the projection runner has written it to the read model:
      // an absent result is lag, not tampering; the next pass compares it.
      if (!poll?.result) continue;
      // A sealed poll's read model holds no choices to re-add: its counted choices are in the opening
      // entries on the ledger, which the nodes tallied and the leaf checks above watch.
      if (poll.definition.settings.resultsVisibility === 'sealed') {
        if (!sameTally(poll.result, v.tally) && (await fail({ kind: 'read-model-tally', pollId: v.pollId, message: `poll ${v.pollId}: the read model shows a result different from the one the ledger nodes verified` }))) found++;
        continue;
      }
      // Re-tallying a big poll every pass would load all its ballots forever after the vote: do it again
      // only when its rows changed since they last added up (the fingerprint is computed in the database).
      const fingerprint = await currentBallotsFingerprint(db, v.pollId);
      const problem = !sameTally(poll.result, v.tally)
          ? 'the read model shows a result different from the one the ledger nodes verified'
          : talliedBallots.get(v.pollId) !== fingerprint && !sameTally(tallyPoll(poll.definition, await loadCurrentBallots(db, v.pollId)), v.tally)
            ? 'the ballots in the read model no longer add up to the verified result'
            : null;
      if (!problem) talliedBallots.set(v.pollId, fingerprint);
      else if (await fail({ kind: 'read-model-tally', pollId: v.pollId, message: `poll ${v.pollId}: ${problem}` })) found++;
    }
    return found;
  };

  const entryRefused = async (leaf: StoredEntry, refusal: LeafRefusal): Promise<void> => {
    const message = `the ledger nodes refused event ${leaf.eventId} (${leaf.eventType}, was leaf ${leaf.leafIndex}): ${refusal.code}: ${refusal.reason}; it was taken out of the log`;
    await fail({ kind: 'entry-refused', pollId: leaf.pollId, leafIndex: leaf.leafIndex, eventId: leaf.eventId, message });
  };

  return { verifyTallies, tamperCheck, entryRefused };
};
