import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Kysely } from 'kysely';
import type pg from 'pg';
import type { EventStore } from '../../app/eventStore.ts';
import { fromHex } from '../../ledger/bytes.ts';
import { parseCheckpoint } from '../../ledger/checkpoint.ts';
import { createCoordinator } from '../../ledger/coordinator.ts';
import { normalizeTracker, type LedgerEntry } from '../../ledger/entry.ts';
import { verifyInclusion } from '../../ledger/merkle.ts';
import { startLocalLedger, type LocalLedger } from '../../ledger/node/localCluster.ts';
import { createNodeClient } from '../../ledger/nodeClient.ts';
import { nodeSha256 } from '../../ledger/nodeCrypto.ts';
import { parseNote } from '../../ledger/note.ts';
import { QUORUM } from '../../ledger/protocol.ts';
import { buildReceipt, type Receipt } from '../../ledger/receipt.ts';
import type { Config } from '../config.ts';
import { startLease } from '../db/lease.ts';
import type { Logger } from '../logger.ts';
import { startAnchoring, type Anchoring } from './anchoringService.ts';
import { entryByTracker, lastFinalCheckpoint, type StoredEntry } from './ledgerStore.ts';
import { startStandbyAnchoring } from './standbyAnchoring.ts';
import { createLedgerVerifier, type LedgerVerifier } from './verification.ts';
import { createPostgresEventIntegrity } from '../eventStore/postgresEventIntegrity.ts';
import type { Database } from '../db/schema.ts';
import { createSealingClient, type SealingClient } from '../../ledger/sealing.ts';
import { useServerCrypto } from '../../ledger/threshold/serverCrypto.ts';
import { startEncapsulationPool, type EncapsulationPool } from '../../ledger/threshold/encapsulationPool.ts';
import { startSealedOpening, type SealedOpening } from './sealedOpeningService.ts';
import type { PublicKeySet } from '../../ledger/threshold/vss.ts';

/** The log's origin line: the nodes' --origin, the checkpoints' first line, the portal's expectation. */
export const LEDGER_ORIGIN = 'civic-vote.local/ledger';
/** The protocol's quorum (src/ledger/protocol.ts), under the name the app's modules use. */
export const LEDGER_QUORUM = QUORUM;

export type ReceiptLookup =
  | { status: 'anchored'; receipt: Receipt; entry: StoredEntry; finalSize: number }
  | { status: 'pending'; entry: StoredEntry | null }
  | { status: 'unknown' };

export interface LedgerServices {
  urls: string[];
  origin: string;
  /** This instance's view of the anchoring: the running service while it holds the lease, else the standby view. */
  anchoring: Anchoring;
  /** The four local node processes when the app spawned them (not with LEDGER_NODES). */
  local: LocalLedger | null;
  verifierKeys(): Promise<readonly string[]>;
  /** A ballot's receipt; `pending` while its leaf waits for a final checkpoint. */
  receipt(tracker: string): Promise<ReceiptLookup>;
  /**
   * The nodes' agreed joint key for sealed ballots; null until their key ceremony ran. An instance that
   * has not learnt it yet asks the nodes on the spot (a promise) rather than refusing the ballot.
   */
  sealingKey(): PublicKeySet | null | Promise<PublicKeySet | null>;
  /** Relays key ceremonies and opening rounds between the nodes (holds no share). */
  sealing: SealingClient;
  /** The sealing encapsulations made ahead in the worker thread (null before the key set is known). */
  encapsulationPool(): EncapsulationPool | null;
  /** Sealed polls past their close on this instance (the lease holder): `opened`, or why each waits. */
  openingStatus(): Record<string, string>;
  /** Runs an opening pass now (the lease holder only). */
  openSealedNow(): Promise<void>;
  /** Milliseconds it took to start the nodes and the services. */
  startupMs: number;
  /**
   * Tamper-watch passes completed by this instance since it started (0 on a standby); a bench waits
   * for the first passes after a start (which digest every bucket) to measure a running vote.
   */
  tamperPasses(): number;
  stop(): Promise<void>;
}

/** The coordinator's bearer token: made once and kept in DATA_DIR (give it to remote nodes as LEDGER_COORDINATOR_TOKEN). */
export const loadCoordinatorToken = (dataDir: string): string => {
  const file = join(resolve(dataDir), 'ledger-coordinator-token');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const token = randomBytes(32).toString('hex');
  writeFileSync(file, token, { mode: 0o600 });
  return token;
};

