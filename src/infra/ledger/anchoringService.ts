import type { Kysely } from 'kysely';
import { hasReached, type EventStore, type RecordedEvent, type Subscription } from '../../app/eventStore.ts';
import { entryText, ledgerEntryOf, trackerOfEntry } from '../../app/ledger/entries.ts';
import { refusedLeaf, type LeafRefusal } from '../../app/ledger/refusals.ts';
import { toHex, utf8 } from '../../ledger/bytes.ts';
import type { AnchorResult, Coordinator, CoordinatorOptions } from '../../ledger/coordinator.ts';
import { hashLeaf, MerkleTree } from '../../ledger/merkle.ts';
import { nodeSha256 } from '../../ledger/nodeCrypto.ts';
import type { Logger } from '../logger.ts';
import { appendEntries, dropLeaf, lastFinalCheckpoint, loadEntries, readAnchorCheckpoint, recordFinal, type StoredEntry } from './ledgerStore.ts';

const h = nodeSha256;

export interface AnchoringDeps {
  db: Kysely<any>;
  eventStore: EventStore;
  /** Builds the coordinator, restored with what was already anchored. */
  createCoordinator: (anchored: NonNullable<CoordinatorOptions['anchored']>) => Coordinator;
  logger: Logger;
  /** ms between anchoring rounds (ANCHOR_INTERVAL_MS). */
  intervalMs: number;
  /** A round starts early once this many entries wait. */
  batchEntries?: number;
  /** Policy polls refuse ballots after no quorum could sign for this long (POLICY_QUORUM_GRACE_MS). */
  policyGraceMs: number;
  /** Called after each round that made new entries final (tallies are requested from here). */
  onFinal?: (size: number) => Promise<void>;
  /** Called with a leaf every node refused, after it was taken out of the log (alert, poll failed). */
  onRefused?: (leaf: StoredEntry, refusal: LeafRefusal) => Promise<void>;
  now?: () => number;
}

export interface AnchoringStatus {
  /** `active`: this instance holds the anchoring lease; `standby`: another one does (or none yet). */
  role: 'active' | 'standby';
  /** Leaves the app holds (anchored or waiting). */
  size: number;
  /** Size of the last final checkpoint. */
  finalSize: number;
  pendingEntries: number;
  /** Event commit to final checkpoint, ms, for the oldest entry of the last round that finalised. */
  lastLagMs: number | null;
  lastFinalAt: Date | null;
  /** Since when no quorum could sign (null: fine). */
  quorumLostSince: Date | null;
  /** Why nodes did not sign in the last pending round, by node URL. */
  pendingReasons: Record<string, string>;
}

