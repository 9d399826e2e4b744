import { sql, type Kysely } from 'kysely';
import type pg from 'pg';
import type { EventStore } from '../../app/eventStore.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import { ledgerDisabled, startLedger, type LedgerServices } from './ledgerServices.ts';
import type { Database } from '../db/schema.ts';

type SealingKey = { keyId: string; jointKey: string };

export interface LedgerWiring {
  /** Null when LEDGER_NODES=none. */
  services: LedgerServices | null;
  /** The hook castBallot consults for policy polls. */
  acceptsPolicyBallots: () => boolean;
  /** For /readyz: why the ledger degrades the service now (empty: it does not). */
  degradation: () => string[];
  /** The nodes' joint key sealed ballots are encrypted to; null before their key ceremony (or with no ledger). */
  sealingKey: () => SealingKey | null | Promise<SealingKey | null>;
  stop(): Promise<void>;
}

/** Everything the composition root needs from the ledger: its services and the policy-ballot gate. */
export const wireLedger = async (config: Config, deps: { db: Kysely<Database>; pool: pg.Pool | null; eventStore: EventStore; logger: Logger }): Promise<LedgerWiring> => {
  // A ballot the read model knows but the anchoring service has not stored yet is pending, not unknown.
  const isPendingBallot = async (tracker: string) =>
    (await sql<{ one: number }>`SELECT 1 AS one FROM current_ballots WHERE tracker = ${tracker} LIMIT 1`.execute(deps.db)).rows.length > 0;
  const services = ledgerDisabled(config) ? null : await startLedger(config, { ...deps, isPendingBallot });
  if (services) deps.logger.info({ nodes: services.urls, startupMs: services.startupMs }, 'ledger started');
  return {
    services,
    acceptsPolicyBallots: () => services?.anchoring.acceptsPolicyBallots() ?? true,
    degradation: () => {
      if (!services || services.anchoring.acceptsPolicyBallots()) return [];
      const { quorumLostSince, pendingEntries } = services.anchoring.status();
      return [
        `ledger quorum lost${quorumLostSince ? ` since ${quorumLostSince.toISOString()}` : ''}: policy polls refuse ballots`,
        `anchoring behind by ${pendingEntries} entries`,
      ];
    },
    sealingKey: () => services?.sealingKey() ?? null,
    stop: async () => services?.stop(),
  };
};
