import { sql, type Kysely } from 'kysely';

/**
 * The app's side of the ledger: what the anchoring service handed to the nodes (one row per leaf, in
 * leaf order, written in the same transaction as its subscription checkpoint), the final checkpoints
 * the nodes signed, each poll's verification state and the tamper-watch alerts.
 */
export const up = async (db: Kysely<unknown>): Promise<void> => {
  await sql`CREATE TABLE ledger_anchor_checkpoint (name text PRIMARY KEY, checkpoint text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())`.execute(db);
  await sql`
    CREATE TABLE ledger_entries (
      leaf_index bigint PRIMARY KEY,
      event_id text NOT NULL UNIQUE,
      poll_id text NOT NULL,
      event_type text NOT NULL,
      tracker text,
      entry_hash text NOT NULL,
      entry_text text NOT NULL,
      committed_at timestamptz NOT NULL,
      anchored_at timestamptz
    )`.execute(db);
  await sql`CREATE INDEX ledger_entries_poll ON ledger_entries (poll_id, leaf_index)`.execute(db);
  await sql`CREATE UNIQUE INDEX ledger_entries_tracker ON ledger_entries (tracker) WHERE tracker IS NOT NULL`.execute(db);
  await sql`CREATE TABLE ledger_checkpoints (size bigint PRIMARY KEY, note text NOT NULL, finalized_at timestamptz NOT NULL DEFAULT now())`.execute(db);
  await sql`
    CREATE TABLE poll_verification (
      poll_id text PRIMARY KEY,
      status text NOT NULL CHECK (status IN ('pending', 'completed', 'failed')),
      detail text NOT NULL DEFAULT '',
      tally jsonb,
      tally_size bigint,
      updated_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`
    CREATE TABLE ledger_alerts (
      id bigserial PRIMARY KEY,
      alert_key text NOT NULL UNIQUE,
      kind text NOT NULL,
      poll_id text,
      leaf_index bigint,
      event_id text,
      message text NOT NULL,
      raised_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
};

export const down = async (db: Kysely<unknown>): Promise<void> => {
  for (const table of ['ledger_alerts', 'poll_verification', 'ledger_checkpoints', 'ledger_entries', 'ledger_anchor_checkpoint'])
    await sql`DROP TABLE ${sql.table(table)}`.execute(db);
};