export interface Anchoring {
  readonly caughtUp: Promise<void>;
  readonly coordinator: Coordinator;
  status(): AnchoringStatus;
  /** False while no quorum could sign for longer than the policy grace period. */
  acceptsPolicyBallots(): boolean;
  /** The leaf hash (hex) the app handed the nodes at `index`. */
  leafHash(index: number): string | undefined;
  /** Goes up each time a refused leaf is taken out (leaf numbers after it change). */
  renumberings(): number;
  /** RFC 9162 inclusion proof of leaf `index` in the tree of `size` leaves. */
  inclusionProof(index: number, size: number): Uint8Array[];
  /** Runs one anchoring round now. */
  anchorNow(): Promise<void>;
  /**
   * Resolves when every event committed before the call is a leaf with a final checkpoint. Rejects
   * after `timeoutMs` (the ledger has no quorum, for example).
   */
  settled(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The anchoring service: one catch-up subscription over all events (resuming from its own checkpoint,
 * like the projection runner), every anchored event stored as a leaf in the same transaction as that
 * checkpoint, and a round every `intervalMs` (or `batchEntries` entries) that asks the coordinator to
 * make the waiting leaves final. Leaves are numbered once, in the store, so a restart neither skips nor
 * repeats one: the coordinator is rebuilt from the stored leaves and the last final note.
 */
export const startAnchoring = async (deps: AnchoringDeps): Promise<Anchoring> => {
  const now = deps.now ?? Date.now;
  let tree = new MerkleTree(h);
  let leafHashes: string[] = [];
  let committedAt: Date[] = [];
  let coordinator: Coordinator;
  /** Texts of leaves the coordinator has not been given yet, from `handedOver` on. */
  let waiting: string[] = [];
  let handedOver = 0;
  const pushLeaf = (e: Pick<StoredEntry, 'entryHash' | 'committedAt'>) => {
    tree.append(Buffer.from(e.entryHash, 'hex'));
    leafHashes.push(e.entryHash);
    committedAt.push(e.committedAt);
  };
  /** (Re)builds the in-memory tree and the coordinator from the stored leaves and the last final note. */
  const restore = async () => {
    const stored = await loadEntries(deps.db);
    const final = await lastFinalCheckpoint(deps.db);
    const finalSize = final?.size ?? 0;
    coordinator = deps.createCoordinator({ entries: stored.filter((e) => e.leafIndex < finalSize).map((e) => e.entryText), note: final?.note ?? null });
    [tree, leafHashes, committedAt] = [new MerkleTree(h), [], []];
    stored.forEach(pushLeaf);
    waiting = stored.filter((e) => e.leafIndex >= finalSize).map((e) => e.entryText);
    handedOver = finalSize;
    return { size: stored.length, final };
  };
  const { size: storedSize, final } = await restore();
  let renumbered = 0;
  const finalSize = final?.size ?? 0;
  let lastCheckpoint = await readAnchorCheckpoint(deps.db);
  // Storing new leaves and taking a refused one out both renumber: one at a time.
  let exclusive: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = exclusive.then(fn, fn);
    exclusive = run.catch(() => undefined);
    return run;
  };

  const status: AnchoringStatus = {
    role: 'active',
    size: storedSize,
    finalSize,
    pendingEntries: storedSize - finalSize,
    lastLagMs: null,
    lastFinalAt: final?.finalizedAt ?? null,
    quorumLostSince: null,
    pendingReasons: {},
  };

  let round: Promise<void> | null = null;
  const anchorNow = (): Promise<void> => {
    // A round that fails on the database (recording the final checkpoint) is retried by the next one;
    // callers fire and forget, so a rejection here would end the process.
    round ??= runRound()
      .catch((err: unknown) => deps.logger.error({ err }, 'anchoring round failed'))
      .finally(() => (round = null));
    return round;
  };

  const runRound = async (): Promise<void> => {
    const batch = waiting.slice();
    const start = handedOver;
    let result: AnchorResult;
    try {
      result = await coordinator.anchor(batch, start);
    } catch (error) {
      // Nothing is lost: the next round hands over the same leaves again (repeats must be identical).
      deps.logger.error({ err: error }, 'anchoring round failed');
      return;
    }
    // The coordinator now holds these leaves whatever the outcome; later rounds only add new ones.
    waiting = waiting.slice(batch.length);
    handedOver = start + batch.length;
    if (result.status === 'final') {
      const before = status.finalSize;
      if (result.size > before) {
        await recordFinal(deps.db, result.size, result.note);
        const oldest = committedAt[before];
        status.lastLagMs = oldest ? Math.max(0, now() - oldest.getTime()) : null;
        status.lastFinalAt = new Date(now());
        status.finalSize = result.size;
      }
      status.quorumLostSince = null;
      status.pendingReasons = {};
      if (result.size > before) await deps.onFinal?.(result.size).catch((err: unknown) => deps.logger.error({ err }, 'after-anchoring step failed'));
    } else if (result.pendingEntries > 0) {
      const refused = result.signatures === 0 ? refusedLeaf(result.reasons, 3) : null;
      if (refused && refused.index >= status.finalSize && refused.index < leafHashes.length) {
        await serial(() => takeOut(refused));
        return;
      }
      status.quorumLostSince ??= new Date(now());
      status.pendingReasons = result.reasons;
      deps.logger.warn({ pending: result.pendingEntries, signatures: result.signatures, reasons: result.reasons }, 'ledger anchoring pending: no quorum');
    }
    status.pendingEntries = status.size - status.finalSize;
  };

  /** Takes out a leaf every node refused, so the leaves after it can be anchored; see refusals.ts. */
  const takeOut = async (refusal: LeafRefusal): Promise<void> => {
    const [leaf] = await loadEntries(deps.db, refusal.index);
    if (!leaf || leaf.leafIndex !== refusal.index) return;
    await dropLeaf(deps.db, refusal.index);
    renumbered++;
    await coordinator.settled();
    const { size } = await restore();
    status.size = size;
    status.pendingEntries = size - status.finalSize;
    await deps.onRefused?.(leaf, refusal).catch((err: unknown) => deps.logger.error({ err }, 'refused-leaf alert failed'));
  };

  const onBatch = (events: RecordedEvent[]): Promise<void> => serial(() => storeBatch(events));
  const storeBatch = async (events: RecordedEvent[]): Promise<void> => {
    const rows: Omit<StoredEntry, 'anchoredAt'>[] = [];
    for (const event of events) {
      const entry = ledgerEntryOf(event);
      if (!entry) continue;
      const text = entryText(entry);
      rows.push({
        leafIndex: leafHashes.length + rows.length,
        eventId: event.id,
        pollId: entry.pollId,
        eventType: entry.eventType,
        tracker: trackerOfEntry(entry),
        entryHash: toHex(hashLeaf(h, utf8(text))),
        entryText: text,
        committedAt: event.recordedAt,
      });
    }
    const checkpoint = events[events.length - 1]!.checkpoint;
    await appendEntries(deps.db, rows, checkpoint);
    // Only after the commit: a failed transaction sees the same batch again with the same numbering.
    lastCheckpoint = checkpoint;
    for (const row of rows) {
      pushLeaf(row);
      waiting.push(row.entryText);
    }
    status.size = leafHashes.length;
    status.pendingEntries = status.size - status.finalSize;
    if (waiting.length >= (deps.batchEntries ?? 500)) void anchorNow();
  };

  const subscription: Subscription = deps.eventStore.subscribeAll(lastCheckpoint, onBatch);
  const timer = setInterval(() => {
    if (status.pendingEntries > 0 || waiting.length > 0) void anchorNow();
    else void probeQuorum();
  }, deps.intervalMs);
  timer.unref();

  // With nothing to anchor, quorum health comes from the nodes' info: a policy poll must not take
  // ballots for long when they could not be anchored.
  let lastProbe = 0;
  const probeQuorum = async (): Promise<void> => {
    if (now() - lastProbe < Math.max(deps.intervalMs, 1000)) return;
    lastProbe = now();
    const nodes = await coordinator.nodeStatus();
    const able = nodes.filter((n) => n.reachable && !n.storeProblem).length;
    if (able >= 3) status.quorumLostSince = null;
    else status.quorumLostSince ??= new Date(now());
  };

  return {
    caughtUp: subscription.caughtUp,
    get coordinator() {
      return coordinator;
    },
    status: () => ({ ...status, pendingReasons: { ...status.pendingReasons } }),
    acceptsPolicyBallots: () => status.quorumLostSince === null || now() - status.quorumLostSince.getTime() <= deps.policyGraceMs,
    leafHash: (index) => leafHashes[index],
    renumberings: () => renumbered,
    inclusionProof: (index, size) => tree.inclusionProof(index, size),
    anchorNow,
    settled: async (timeoutMs = 15_000) => {
      const deadline = now() + timeoutMs;
      // Wait until the subscription passed the newest committed event (readAll alone can look empty
      // while another database's transaction on the same server holds events back).
      const head = await deps.eventStore.headCheckpoint();
      while (!hasReached(lastCheckpoint, head)) {
        if (now() > deadline) throw new Error('anchoring did not see every event in time');
        await sleep(20);
      }
      const target = leafHashes.length;
      while (status.finalSize < target) {
        if (now() > deadline) throw new Error(`anchoring did not finalise ${target} leaves in time (final: ${status.finalSize})`);
        await anchorNow();
        if (status.finalSize < target) await sleep(50);
      }
    },
    stop: async () => {
      clearInterval(timer);
      await subscription.stop();
      await round;
      await coordinator.settled();
    },
  };
};
