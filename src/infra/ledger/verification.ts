import type { Kysely } from 'kysely';
import type { RecordedEvent } from '../../app/eventStore.ts';
import type { EventIntegrity } from '../../app/eventIntegrity.ts';
import { ANCHORED_EVENT_TYPES, entryText, ledgerEntryOf } from '../../app/ledger/entries.ts';
import { compareLeaves, inRanges, movedBuckets, sameTally, sweepRanges, tallyVerification, type BucketRange } from '../../app/ledger/verification.ts';
import { tallyPoll } from '../../domain/tally.ts';
import { toHex, utf8 } from '../../ledger/bytes.ts';
import type { Coordinator } from '../../ledger/coordinator.ts';
import { hashLeaf } from '../../ledger/merkle.ts';
import { nodeEd25519, nodeSha256 } from '../../ledger/nodeCrypto.ts';
import type { Logger } from '../logger.ts';
import { currentBallotsFingerprint, getPoll, loadCurrentBallots } from '../readModels/polls.ts';
import { leafDigests, loadLeafHashesBy, loadLeafHashesFrom, loadLeafHashesInBuckets, publishedResultsToVerify, raiseAlert, setVerification, verificationRows, type StoredEntry } from './ledgerStore.ts';
import type { LeafRefusal } from '../../app/ledger/refusals.ts';
import type { Database } from '../db/schema.ts';

export interface LedgerVerifierDeps {
  db: Kysely<Database>;
  /** The stored events' integrity reads; null where stored events cannot be rewritten in place (no event side). */
  integrity: EventIntegrity | null;
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

  /** A leaf as the watch reads it; with its entry's length, the events of large entries are read a few at a time. */
  type Leaf = Pick<StoredEntry, 'leafIndex' | 'eventId' | 'pollId' | 'entryHash'> & { entryBytes?: number };

  // Bounded state: nothing per event or per leaf of the whole log is kept between passes. What the
  // watch keeps is one digest per bucket of BUCKET leaves and one per bucket of BUCKET log positions (two
  // short strings per 1,024 rows by default: about 2,000 of them at 1,000,000 events), the sweep cursors,
  // the version stamps of the events in the two newest event buckets (at most 2 x BUCKET), and the leaf
  // numbers whose row check waits for the anchoring service (bounded by its backlog). A pass reads the buckets whose digest moved (see
  // movedBuckets): the newest, where the vote appends, and a window of older ones (see sweepRanges), so
  // at 250,000 ballots it reads a few dozen digests and the rows the vote added, and an edit anywhere is
  // still seen within one sweep.
  const BUCKET = deps.bucketSize;
  /** Leaves compared per round trip (their events read by id, re-derived, compared, then dropped). */
  const CHUNK = 1000;
  /**
   * And at most this many bytes of entry text per round trip (at least one leaf): a ballot's entry is
   * about 1 KB, a sealed poll's opening entry about 200 KB, and a bucket of those (the newest bucket,
   * re-read each pass while an opening appends) read at once held hundreds of MB of rows and their texts.
   */
  const CHUNK_BYTES = 4 * 2 ** 20;
  /** The next round trip's leaves from `from`: up to CHUNK of them and CHUNK_BYTES of entry text. */
  const chunkEnd = (leaves: readonly Leaf[], from: number): number => {
    let end = from;
    for (let bytes = 0; end < leaves.length && end - from < CHUNK; end++) {
      bytes += leaves[end]!.entryBytes ?? 0;
      if (bytes > CHUNK_BYTES && end > from) break;
    }
    return end;
  };
  /** The highest bucket a digest map holds (null: none yet). */
  const newestBucket = (digests: ReadonlyMap<number, string>): number | null => {
    let newest: number | null = null;
    for (const bucket of digests.keys()) if (newest === null || bucket > newest) newest = bucket;
    return newest;
  };
  const eventDigests = new Map<number, string>();
  const leafDigestsSeen = new Map<number, string>();
  const cursors = { events: 0, leaves: 0 };
  /** Leaf numbers whose stored row still has to be compared with what was handed to the nodes. */
  let rowChecksDue: number[] = [];
  /**
   * Leaf buckets [next, end) not yet compared with their events since the watch (re)started: a first pass
   * digests every bucket but reads only the two newest; the older ones are read a sweep window a pass,
   * their digests watched meanwhile (a bucket whose digest moves first is read at once, as any moved one).
   */
  let unread: { next: number; end: number } | null = null;

