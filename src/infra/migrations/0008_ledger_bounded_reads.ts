import { sql, type Kysely } from 'kysely';

/**
 * Reads of the ledger tables bounded by what changed:
 * - the node tallies look for published results among the leaves a new final checkpoint added, and
 *   for polls still pending: two small partial indexes over PollResultPublished leaves only (one row
 *   per published poll) instead of a scan of every leaf filtered on its type;
 * - `anchored_at` goes: every leaf row was updated once more to set it (one dead tuple per ballot for
 *   vacuum), and whether a leaf is anchored is `leaf_index < ` the last final size anyway;
 * - pending verifications are found by a partial index, not by reading every poll's row.
 */
export const up = async (db: Kysely<unknown>): Promise<void> => {
  await sql`CREATE INDEX ledger_entries_published_at ON ledger_entries (leaf_index) WHERE event_type = 'PollResultPublished'`.execute(db);
  await sql`CREATE INDEX ledger_entries_published_poll ON ledger_entries (poll_id) WHERE event_type = 'PollResultPublished'`.execute(db);
  await sql`CREATE INDEX poll_verification_pending ON poll_verification (poll_id) WHERE status = 'pending'`.execute(db);
  await sql`ALTER TABLE ledger_entries DROP COLUMN anchored_at`.execute(db);
};

export const down = async (db: Kysely<unknown>): Promise<void> => {
  await sql`ALTER TABLE ledger_entries ADD COLUMN anchored_at timestamptz`.execute(db);
  for (const index of ['poll_verification_pending', 'ledger_entries_published_poll', 'ledger_entries_published_at']) await sql`DROP INDEX ${sql.ref(index)}`.execute(db);
};
