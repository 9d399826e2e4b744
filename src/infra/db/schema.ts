import type { ColumnType } from 'kysely';
import type { CitizensTable, OrganisationsTable, PlatformStatsTable } from '../readModels/tables.ts';
import type { IdentityTables } from '../identity/tables.ts';
import type { EventStoreTables } from '../eventStore/tables.ts';
import type { PollTables } from '../readModels/pollTables.ts';
import type { LedgerTables } from '../ledger/tables.ts';

/**
 * Kysely table interfaces: every table the migrations create. Each feature declares its tables in its
 * own file and `Database` extends them.
 */
export interface ProjectionCheckpointTable {
  projection: string;
  checkpoint: string;
  updated_at: ColumnType<Date, string | undefined, string>;
}

export interface CoreTables {
  projection_checkpoints: ProjectionCheckpointTable;
}

export interface ReadModelTables {
  platform_stats: PlatformStatsTable;
  citizens: CitizensTable;
  organisations: OrganisationsTable;
}

export interface Database extends CoreTables, EventStoreTables, ReadModelTables, PollTables, IdentityTables, LedgerTables {}
