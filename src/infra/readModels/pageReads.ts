import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';
import { createBatchLoader } from '../identity/batchLoader.ts';
import { getVerifications, type PollVerification } from './pollVerification.ts';

/**
 * The reads every signed-in voter's poll page makes about that voter, coalesced across requests: the
 * header's unread-notifications mark (latest reflection of a poll they voted in), whether they voted in
 * the poll and their counted ballot's tracker, and the poll's verification badge. Each was one statement
 * per page; at 300 voters/s that was four of every five statements the app sent, and the app's pool of
 * connections (not its CPU, not PostgreSQL's) was where requests queued. Look-ups made while a query
 * runs go together in the next one (createBatchLoader: one query at a time per kind).
 *
 * Nothing is cached (ttl 0): every answer comes from a query that started after the look-up was asked,
 * so a page shows a ballot or a badge as fresh as one query per page showed it.
 */
export const pageReads = (db: Kysely<Database>) => {
  const reflections = createBatchLoader<string | null>((citizenIds) => latestReflectionsFor(db, citizenIds), { ttlMs: 0 });
  const votes = createBatchLoader<{ voted: boolean; tracker: string | null }>(
    async (keys) => {
      const found = await myVoteFacts(db, keys.map((key) => JSON.parse(key) as [string, string]));
      return new Map(keys.map((key) => [key, found.get(key) ?? { voted: false, tracker: null }]));
    },
    { ttlMs: 0 },
  );
  const verifications = createBatchLoader<PollVerification | null>(
    async (pollIds) => {
      const found = await getVerifications(db, pollIds);
      return new Map(pollIds.map((id) => [id, found.get(id) ?? null]));
    },
    { ttlMs: 0 },
  );
  const voteOf = async (citizenId: string, pollId: string) => (await votes.load(pairKey(citizenId, pollId))) ?? { voted: false, tracker: null };
  return {
    latestReflection: async (citizenId: string): Promise<string | null> => (await reflections.load(citizenId)) ?? null,
    votedPollIds: async (citizenId: string, pollIds: string[]): Promise<Set<string>> => {
      const voted = await Promise.all(pollIds.map(async (pollId) => ((await voteOf(citizenId, pollId)).voted ? pollId : null)));
      return new Set(voted.filter((id): id is string => id !== null));
    },
    myTracker: async (citizenId: string, pollId: string): Promise<string | null> => (await voteOf(citizenId, pollId)).tracker,
    verifications: async (pollIds: readonly string[]): Promise<Map<string, PollVerification>> => {
      const found = await Promise.all(pollIds.map((id) => verifications.load(id)));
      return new Map(found.filter((v): v is PollVerification => v != null).map((v) => [v.pollId, v]));
    },
  };
};

export type PageReads = ReturnType<typeof pageReads>;

const pairKey = (citizenId: string, pollId: string) => JSON.stringify([citizenId, pollId]);

/**
 * Per citizen: when the newest policy reflection of a poll they voted in was posted or updated (the
 * header's unread mark), counting only ballots cast since the account's current registration (myVotes'
 * rule, readModels/polls.ts). Many citizens in one statement.
 */
export const latestReflectionsFor = async (db: Kysely<Database>, citizenIds: string[]): Promise<Map<string, string | null>> => {
  const { rows } = await sql<{ citizen_id: string; at: string | null }>`
    SELECT c.id AS citizen_id, (
      SELECT max(p.doc->'reflection'->>'updatedAt') FROM my_votes m JOIN polls p ON p.id = m.poll_id
      WHERE m.citizen_id = c.id AND p.status = 'Reflected'
        AND m.cast_at >= COALESCE((SELECT created_at FROM citizens WHERE id = c.id), '-infinity'::timestamptz)
    ) AS at
    FROM unnest(${citizenIds}::text[]) AS c(id)`.execute(db);
  return new Map(rows.map((r) => [r.citizen_id, r.at]));
};

/**
 * For each (citizen, poll) with a my_votes row: voted (votedPollIds' rule: the row exists) and the
 * tracker of the ballot that counts (myVotes' rule: none cast before the account's current registration,
 * so a number that signed in again after a deletion does not see an old tracker). Pairs without a row
 * are absent.
 */
export const myVoteFacts = async (db: Kysely<Database>, pairs: Array<[string, string]>): Promise<Map<string, { voted: boolean; tracker: string | null }>> => {
  const { rows } = await sql<{ citizen_id: string; poll_id: string; tracker: string | null; counts: boolean }>`
    SELECT m.citizen_id, m.poll_id, m.doc->>'tracker' AS tracker,
      m.cast_at >= COALESCE((SELECT created_at FROM citizens WHERE id = m.citizen_id), '-infinity'::timestamptz) AS counts
    FROM unnest(${pairs.map(([c]) => c)}::text[], ${pairs.map(([, p]) => p)}::text[]) AS k(citizen_id, poll_id)
    JOIN my_votes m ON m.citizen_id = k.citizen_id AND m.poll_id = k.poll_id`.execute(db);
  return new Map(rows.map((r) => [pairKey(r.citizen_id, r.poll_id), { voted: true, tracker: r.counts ? r.tracker : null }]));
};
