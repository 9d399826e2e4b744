import { sql, type Kysely } from 'kysely';

/**
 * The append-only event log. Frozen: change the schema with a new migration.
 *
 * transaction_id + global_position give a checkpoint that never skips late commits: a reader only reads
 * rows whose transaction is older than the oldest transaction still running (pg_snapshot_xmin), in
 * (transaction_id, global_position) order. See src/infra/eventStore/postgresEventStore.ts.
 */
export const up = async (db: Kysely<unknown>): Promise<void> => {
  await sql`
    CREATE TABLE events (
      global_position bigserial PRIMARY KEY,
      transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
      id uuid NOT NULL UNIQUE,
      stream_id text NOT NULL,
      stream_revision bigint NOT NULL,
      type text NOT NULL,
      data jsonb NOT NULL,
      metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
      recorded_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT events_stream_revision_unique UNIQUE (stream_id, stream_revision)
    )`.execute(db);
  await sql`CREATE INDEX events_transaction_position ON events (transaction_id, global_position)`.execute(db);
  await sql`
    CREATE FUNCTION events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'events are append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
    END $$`.execute(db);
  await sql`
    CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_refuse_change()`.execute(db);
  await sql`
    CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_refuse_change()`.execute(db);
  await sql`
    CREATE TABLE projection_checkpoints (
      projection text PRIMARY KEY,
      checkpoint text NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
};

export const down = async (): Promise<void> => {
  throw new Error('the event log is never dropped by a migration');
};
