import { sql, type Kysely } from 'kysely';

export const up = async (db: Kysely<unknown>): Promise<void> => {
  await sql`CREATE TABLE platform_stats (id text PRIMARY KEY, polls integer NOT NULL, ballots integer NOT NULL)`.execute(db);
};

export const down = async (db: Kysely<unknown>): Promise<void> => {
  await sql`DROP TABLE platform_stats`.execute(db);
};