  /**
   * Digests this pass's buckets for one side, records them in `seen` and returns the buckets that moved
   * since it last looked with the digest each had before (the caller re-reads those; a failed pass
   * forgets `seen` altogether).
   */
  const sweep = async (
    side: keyof typeof cursors,
    seen: Map<number, string>,
    digestsIn: (range: BucketRange) => Promise<Map<number, string>>,
  ): Promise<Array<{ bucket: number; before: string | undefined; after: string | undefined }>> => {
    const { ranges, nextCursor } = sweepRanges(newestBucket(seen), cursors[side], deps.sweepWindow);
    const digests = new Map<number, string>();
    for (const range of ranges) for (const [bucket, digest] of await digestsIn(range)) digests.set(bucket, digest);
    cursors[side] = nextCursor;
    const moved = movedBuckets(new Map([...seen].filter(([bucket]) => inRanges(bucket, ranges))), digests);
    return moved.map((bucket) => {
      const before = seen.get(bucket);
      const after = digests.get(bucket);
      if (after === undefined) seen.delete(bucket);
      else seen.set(bucket, after);
      return { bucket, before, after };
    });
  };

  /**
   * Leaves of the two newest leaf buckets that matched their events, with the event's version stamp
   * read before that comparison (at most 2 x BUCKET of them). The newest bucket moves with every pass
   * that saw new leaves and is then read whole again: a leaf found here with the same row and its event
   * with the same version (rewriting or removing the event changes or drops it) is not read and
   * re-derived again. Without this, each pass of a sealed poll's opening re-read every opening entry
   * of the bucket so far (about 200 KB each): at 250,000 ballots, GBs of event data over the opening.
   */
  const matchedRecent = new Map<number, string>();
  const matchKey = (leaf: Leaf, version: string) => `${leaf.eventId}:${leaf.entryHash}:${version}`;

  /**
   * Compares leaves with their events as stored now, CHUNK at a time; returns how many alerts are new.
   * Leaves in buckets from `recentFrom` on are looked up in matchedRecent first (see there).
   */
  const compareWithEvents = async (all: readonly Leaf[], recentFrom = Number.POSITIVE_INFINITY): Promise<number> => {
    const integrity = deps.integrity;
    // Without the port (EventStoreDB) stored events are not read back: only the row checks run.
    if (!integrity) return 0;
    const isRecent = (leaf: Leaf) => Math.floor(leaf.leafIndex / BUCKET) >= recentFrom;
    const recent = all.filter(isRecent);
    // Read before the events are: an event rewritten after this read is compared again next pass.
    const versions = recent.length > 0 ? await integrity.versionsById(recent.map((l) => l.eventId)) : new Map<string, string>();
    const leaves = all.filter((l) => {
      const version = versions.get(l.eventId);
      return !isRecent(l) || version === undefined || matchedRecent.get(l.leafIndex) !== matchKey(l, version);
    });
    let found = 0;
    for (let i = 0, end = 0; i < leaves.length; i = end) {
      end = chunkEnd(leaves, i);
      const chunk = leaves.slice(i, end);
      const hashes = new Map<string, string | null>();
      for (const event of await integrity.eventsById(chunk.map((l) => l.eventId))) hashes.set(event.id, leafHashOf(event));
      const mismatches = compareLeaves(chunk, hashes);
      const mismatched = new Set(mismatches.map((m) => m.leafIndex));
      for (const leaf of chunk) {
        const version = versions.get(leaf.eventId);
        if (isRecent(leaf) && version !== undefined && !mismatched.has(leaf.leafIndex)) matchedRecent.set(leaf.leafIndex, matchKey(leaf, version));
      }
      for (const m of mismatches) {
        const what = m.kind === 'event-edited' ? 'was changed after it was anchored' : 'is missing from the event store';
        if (await fail({ kind: m.kind, pollId: m.pollId, leafIndex: m.leafIndex, eventId: m.eventId, message: `the event of leaf ${m.leafIndex} (event ${m.eventId}) ${what}` })) found++;
      }
    }
    return found;
  };

