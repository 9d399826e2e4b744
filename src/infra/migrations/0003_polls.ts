import { sql, type Kysely } from 'kysely';

/** Read models of polls, ballots, rolls and comments: a JSON document per row plus the columns pages query. */
export const up = async (db: Kysely<unknown>): Promise<void> => {
  await sql`
    CREATE TABLE polls (
      id text PRIMARY KEY,
      doc jsonb NOT NULL,
      kind text NOT NULL,
      status text NOT NULL,
      official boolean NOT NULL,
      org_id text,
      creator_id text NOT NULL,
      tags text[] NOT NULL,
      search text NOT NULL,
      opens_at timestamptz NOT NULL,
      closes_at timestamptz NOT NULL,
      created_at timestamptz NOT NULL,
      ballots integer NOT NULL
    )`.execute(db);
  await sql`CREATE INDEX polls_list ON polls (created_at DESC, id)`.execute(db);
  await sql`CREATE INDEX polls_due ON polls (status, closes_at)`.execute(db);
  await sql`CREATE INDEX polls_tags ON polls USING gin (tags)`.execute(db);
  await sql`CREATE INDEX polls_org ON polls (org_id)`.execute(db);
  await sql`CREATE TABLE poll_daily_votes (id text PRIMARY KEY, doc jsonb NOT NULL, poll_id text NOT NULL, day date NOT NULL, votes integer NOT NULL)`.execute(db);
  await sql`CREATE INDEX poll_daily_votes_day ON poll_daily_votes (day, votes DESC)`.execute(db);
  await sql`CREATE TABLE current_ballots (id text PRIMARY KEY, doc jsonb NOT NULL, poll_id text NOT NULL, tracker text NOT NULL)`.execute(db);
  await sql`CREATE INDEX current_ballots_poll ON current_ballots (poll_id)`.execute(db);
  await sql`CREATE INDEX current_ballots_tracker ON current_ballots (tracker)`.execute(db);
  await sql`CREATE TABLE my_votes (id text PRIMARY KEY, doc jsonb NOT NULL, citizen_id text NOT NULL, poll_id text NOT NULL, cast_at timestamptz NOT NULL)`.execute(db);
  await sql`CREATE INDEX my_votes_citizen ON my_votes (citizen_id, cast_at DESC)`.execute(db);
  await sql`CREATE TABLE voter_roll_chunks (id text PRIMARY KEY, doc jsonb NOT NULL, poll_id text NOT NULL, entries text[] NOT NULL)`.execute(db);
  await sql`CREATE INDEX voter_roll_chunks_entries ON voter_roll_chunks USING gin (entries)`.execute(db);
  await sql`CREATE TABLE comments (id text PRIMARY KEY, doc jsonb NOT NULL, poll_id text NOT NULL, posted_at timestamptz NOT NULL, hidden boolean NOT NULL)`.execute(db);
  await sql`CREATE INDEX comments_poll ON comments (poll_id, posted_at)`.execute(db);
  /** First-come seats: taken is raised atomically below the cap (not an event: a concurrency guard). */
  await sql`CREATE TABLE poll_cap_seats (poll_id text PRIMARY KEY, taken integer NOT NULL)`.execute(db);
};

export const down = async (db: Kysely<unknown>): Promise<void> => {
  for (const table of ['poll_cap_seats', 'comments', 'voter_roll_chunks', 'my_votes', 'current_ballots', 'poll_daily_votes', 'polls'])
    await sql`DROP TABLE ${sql.table(table)}`.execute(db);
};
