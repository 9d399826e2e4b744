import { sql, type Kysely } from 'kysely';
import { myVoteKey } from '../../app/projections/polls.ts';
import type { Database } from '../db/schema.ts';
import { createBatchLoader } from '../identity/batchLoader.ts';
import { toVerification, type PollVerification } from './pollVerification.ts';

/**
 * The reads every signed-in voter's poll page makes about that voter, coalesced across requests: the
 * header's unread-notifications mark (latest reflection of a poll they voted in), whether they voted in
 * the poll and their counted ballot's tracker, and the poll's verification badge. Each was one statement
 * per page; at 300 voters/s that was four of every five statements the app sent, and the app's pool of
 * connections (not its CPU, not PostgreSQL's) was where requests queued. Every look-up of any of the
 * three kinds made while a query runs goes in the next one, one statement for all (createBatchLoader:
 * one query at a time), so the page's look-ups and other voters' share statements.
 *
 * Nothing is cached (ttl 0): every answer comes from a query that started after the look-up was asked,
 * so a page shows a ballot or a badge as fresh as one query per page showed it.
 */
export const pageReads = (db: Kysely<Database>) => {
  const facts = createBatchLoader<Fact>(async (keys) => pageFacts(db, keys.map((key) => JSON.parse(key) as FactKey)), { ttlMs: 0 });
  const load = async (key: FactKey) => (await facts.load(JSON.stringify(key))) ?? null;
  const voteOf = async (citizenId: string, pollId: string) => ((await load(['v', citizenId, pollId])) as VoteFact | null) ?? { voted: false, tracker: null };
  return {
    latestReflection: async (citizenId: string): Promise<string | null> => ((await load(['r', citizenId])) as ReflectionFact | null)?.at ?? null,
    votedPollIds: async (citizenId: string, pollIds: string[]): Promise<Set<string>> => {
      const voted = await Promise.all(pollIds.map(async (pollId) => ((await voteOf(citizenId, pollId)).voted ? pollId : null)));
      return new Set(voted.filter((id): id is string => id !== null));
    },
    myTracker: async (citizenId: string, pollId: string): Promise<string | null> => (await voteOf(citizenId, pollId)).tracker,
    verifications: async (pollIds: readonly string[]): Promise<Map<string, PollVerification>> => {
      const found = await Promise.all(pollIds.map(async (id) => ((await load(['b', id])) as PollVerification | null)));
      return new Map(found.filter((v): v is PollVerification => v !== null).map((v) => [v.pollId, v]));
    },
  };
};

export type PageReads = ReturnType<typeof pageReads>;

/** A citizen's unread mark ('r'), a citizen's ballot in a poll ('v'), a poll's verification badge ('b'). */
export type FactKey = ['r', string] | ['v', string, string] | ['b', string];
type ReflectionFact = { at: string | null };
type VoteFact = { voted: boolean; tracker: string | null };
type Fact = ReflectionFact | VoteFact | PollVerification;

/**
 * The facts of many keys in one statement. A reflection mark: when the newest policy reflection of a
 * poll the citizen voted in was posted or updated, counting only ballots cast since the account's
 * current registration (myVotes' rule, readModels/polls.ts). A ballot: voted is whether the citizen's
 * my_votes row exists (votedPollIds' rule); the tracker is that of the ballot that counts (myVotes'
 * rule: none cast before the account's current registration, so a number that signed in again after a
 * deletion does not see an old tracker). A badge: the poll_verification row; absent keys have no fact.
 * A ballot is looked up by the row's primary key (myVoteKey): a join on (citizen, poll) was planned as a
 * parallel sequential scan of my_votes once its statistics went stale during a vote (taken when few
 * citizens had voted, they said ~380 rows per citizen), every page, growing with the vote.
 */
export const pageFactsQuery = (keys: FactKey[]) => {
  const of = <K extends FactKey[0]>(kind: K) => keys.filter((k): k is Extract<FactKey, [K, ...string[]]> => k[0] === kind);
  const reflections = of('r').map((k) => k[1]);
  const votes = of('v');
  const badges = of('b').map((k) => k[1]);
  return sql<{ kind: 'r' | 'v' | 'b'; a: string; b: string | null; at: string | null; counts: boolean | null; status: PollVerification['status'] | null; updated_at: Date | string | null }>`
    SELECT 'r' AS kind, c.id AS a, NULL::text AS b, (
      SELECT max(p.doc->'reflection'->>'updatedAt') FROM my_votes m JOIN polls p ON p.id = m.poll_id
      WHERE m.citizen_id = c.id AND p.status = 'Reflected'
        AND m.cast_at >= COALESCE((SELECT created_at FROM citizens WHERE id = c.id), '-infinity'::timestamptz)
    ) AS at, NULL::boolean AS counts, NULL::text AS status, NULL::timestamptz AS updated_at
    FROM unnest(${reflections}::text[]) AS c(id)
    UNION ALL
    SELECT 'v', m.citizen_id, m.poll_id, m.doc->>'tracker',
      m.cast_at >= COALESCE((SELECT created_at FROM citizens WHERE id = m.citizen_id), '-infinity'::timestamptz), NULL, NULL
    FROM my_votes m WHERE m.id = ANY(${votes.map((k) => myVoteKey(k[1], k[2]))}::text[])
    UNION ALL
    SELECT 'b', v.poll_id, v.detail, NULL, NULL, v.status, v.updated_at
    FROM poll_verification v WHERE v.poll_id = ANY(${badges}::text[])`;
};

export const pageFacts = async (db: Kysely<Database>, keys: FactKey[]): Promise<Map<string, Fact>> => {
  const { rows } = await pageFactsQuery(keys).execute(db);
  const found = new Map<string, Fact>();
  for (const r of rows) {
    if (r.kind === 'r') found.set(JSON.stringify(['r', r.a]), { at: r.at });
    else if (r.kind === 'v') found.set(JSON.stringify(['v', r.a, r.b]), { voted: true, tracker: r.counts ? r.at : null });
    else found.set(JSON.stringify(['b', r.a]), toVerification({ poll_id: r.a, status: r.status!, detail: r.b ?? '', updated_at: r.updated_at! }));
  }
  return found;
};