  /** Every stored leaf against its event, in keyset pages: only after a stored event was rewritten or removed. */
  const compareAllLeaves = async (): Promise<number> => {
    let found = 0;
    for (let from = 0; ; ) {
      const page = await loadLeafHashesFrom(db, from, 10 * CHUNK);
      if (page.length === 0) return found;
      found += await compareWithEvents(page);
      from = page[page.length - 1]!.leafIndex + 1;
    }
  };

  /**
   * The event side. The app only appends events, to the newest buckets of log positions (the newest, and
   * the one before it while late transactions commit there). For those two buckets the watch keeps each
   * anchored event's version stamp (at most 2 x BUCKET ids), so a rewrite or removal there is found even
   * in a pass that also saw new ballots: the changed events' leaves are compared. A moved digest in any
   * older bucket means stored events were rewritten, removed or retyped: then every leaf is compared with
   * its event (keyset pages, flat memory; only on tampering, never in a normal pass). Without an
   * integrity port (EventStoreDB, whose stored events cannot be rewritten in place) there is no event side.
   */
  const recentVersions = new Map<string, { version: string; bucket: number }>();
  /**
   * The oldest bucket recentVersions covers: the previous pass's two newest. When the log grew by more
   * than a bucket between passes (a loaded machine, a pass spaced out by its own cost), the bucket that
   * was newest then has since been filled and is no longer one of the two newest: its digest moved by
   * appends, which its known versions tell apart from rewrites, not a reason to compare every leaf.
   */
  let versionsFrom: number | null = null;
  const watchEvents = async (): Promise<number> => {
    const integrity = deps.integrity;
    if (!integrity) return 0;
    const moved = await sweep('events', eventDigests, (range) => integrity.versionDigests(ANCHORED_EVENT_TYPES, BUCKET, range));
    const recentFrom = (newestBucket(eventDigests) ?? -1) - 1;
    const knownFrom = Math.min(recentFrom, versionsFrom ?? recentFrom);
    versionsFrom = recentFrom;
    // Ids of buckets older than the two newest leave the map once this pass has used them.
    const prune = () => {
      for (const [id, v] of recentVersions) if (v.bucket < recentFrom) recentVersions.delete(id);
    };
    if (moved.some(({ bucket, before }) => before !== undefined && bucket < knownFrom)) {
      prune();
      return compareAllLeaves();
    }
    const movedRecent = moved.filter(({ bucket }) => bucket >= knownFrom).map(({ bucket }) => bucket);
    const suspects: string[] = [];
    if (movedRecent.length === 0) {
      prune();
      return 0;
    }
    const rows = await integrity.versionsInBuckets(ANCHORED_EVENT_TYPES, BUCKET, movedRecent);
    const present = new Set<string>();
    for (const row of rows) {
      present.add(row.id);
      const known = recentVersions.get(row.id);
      if (known && known.version !== row.version) suspects.push(row.id);
      recentVersions.set(row.id, { version: row.version, bucket: row.bucket });
    }
    for (const [id, v] of recentVersions) {
      if (movedRecent.includes(v.bucket) && !present.has(id)) {
        suspects.push(id);
        recentVersions.delete(id);
      }
    }
    prune();
    if (suspects.length === 0) return 0;
    return compareWithEvents(await loadLeafHashesBy(db, 'event_id', suspects));
  };

  /** Per verified poll, the fingerprint of its read-model ballots when they last added up to the result. */
  const talliedBallots = new Map<string, string>();

