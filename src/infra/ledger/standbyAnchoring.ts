import { sql, type Kysely } from 'kysely';
import { hasReached, type EventStore } from '../../app/eventStore.ts';
import type { Coordinator } from '../../ledger/coordinator.ts';
import { QUORUM } from '../../ledger/protocol.ts';
import type { Anchoring, AnchoringStatus } from './anchoringService.ts';
import { lastFinalCheckpoint, readAnchorCheckpoint } from './ledgerStore.ts';
import type { Database } from '../db/schema.ts';

export interface StandbyAnchoringDeps {
  db: Kysely<Database>;
  eventStore: EventStore;
  /** Reads the nodes' status only; a standby never proposes. */
  coordinator: Coordinator;
  intervalMs: number;
  policyGraceMs: number;
  /** True while this instance holds the lease: the standby view then sleeps. */
  superseded: () => boolean;
  now?: () => number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The anchoring as an instance without the lease sees it: progress read from the store the active
 * instance writes (its leaves and final checkpoints), quorum health from the nodes' own info, so a
 * policy poll on this instance refuses ballots when the ledger cannot sign, as on the active one. It
 * anchors nothing and holds no Merkle tree: receipts served here take their proofs from the nodes.
 */
export const startStandbyAnchoring = (deps: StandbyAnchoringDeps): Anchoring => {
  const now = deps.now ?? Date.now;
  const status: AnchoringStatus = {
    role: 'standby', size: 0, finalSize: 0, pendingEntries: 0, lastLagMs: null, lastFinalAt: null, quorumLostSince: null, pendingReasons: {},
  };
  const refresh = async (): Promise<void> => {
    const [{ rows }, final, nodes] = await Promise.all([
      sql<{ size: string | number | null }>`SELECT max(leaf_index) + 1 AS size FROM ledger_entries`.execute(deps.db),
      lastFinalCheckpoint(deps.db),
      deps.coordinator.nodeStatus(),
    ]);
    status.size = Number(rows[0]?.size ?? 0);
    status.finalSize = final?.size ?? 0;
    status.pendingEntries = Math.max(0, status.size - status.finalSize);
    status.lastFinalAt = final?.finalizedAt ?? null;
    const able = nodes.filter((n) => n.reachable && !n.storeProblem).length;
    if (able >= QUORUM) status.quorumLostSince = null;
    else status.quorumLostSince ??= new Date(now());
  };
  let refreshing: Promise<void> | null = null;
  const refreshOnce = () => (refreshing ??= refresh().catch(() => undefined).finally(() => (refreshing = null)));
  const timer = setInterval(() => {
    if (!deps.superseded()) void refreshOnce();
  }, Math.max(deps.intervalMs, 1000));
  timer.unref();

  return {
    caughtUp: Promise.resolve(),
    coordinator: deps.coordinator,
    status: () => ({ ...status, pendingReasons: {} }),
    acceptsPolicyBallots: () => status.quorumLostSince === null || now() - status.quorumLostSince.getTime() <= deps.policyGraceMs,
    leafHash: () => undefined,
    checkedAtStart: () => 0,
    renumberings: () => 0,
    anchorNow: refreshOnce,
    /** Waits until the active instance has anchored every event committed before the call. */
    settled: async (timeoutMs = 15_000) => {
      const deadline = now() + timeoutMs;
      const head = await deps.eventStore.headCheckpoint();
      for (;;) {
        const [anchoredTo, final, { rows }] = await Promise.all([
          readAnchorCheckpoint(deps.db),
          lastFinalCheckpoint(deps.db),
          sql<{ size: string | number | null }>`SELECT max(leaf_index) + 1 AS size FROM ledger_entries`.execute(deps.db),
        ]);
        if (hasReached(anchoredTo, head) && (final?.size ?? 0) >= Number(rows[0]?.size ?? 0)) return refreshOnce();
        if (now() > deadline) throw new Error('the active anchoring instance did not anchor every event in time');
        await sleep(50);
      }
    },
    stop: async () => clearInterval(timer),
  };
};
