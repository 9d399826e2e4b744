import { Migrator, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import type { Database } from '../db/schema.ts';
import * as m0001 from './0001_events.ts';
import * as m0002 from './0002_platform_stats.ts';
import * as m0003 from './0003_polls.ts';
import * as m0004 from './0004_identity.ts';
import * as m0005 from './0005_ledger.ts';
import * as m0006 from './0006_poll_option_counts.ts';
import * as m0007 from './0007_rate_limiter.ts';
import * as m0008 from './0008_ledger_bounded_reads.ts';
import * as m0009 from './0009_voter_exclusions.ts';

/**
 * Every migration, in order. Frozen once committed: a change is a new file. Names sort by their prefix.
 * A migration sees the database as it was when the migration was written, not as today's `Database`
 * type says, so each takes `Kysely<unknown>` and speaks DDL in raw SQL (frozen text, never re-typed).
 */
const migrations: Record<string, Migration> = {
  '0001_events': m0001,
  '0002_platform_stats': m0002,
  '0003_polls': m0003,
  '0004_identity': m0004,
  '0005_ledger': m0005,
  '0006_poll_option_counts': m0006,
  '0007_rate_limiter': m0007,
  '0008_ledger_bounded_reads': m0008,
  '0009_voter_exclusions': m0009,
};

const provider: MigrationProvider = { getMigrations: async () => migrations };

/** Runs pending migrations; throws with the failing migration's name. Safe to call at every start. */
export const migrateToLatest = async (db: Kysely<Database>): Promise<void> => {
  const { error, results } = await new Migrator({ db, provider }).migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`migration ${failed} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
};