  /** Forgets what the watch saw: the next pass reads and compares everything again. */
  const forgetWatchState = (): void => {
    matchedRecent.clear();
    eventDigests.clear();
    leafDigestsSeen.clear();
    rowChecksDue = [];
    unread = null;
    cursors.events = cursors.leaves = 0;
    recentVersions.clear();
    versionsFrom = null;
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

  /**
   * Stored rows against the anchoring service's own copy. While leaves are renumbered (a refused leaf
   * taken out) the two disagree for a moment: those checks wait a pass, as do leaves not handed yet.
   * Leaves the anchoring service no longer holds are compared with the nodes' copies, except on the
   * watch's first look at a bucket it checked at start-up (its stored hashes rebuilt the signed root).
   */
  const checkRows = async (leaves: readonly Leaf[], layout: number, firstLook: ReadonlySet<number>): Promise<number> => {
    let found = 0;
    const fromNodes: Leaf[] = [];
    const rowEdited = async (leaf: Leaf): Promise<void> => {
      const message = `the stored copy of leaf ${leaf.leafIndex} (event ${leaf.eventId}) differs from what was sent to the ledger`;
      if (await fail({ kind: 'ledger-row-edited', pollId: leaf.pollId, leafIndex: leaf.leafIndex, eventId: leaf.eventId, message })) found++;
    };
    for (const leaf of leaves) {
      const handed = deps.handedLeafHash(leaf.leafIndex);
      if (deps.renumberings() !== layout) rowChecksDue.push(leaf.leafIndex);
      else if (handed !== undefined) {
        if (handed !== leaf.entryHash) await rowEdited(leaf);
      } else if (leaf.leafIndex < deps.checkedAtStart() && firstLook.has(Math.floor(leaf.leafIndex / BUCKET))) {
        // checked at start-up
      } else if (leaf.leafIndex < deps.finalSize()) fromNodes.push(leaf);
      else rowChecksDue.push(leaf.leafIndex); // not handed yet
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
        if (text === undefined) rowChecksDue.push(leaf.leafIndex);
        else if (toHex(hashLeaf(nodeSha256, utf8(text))) !== leaf.entryHash) await rowEdited(leaf);
      }
      i = j;
    }
    return found;
  };

  const watchPass = async (): Promise<number> => {
    let found = 0;
    const layout = deps.renumberings();
    // The leaf side: moved leaf buckets are re-read a few at a time, each leaf compared with its event as
    // stored now and its row with what was handed to the nodes; nothing of them is kept.
    const seenBefore = new Set(leafDigestsSeen.keys());
    const swept = (await sweep('leaves', leafDigestsSeen, (range) => leafDigests(db, BUCKET, range))).map((m) => m.bucket);
    const recentFrom = (newestBucket(leafDigestsSeen) ?? -1) - 1;
    // A first pass (after a start, or after a pass that failed) finds every bucket new. Reading them all
    // at once made the first pass after a restart re-read the whole history (about 50 s of PostgreSQL
    // at 1,000,000 events, with voters waiting): it reads the two newest now and leaves the rest to
    // `unread`. Their rows were checked at start-up (the stored hashes rebuilt the signed root) and their
    // digests are watched from this pass on, so what the wait defers is only the comparison with events.
    if (seenBefore.size === 0) unread = recentFrom > 0 ? { next: 0, end: recentFrom } : null;
    const moved = seenBefore.size === 0 ? swept.filter((b) => b >= recentFrom) : swept;
    const pending: number[] = [];
    if (unread) {
      const to = Math.min(unread.end, unread.next + Math.max(1, deps.sweepWindow));
      for (let b = unread.next; b < to; b++) if (!moved.includes(b) && leafDigestsSeen.has(b)) pending.push(b);
      unread = to >= unread.end ? null : { next: to, end: unread.end };
    }
    const firstLook = new Set([...moved.filter((b) => !seenBefore.has(b)), ...pending]);
    const toRead = [...moved, ...pending];
    for (const index of matchedRecent.keys()) if (Math.floor(index / BUCKET) < recentFrom) matchedRecent.delete(index);
    const due = rowChecksDue;
    rowChecksDue = [];
    const perRead = Math.max(1, Math.floor((10 * CHUNK) / BUCKET));
    for (let i = 0; i < toRead.length; i += perRead) {
      const leaves = await loadLeafHashesInBuckets(db, BUCKET, toRead.slice(i, i + perRead));
      found += await compareWithEvents(leaves, recentFrom);
      found += await checkRows(leaves, layout, firstLook);
    }
    // Row checks that waited (not handed yet, or a renumbering): the rows as stored now, unless their
    // bucket was read above.
    const waited = due.filter((index) => !toRead.includes(Math.floor(index / BUCKET)));
    for (let i = 0; i < waited.length; i += CHUNK) found += await checkRows(await loadLeafHashesBy(db, 'leaf_index', waited.slice(i, i + CHUNK)), layout, firstLook);
    found += await watchEvents();
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