/** Whether the config turns the ledger off (`LEDGER_NODES=none`, for tests that do not need it). */
export const ledgerDisabled = (config: Config): boolean => config.LEDGER_NODES?.trim() === 'none';

/** The lease the anchoring, the node tallies and the tamper watch run under (one instance at a time). */
export const ANCHORING_LEASE = 'ledger-anchoring';

/** What only the lease holder runs: the anchoring service, the verifier and its tamper-watch loop. */
interface ActiveLedgerWork {
  anchoring: Anchoring;
  opening: SealedOpening;
  stopWatch(): Promise<void>;
}

/**
 * Starts the ledger side of the app: four local node processes under DATA_DIR/ledger-node-N (unless
 * LEDGER_NODES lists remote ones), then, under a lease so that one app instance at a time does it, the
 * anchoring service, tallies by the nodes after each final checkpoint and the tamper watch. An instance
 * without the lease serves receipts (proofs from the nodes), reports progress from the store and takes
 * the lease over when the holder dies.
 */
export const startLedger = async (
  config: Config,
  deps: { db: Kysely<Database>; pool: pg.Pool | null; eventStore: EventStore; logger: Logger; isPendingBallot: (tracker: string) => Promise<boolean> },
): Promise<LedgerServices> => {
  const started = Date.now();
  const token = config.LEDGER_COORDINATOR_TOKEN ?? loadCoordinatorToken(config.DATA_DIR);
  const remote = config.LEDGER_NODES?.split(',').map((u) => u.trim()).filter((u) => u !== '') ?? [];
  const local =
    remote.length > 0 ? null : await startLocalLedger({
          dataDir: resolve(config.DATA_DIR), basePort: config.LEDGER_BASE_PORT, token, origin: LEDGER_ORIGIN,
          startTimeoutMs: config.LEDGER_START_TIMEOUT_MS, log: (level, msg, fields) => deps.logger[level](fields, msg),
        });
  const urls = local?.urls ?? remote;
  const coordinatorOptions = { nodes: urls, token, origin: LEDGER_ORIGIN, quorum: LEDGER_QUORUM, ...(local ? { verifierKeys: local.verifierKeys } : {}) };
  // Reads the nodes' status for every instance (admin page, standby quorum health); never proposes.
  const observer = createCoordinator(coordinatorOptions);

  let keys: readonly string[] | null = local?.verifierKeys ?? null;
  // Remote nodes' keys are learnt once from their /v1/info (trust on first use), as the nodes do.
  const verifierKeys = async (): Promise<readonly string[]> => {
    if (keys && keys.length >= urls.length) return keys;
    const learnt = (await observer.nodeStatus()).map((s) => s.verifierKey).filter((k): k is string => typeof k === 'string');
    if (learnt.length >= urls.length) keys = learnt;
    return learnt;
  };

  /** Entry texts [from, to) from the first node that answers (for the tamper watch's row check of old leaves). */
  const anchoredEntries = async (from: number, to: number): Promise<string[]> => {
    for (const url of urls) {
      try {
        return (await createNodeClient(url).entries(from, to)).map((e) => e.entry);
      } catch (err) {
        deps.logger.debug({ err, node: url }, 'entries from this node unavailable; trying the next');
      }
    }
    return [];
  };
  // --- the nodes' threshold key for sealed polls ---------------------------------------------------
  // Sealing hashes and encrypts with node:crypto; opening combines shares with libsodium's WebAssembly
  // multiplication once it has loaded (same bytes either way).
  void useServerCrypto().catch((err: unknown) => deps.logger.warn({ err }, 'libsodium did not load; opening uses the pure-JS multiplication'));
  const sealing = createSealingClient({ nodes: urls, token, log: (msg, fields) => deps.logger.info(fields ?? {}, msg) });
  let keySet: PublicKeySet | null = null;
  let encapsulations: EncapsulationPool | null = null;
  /** Reads the key set the nodes agree on; the lease holder also runs the first ceremony of a fresh ledger. */
  const refreshKeySet = async (mayRunCeremony: boolean): Promise<void> => {
    if (keySet) return;
    try {
      keySet = mayRunCeremony ? await sealing.ensureKeySet(() => `epoch-${new Date().toISOString().replace(/[^0-9]/g, '').slice(0, 14)}`) : await sealing.agreedKeySet();
      // Sealed ballots' encapsulations are made ahead in a worker thread, off the cast request's path.
      if (keySet && !encapsulations) encapsulations = startEncapsulationPool(keySet.jointKey);
    } catch (err) {
      deps.logger.warn({ err }, 'could not read the nodes\u2019 key set');
    }
  };
  const keyTimer = setInterval(() => void refreshKeySet(active !== null), 5000);
  keyTimer.unref();
  // An instance polls for the key set every 5 s; a sealed ballot arriving before it learnt the key (a
  // fresh instance behind a balancer, a ceremony that just ended on the lease holder) asks the nodes at
  // once, one request at a time and at most once a second, instead of refusing the voter.
  let keySetAsked: Promise<void> | null = null;
  let keySetAskedAt = 0;
  const keySetNow = (): PublicKeySet | null | Promise<PublicKeySet | null> => {
    if (keySet) return keySet;
    if (!keySetAsked && Date.now() - keySetAskedAt >= 1000) {
      keySetAskedAt = Date.now();
      keySetAsked = refreshKeySet(false).finally(() => (keySetAsked = null));
    }
    return keySetAsked ? keySetAsked.then(() => keySet) : null;
  };

  let active: ActiveLedgerWork | null = null;
  let tamperPasses = 0;
  const startActive = async (): Promise<void> => {
    await refreshKeySet(true);
    let verifier: LedgerVerifier | null = null;
    const anchoring = await startAnchoring({
      db: deps.db,
      eventStore: deps.eventStore,
      logger: deps.logger,
      intervalMs: config.ANCHOR_INTERVAL_MS,
      policyGraceMs: config.POLICY_QUORUM_GRACE_MS,
      createCoordinator: (anchored) => createCoordinator({ ...coordinatorOptions, anchored }),
      onFinal: (size) => verifier!.verifyTallies(size),
      onRefused: (leaf, refusal) => verifier!.entryRefused(leaf, refusal),
    });
    verifier = createLedgerVerifier({
      db: deps.db,
      // Events in PostgreSQL/PGlite (the same database as the ledger tables) can be rewritten in place.
      integrity: config.EVENT_STORE === 'postgres' ? createPostgresEventIntegrity(deps.db) : null,
      // The anchoring service replaces its coordinator when it takes out a refused leaf: look it up per call.
      coordinator: { requestTallies: (pollId, size) => anchoring.coordinator.requestTallies(pollId, size) },
      logger: deps.logger,
      origin: LEDGER_ORIGIN,
      quorum: LEDGER_QUORUM,
      verifierKeys,
      handedLeafHash: anchoring.leafHash,
      checkedAtStart: anchoring.checkedAtStart,
      finalSize: () => anchoring.status().finalSize,
      anchoredEntries,
      renumberings: anchoring.renumberings,
      bucketSize: config.TAMPER_WATCH_BUCKET,
      sweepWindow: config.TAMPER_WATCH_WINDOW,
    });
    const opening = startSealedOpening({
      db: deps.db, eventStore: deps.eventStore, anchoring, sealing, keySet: () => keySet, logger: deps.logger,
      everyMs: Math.max(1000, config.ANCHOR_INTERVAL_MS * 2),
    });
    active = { anchoring, opening, stopWatch: startTamperWatch(verifier, anchoring, deps.logger, config.TAMPER_WATCH_MS, () => tamperPasses++) };
  };
  const stopActive = async (): Promise<void> => {
    const work = active;
    active = null;
    if (!work) return;
    await work.opening.stop();
    await work.stopWatch();
    await work.anchoring.stop();
  };

  const standby = startStandbyAnchoring({
    db: deps.db, eventStore: deps.eventStore, coordinator: observer,
    intervalMs: config.ANCHOR_INTERVAL_MS, policyGraceMs: config.POLICY_QUORUM_GRACE_MS, superseded: () => active !== null,
  });
  const lease = startLease({
    pool: deps.pool, name: ANCHORING_LEASE, retryMs: config.LEDGER_LEASE_RETRY_MS, logger: deps.logger,
    onAcquired: startActive, onReleased: stopActive,
  });
  await lease.firstTry;
  if (!active) void standby.anchorNow();

  // Callers hold this one object; it answers for whichever side this instance is on at the moment.
  const current = (): Anchoring => active?.anchoring ?? standby;
  const anchoring: Anchoring = {
    get caughtUp() {
      return current().caughtUp;
    },
    get coordinator() {
      return current().coordinator;
    },
    status: () => current().status(),
    acceptsPolicyBallots: () => current().acceptsPolicyBallots(),
    leafHash: (index) => current().leafHash(index),
    renumberings: () => current().renumberings(),
    checkedAtStart: () => current().checkedAtStart(),
    anchorNow: () => current().anchorNow(),
    settled: (timeoutMs) => current().settled(timeoutMs),
    stop: async () => undefined,
  };

  /**
   * Proofs come from the nodes, which keep the whole log (the app keeps only the frontier): each answer
   * is checked against the final checkpoint's root before it is used, so a lying node only costs a retry.
   */
  const inclusionProof = async (entry: StoredEntry, size: number, note: string): Promise<Uint8Array[] | null> => {
    const root = parseCheckpoint(parseNote(note).text).rootHash;
    for (const url of urls) {
      try {
        const proof = (await createNodeClient(url).inclusionProof(entry.leafIndex, size)).map((p) => new Uint8Array(Buffer.from(p, 'base64')));
        verifyInclusion(nodeSha256, entry.leafIndex, size, fromHex(entry.entryHash) ?? new Uint8Array(), proof, root);
        return proof;
      } catch (err) {
        deps.logger.debug({ err, node: url }, 'inclusion proof from this node unusable; trying the next');
      }
    }
    return null;
  };

  const receipt = async (input: string): Promise<ReceiptLookup> => {
    const tracker = normalizeTracker(input);
    if (!tracker) return { status: 'unknown' };
    const entry = await entryByTracker(deps.db, tracker);
    if (!entry) return (await deps.isPendingBallot(tracker)) ? { status: 'pending', entry: null } : { status: 'unknown' };
    const final = await lastFinalCheckpoint(deps.db);
    if (!final || entry.leafIndex >= final.size) return { status: 'pending', entry };
    const proof = await inclusionProof(entry, final.size, final.note);
    if (!proof) return { status: 'pending', entry };
    return {
      status: 'anchored',
      entry,
      finalSize: final.size,
      receipt: buildReceipt({
        origin: LEDGER_ORIGIN,
        entry: JSON.parse(entry.entryText) as LedgerEntry,
        leafIndex: entry.leafIndex,
        checkpoint: final.note,
        inclusionProof: proof,
      }),
    };
  };

  return {
    urls,
    origin: LEDGER_ORIGIN,
    anchoring,
    local,
    verifierKeys,
    receipt,
    sealingKey: keySetNow,
    sealing,
    encapsulationPool: () => encapsulations,
    openingStatus: () => active?.opening.status() ?? {},
    openSealedNow: async () => active?.opening.runOnce(),
    tamperPasses: () => tamperPasses,
    startupMs: Date.now() - started,
    stop: async () => {
      clearInterval(keyTimer);
      await lease.stop();
      await standby.stop();
      await local?.stop();
      await encapsulations?.stop();
    },
  };
};

