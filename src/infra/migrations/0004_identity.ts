import { sql, type Kysely } from 'kysely';

/**
 * Identity: the citizens and organisations read models, and the non-event state of sign-in (one-time
 * codes, rate-limit windows, sessions), per-citizen encryption keys and the development SMS outbox.
 * Keys live here and never in events: deleting a row forgets a citizen (crypto-shredding).
 */
export const up = async (db: Kysely<unknown>): Promise<void> => {
  await sql`
    CREATE TABLE citizens (
      id text PRIMARY KEY,
      roles jsonb NOT NULL,
      org_id text,
      status text NOT NULL,
      official_status text,
      created_at timestamptz NOT NULL
    )`.execute(db);
  await sql`CREATE INDEX citizens_officials ON citizens (org_id) WHERE org_id IS NOT NULL`.execute(db);
  await sql`
    CREATE TABLE organisations (
      id text PRIMARY KEY,
      name text NOT NULL,
      kind text NOT NULL,
      created_by text NOT NULL,
      created_at timestamptz NOT NULL
    )`.execute(db);
  await sql`
    CREATE TABLE citizen_keys (
      citizen_id text PRIMARY KEY,
      key_hex text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`
    CREATE TABLE otp_challenges (
      phone_hash text PRIMARY KEY,
      code_hash text NOT NULL,
      expires_at timestamptz NOT NULL,
      attempts_left integer NOT NULL
    )`.execute(db);
  await sql`
    CREATE TABLE rate_limits (
      key text NOT NULL,
      window_start timestamptz NOT NULL,
      hits integer NOT NULL,
      PRIMARY KEY (key, window_start)
    )`.execute(db);
  await sql`
    CREATE TABLE sessions (
      id text PRIMARY KEY,
      data jsonb NOT NULL,
      citizen_id text,
      expires_at timestamptz NOT NULL
    )`.execute(db);
  await sql`CREATE INDEX sessions_citizen ON sessions (citizen_id) WHERE citizen_id IS NOT NULL`.execute(db);
  await sql`CREATE INDEX sessions_expiry ON sessions (expires_at)`.execute(db);
  await sql`
    CREATE TABLE sms_outbox (
      id bigserial PRIMARY KEY,
      to_e164 text NOT NULL,
      body text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
};

export const down = async (db: Kysely<unknown>): Promise<void> => {
  for (const table of ['sms_outbox', 'sessions', 'rate_limits', 'otp_challenges', 'citizen_keys', 'organisations', 'citizens'])
    await sql`DROP TABLE ${sql.table(table)}`.execute(db);
};
