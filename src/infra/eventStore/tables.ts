import type { ColumnType, Generated } from 'kysely';

/**
 * The append-only event log (migration 0001). Listed so the database type names every table; only the
 * PostgreSQL event store adapter reads or writes it, in raw SQL (xid8 checkpoints, unnest batches and
 * the snapshot horizon are beyond the query builder).
 */
export interface EventsTable {
  global_position: Generated<string>;
  transaction_id: Generated<string>;
  id: string;
  stream_id: string;
  stream_revision: ColumnType<string, string | number, never>;
  type: string;
  data: ColumnType<Record<string, unknown>, string, never>;
  metadata: ColumnType<Record<string, unknown>, string | undefined, never>;
  recorded_at: ColumnType<Date, string | undefined, never>;
}

export interface EventStoreTables {
  events: EventsTable;
}
