import { sql, type Kysely } from 'kysely';

/**
 * Rate limits move to rate-limiter-flexible's PostgreSQL store: its table (the library's own layout,
 * created here so the schema stays under migrations) replaces the hand-written fixed-window counters.
 */
export const up = async (db: Kysely<unknown>): Promise<void> => {
  await sql`DROP TABLE IF EXISTS rate_limits`.execute(db);
  await sql`
    CREATE TABLE rate_limiter (
      key varchar(255) PRIMARY KEY,
      points integer NOT NULL DEFAULT 0,
      expire bigint
    )`.execute(db);
  await sql`CREATE INDEX rate_limiter_expire ON rate_limiter (expire)`.execute(db);
};

export const down = async (db: Kysely<unknown>): Promise<void> => {
  await sql`DROP TABLE IF EXISTS rate_limiter`.execute(db);
  await sql`
    CREATE TABLE rate_limits (
      key text NOT NULL,
      window_start timestamptz NOT NULL,
      hits integer NOT NULL,
      PRIMARY KEY (key, window_start)
    )`.execute(db);
};
