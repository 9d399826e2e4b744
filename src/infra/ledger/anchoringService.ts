/**
 * The anchoring service: one catch-up subscription over all events (resuming from its own checkpoint,
 * like the projection runner), every anchored event stored as a leaf in the same transaction as that
 * checkpoint, and a round every `intervalMs` (or `batchEntries` entries) that asks the coordinator to
 * make the waiting leaves final. Leaves are numbered once, in the store, so a restart neither skips nor
 * repeats one: the coordinator is rebuilt from the frontier of the stored final leaves (read in pages
 * and checked against the last final note) and the leaves after it.
 *
 * What it holds in memory is bounded whatever the length of the log: the leaves not final yet (texts
 * and commit times, the backlog) and the hashes of the last RECENT_LEAVES leaves it handed over (for the
 * tamper watch's row check). Proofs come from the nodes (ledgerServices.ts), not from a tree here.
 */
import { Mutex } from 'async-mutex';
import type { Kysely } from 'kysely';
import { hasReached, type EventStore, type RecordedEvent, type Subscription } from '../../app/eventStore.ts';
import { entryText, ledgerEntryOf, trackerOfEntry } from '../../app/ledger/entries.ts';
import { refusedLeaf, type LeafRefusal } from '../../app/ledger/refusals.ts';
import { toHex, utf8 } from '../../ledger/bytes.ts';
import type { AnchorResult, Coordinator, CoordinatorOptions } from '../../ledger/coordinator.ts';
import { hashLeaf, HASH_SIZE } from '../../ledger/merkle.ts';
import { nodeSha256 } from '../../ledger/nodeCrypto.ts';
import { describeRefusal, QUORUM } from '../../ledger/protocol.ts';
import type { Logger } from '../logger.ts';
import {
  appendEntries,
  dropLeaf,
  frontierOfStoredLeaves,
  lastFinalCheckpoint,
  loadEntries,
  readAnchorCheckpoint,
  recordFinal,
  type StoredEntry,
} from './ledgerStore.ts';
import type { Database } from '../db/schema.ts';

const h = nodeSha256;