/**
 * The tamper watch loop; it also retries tallies that found too few nodes the first time. A pass reads
 * digests of buckets and re-reads the buckets that moved (on the first pass the two newest, the older
 * ones a window a pass: verification.ts), so the pause after a pass grows with its cost: the watch
 * never takes more than ~1/5 of the time. Returns its stop.
 */
const startTamperWatch = (verifier: LedgerVerifier, anchoring: Anchoring, logger: Logger, everyMs: number, onPass: () => void): (() => Promise<void>) => {
  let watchTimer: NodeJS.Timeout | undefined;
  let watching: Promise<unknown> | null = null;
  let stopped = false;
  const scheduleWatch = (delay: number) => {
    if (stopped) return;
    watchTimer = setTimeout(() => {
      const began = Date.now();
      watching = (async () => {
        await verifier.tamperCheck();
        const final = anchoring.status().finalSize;
        if (final > 0) await verifier.verifyTallies(final);
        onPass();
      })()
        .catch((err: unknown) => logger.error({ err }, 'tamper watch pass failed'))
        .finally(() => {
          watching = null;
          scheduleWatch(Math.max(everyMs, 4 * (Date.now() - began)));
        });
    }, delay);
    watchTimer.unref();
  };
  scheduleWatch(everyMs);
  return async () => {
    stopped = true;
    clearTimeout(watchTimer);
    await watching;
  };
};
