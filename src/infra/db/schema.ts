import type { ColumnType } from 'kysely';
import type { PlatformStatsTable } from '../readModels/platformStats.ts';
import type { CitizensTable, OrganisationsTable } from '../readModels/citizens.ts';
import type { IdentityTables } from '../identity/tables.ts';

/**
 * Kysely table interfaces. Each feature declares its tables in its own file and this interface extends
 * them. The events table is not listed on purpose: only the event store adapter touches it (raw SQL).
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

export interface Database extends CoreTables, ReadModelTables, IdentityTables {}
