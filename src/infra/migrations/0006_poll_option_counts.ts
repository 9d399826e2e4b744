import { sql, type Kysely } from 'kysely';

/**
 * Live counts per option, kept by increments as ballots are projected (a re-vote moves its counts),
 * so a poll page reads a few dozen rows instead of grouping every current ballot of the poll. Filled
 * here from the current ballots, so a database migrated mid-poll starts right.
 */
export const up = async (db: Kysely<unknown>): Promise<void> => {
  await sql`
    CREATE TABLE poll_option_counts (
      poll_id text NOT NULL,
      question_id text NOT NULL,
      option_id text NOT NULL,
      n bigint NOT NULL,
      PRIMARY KEY (poll_id, question_id, option_id)
    )`.execute(db);
  await sql`
    INSERT INTO poll_option_counts (poll_id, question_id, option_id, n)
    SELECT b.poll_id, q.key, o.value, count(*)
    FROM current_ballots b, jsonb_each(b.doc->'selections'->'selections') q, jsonb_array_elements_text(q.value) o
    GROUP BY 1, 2, 3`.execute(db);
};

export const down = async (db: Kysely<unknown>): Promise<void> => {
  await sql`DROP TABLE poll_option_counts`.execute(db);
};
