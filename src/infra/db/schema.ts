import type { ColumnType } from 'kysely';

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

export interface Database extends CoreTables {}
