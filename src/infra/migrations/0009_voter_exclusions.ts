import { sql, type Kysely } from 'kysely';

/** A poll's exclusion list: keyed phone hashes per uploaded chunk, searched like the voter roll (GIN). */
export const up = async (db: Kysely<any>): Promise<void> => {
  await sql`CREATE TABLE voter_exclusion_chunks (id text PRIMARY KEY, doc jsonb NOT NULL, poll_id text NOT NULL, entries text[] NOT NULL)`.execute(db);
  await sql`CREATE INDEX voter_exclusion_chunks_entries ON voter_exclusion_chunks USING gin (entries)`.execute(db);
};

export const down = async (db: Kysely<any>): Promise<void> => {
  await sql`DROP TABLE IF EXISTS voter_exclusion_chunks`.execute(db);
};