export interface AnchoringDeps {
  db: Kysely<Database>;
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
  /**
   * The leaf hash (hex) the app handed the nodes at `index`, while it is one of the last RECENT_LEAVES
   * handed over since this service started; undefined otherwise.
   */
  leafHash(index: number): string | undefined;
  /**
   * Leaves below this index were checked against the last final note when this service started (their
   * stored hashes rebuild its root), so the tamper watch need not ask the nodes for them on its first look.
   */
  checkedAtStart(): number;
  /** Goes up each time a refused leaf is taken out (leaf numbers after it change). */
  renumberings(): number;
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

/** Hashes of the most recently handed leaves kept for the tamper watch: 65,536 × 32 bytes = 2 MiB. */
export const RECENT_LEAVES = 65_536;

/** The last `capacity` leaf hashes by leaf index, in one preallocated buffer (a ring). */
class RecentLeafHashes {
  private readonly buf: Uint8Array;
  /** Leaves [end - held, end) are held. */
  private end = 0;
  private held = 0;
  constructor(private readonly capacity: number) {
    this.buf = new Uint8Array(capacity * HASH_SIZE);
  }
  reset(at: number): void {
    this.end = at;
    this.held = 0;
  }
  push(hash: Uint8Array): void {
    this.buf.set(hash, (this.end % this.capacity) * HASH_SIZE);
    this.end++;
    this.held = Math.min(this.capacity, this.held + 1);
  }
  hex(index: number): string | undefined {
    if (index < this.end - this.held || index >= this.end) return undefined;
    const at = (index % this.capacity) * HASH_SIZE;
    return toHex(this.buf.subarray(at, at + HASH_SIZE));
  }
}
export const startAnchoring = async (deps: AnchoringDeps): Promise<Anchoring> => {
  const now = deps.now ?? Date.now;
  let coordinator!: Coordinator;
  /** Texts of leaves the coordinator has not been given yet, from `handedOver` on. */
  let waiting: string[] = [];
  let handedOver = 0;
  /** Commit times (ms) of the leaves not final yet: leaf status.finalSize + k committed at unfinal[k]. */
  let unfinal: number[] = [];
  /** Leaves stored so far (the next leaf's index). */
  let stored = 0;
  let checkedAtStart = 0;
  const recent = new RecentLeafHashes(RECENT_LEAVES);

  /** (Re)builds the coordinator from the frontier of the stored final leaves and the leaves after them. */
  const restore = async () => {
    const final = await lastFinalCheckpoint(deps.db);
    const finalSize = final?.size ?? 0;
    // Throws (as the coordinator does) when the stored leaves no longer rebuild the signed root.
    const frontier = await frontierOfStoredLeaves(deps.db, finalSize);
    coordinator = deps.createCoordinator({ frontier, note: final?.note ?? null });
    const rest = await loadEntries(deps.db, finalSize);
    waiting = rest.map((e) => e.entryText);
    unfinal = rest.map((e) => e.committedAt.getTime());
    recent.reset(finalSize);
    for (const e of rest) recent.push(Buffer.from(e.entryHash, 'hex'));
    handedOver = finalSize;
    stored = finalSize + rest.length;
    checkedAtStart = finalSize;
    return { size: stored, final };
  };
  const { size: storedSize, final } = await restore();
  let renumbered = 0;
  const finalSize = final?.size ?? 0;
  let lastCheckpoint = await readAnchorCheckpoint(deps.db);
  // Storing new leaves and taking a refused one out both renumber: one at a time.
  const renumbering = new Mutex();

  // pendingEntries is not kept: it is size - finalSize, derived where it is read, so it can never lag
  // behind finalSize while a round's after-final step runs (a CI run read a stale 20 there).
  const status: Omit<AnchoringStatus, 'pendingEntries'> = {
    role: 'active',
    size: storedSize,
    finalSize,
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
        const oldest = unfinal[0];
        unfinal = unfinal.slice(result.size - before);
        status.lastLagMs = oldest !== undefined ? Math.max(0, now() - oldest) : null;
        status.lastFinalAt = new Date(now());
        status.finalSize = result.size;
      }
      status.quorumLostSince = null;
      status.pendingReasons = {};
      if (result.size > before) await deps.onFinal?.(result.size).catch((err: unknown) => deps.logger.error({ err }, 'after-anchoring step failed'));
    } else if (result.pendingEntries > 0) {
      const refused = result.signatures === 0 ? refusedLeaf(result.refusals, QUORUM) : null;
      if (refused && refused.index >= status.finalSize && refused.index < stored) {
        await renumbering.runExclusive(() => takeOut(refused));
        return;
      }
      status.quorumLostSince ??= new Date(now());
      const reasons = Object.fromEntries(Object.entries(result.refusals).map(([url, r]) => [url, describeRefusal(r)]));
      status.pendingReasons = reasons;
      deps.logger.warn({ pending: result.pendingEntries, signatures: result.signatures, reasons }, 'ledger anchoring pending: no quorum');
    }
  };

  /** Takes out a leaf every node refused, so the leaves after it can be anchored; see refusals.ts. */
  const takeOut = async (refusal: LeafRefusal): Promise<void> => {
    const [leaf] = await loadEntries(deps.db, refusal.index, 1);
    if (!leaf || leaf.leafIndex !== refusal.index) return;
    await dropLeaf(deps.db, refusal.index);
    renumbered++;
    await coordinator.settled();
    const { size } = await restore();
    status.size = size;
    await deps.onRefused?.(leaf, refusal).catch((err: unknown) => deps.logger.error({ err }, 'refused-leaf alert failed'));
  };

  const onBatch = (events: RecordedEvent[]): Promise<void> => renumbering.runExclusive(() => storeBatch(events));
  const storeBatch = async (events: RecordedEvent[]): Promise<void> => {
    const rows: StoredEntry[] = [];
    const hashes: Uint8Array[] = [];
    for (const event of events) {
      const entry = ledgerEntryOf(event);
      if (!entry) continue;
      // The entry's bytes and leaf hash are made here once; the stored row, the coordinator and the
      // tamper watch's row check all use these.
      const text = entryText(entry);
      const hash = hashLeaf(h, utf8(text));
      hashes.push(hash);
      rows.push({
        leafIndex: stored + rows.length,
        eventId: event.id,
        pollId: entry.pollId,
        eventType: entry.eventType,
        tracker: trackerOfEntry(entry),
        entryHash: toHex(hash),
        entryText: text,
        committedAt: event.recordedAt,
      });
    }
    const checkpoint = events[events.length - 1]!.checkpoint;
    await appendEntries(deps.db, rows, checkpoint);
    // Only after the commit: a failed transaction sees the same batch again with the same numbering.
    lastCheckpoint = checkpoint;
    rows.forEach((row, k) => {
      recent.push(hashes[k]!);
      waiting.push(row.entryText);
      unfinal.push(row.committedAt.getTime());
    });
    stored += rows.length;
    status.size = stored;
    if (waiting.length >= (deps.batchEntries ?? 500)) void anchorNow();
  };

  const subscription: Subscription = deps.eventStore.subscribeAll(lastCheckpoint, onBatch);
  const timer = setInterval(() => {
    if (status.size > status.finalSize || waiting.length > 0) void anchorNow();
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
    if (able >= QUORUM) status.quorumLostSince = null;
    else status.quorumLostSince ??= new Date(now());
  };

  return {
    caughtUp: subscription.caughtUp,
    get coordinator() {
      return coordinator;
    },
    status: () => ({ ...status, pendingEntries: status.size - status.finalSize, pendingReasons: { ...status.pendingReasons } }),
    acceptsPolicyBallots: () => status.quorumLostSince === null || now() - status.quorumLostSince.getTime() <= deps.policyGraceMs,
    leafHash: (index) => recent.hex(index),
    checkedAtStart: () => checkedAtStart,
    renumberings: () => renumbered,
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
      const target = stored;
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
