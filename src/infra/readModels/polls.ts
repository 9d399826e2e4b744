import { sql, type Kysely } from 'kysely';
import {
  commentsProjection, currentBallotsProjection, myVotesProjection, optionCountDeltas, pollDailyVotesProjection, pollsProjection, voterRollProjection, kstDay,
  type CommentRow, type CurrentBallotRow, type MyVoteRow, type PollRow,
} from '../../app/projections/polls.ts';
import type { TallyBallot } from '../../domain/tally.ts';
import type { Database } from '../db/schema.ts';
import { readModel, type AnyReadModel, type RowStore } from '../projections/runner.ts';
import { documentRowStore } from './documentRowStore.ts';

const searchTextOf = (row: PollRow) =>
  [row.title, row.definition.description ?? '', ...row.tags, ...row.definition.questions.flatMap((q) => [q.text, ...q.options.map((o) => o.label)])].join(' ').toLowerCase();

/** Current ballots, with the live option counts moved by increments in the same transaction. */
const currentBallotsStore: RowStore<CurrentBallotRow> = (() => {
  const rows = documentRowStore<CurrentBallotRow>('current_ballots', (row) => ({ poll_id: row.pollId, tracker: row.tracker }));
  return {
    load: rows.load,
    save: async (trx, changes, before) => {
      await rows.save(trx, changes, before);
      const deltas = optionCountDeltas(changes, before);
      if (deltas.length === 0) return;
      await sql`
        INSERT INTO poll_option_counts (poll_id, question_id, option_id, n)
        VALUES ${sql.join(deltas.map((d) => sql`(${d.pollId}, ${d.questionId}, ${d.optionId}, ${d.delta})`))}
        ON CONFLICT (poll_id, question_id, option_id) DO UPDATE SET n = poll_option_counts.n + excluded.n`.execute(trx);
    },
    clear: async (trx) => {
      await rows.clear(trx);
      await sql`DELETE FROM poll_option_counts`.execute(trx);
    },
  };
})();

export const pollReadModels: AnyReadModel[] = [
  readModel(
    pollsProjection,
    documentRowStore<PollRow>('polls', (row) => ({
      kind: row.kind, status: row.status, official: row.creatorKind === 'official', org_id: row.orgId, creator_id: row.creatorId,
      tags: row.tags, search: searchTextOf(row), opens_at: row.opensAt, closes_at: row.closesAt, created_at: row.createdAt, ballots: row.ballots,
    })),
  ),
  readModel(pollDailyVotesProjection, documentRowStore('poll_daily_votes', (row: { pollId: string; day: string; votes: number }) => ({ poll_id: row.pollId, day: row.day, votes: row.votes }))),
  readModel(currentBallotsProjection, currentBallotsStore),
  readModel(myVotesProjection, documentRowStore<MyVoteRow>('my_votes', (row) => ({ citizen_id: row.citizenId, poll_id: row.pollId, cast_at: row.castAt }))),
  readModel(voterRollProjection, documentRowStore('voter_roll_chunks', (row: { pollId: string; entries: string[] }) => ({ poll_id: row.pollId, entries: row.entries }))),
  readModel(commentsProjection, documentRowStore<CommentRow>('comments', (row) => ({ poll_id: row.pollId, posted_at: row.postedAt, hidden: row.hidden }))),
];

type Q = Kysely<Database>;

export interface PollListFilter {
  /** 'policy' = every official poll (policy, survey, budget); 'general' = citizen polls (general, vs). */
  scope?: 'policy' | 'general';
  state?: 'open' | 'closed';
  tag?: string;
  search?: string;
  orgId?: string;
  creatorId?: string;
  /** Keyset paging: the `cursor` of the last card of the previous page. */
  cursor?: string;
  limit?: number;
  now: string;
}

export interface PollListPage {
  polls: PollRow[];
  nextCursor: string | null;
}

/**
 * Newest first, keyset-paged on (created_at, id) so page 1,000 costs what page 1 costs. "Open" and
 * "closed" follow the clock, like the deciders do, not only the last status event.
 */
/**
 * A list cursor's parts (`base64url(ISO time|poll id)`, made by listPolls), or null when it is not one:
 * a cursor is client input, and a date part that is not a date must not reach PostgreSQL's cast.
 */
export const decodePollCursor = (cursor: string): { createdAt: string; id: string } | null => {
  const text = Buffer.from(cursor, 'base64url').toString('utf8');
  const bar = text.indexOf('|');
  if (bar < 0) return null;
  const [createdAt, id] = [text.slice(0, bar), text.slice(bar + 1)];
  const ok = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/.test(createdAt) && !Number.isNaN(Date.parse(createdAt)) && id !== '' && id.length <= 200 && !/[\u0000\uFFFD]/.test(id);
  return ok ? { createdAt, id } : null;
};

export const listPolls = async (db: Q, filter: PollListFilter): Promise<PollListPage> => {
  const limit = Math.min(Math.max(filter.limit ?? 20, 1), 100);
  const conditions = [sql`status <> 'Draft'`];
  if (filter.scope === 'policy') conditions.push(sql`official`);
  if (filter.scope === 'general') conditions.push(sql`NOT official`);
  if (filter.state === 'open') conditions.push(sql`status IN ('Open', 'Scheduled') AND opens_at <= ${filter.now}::timestamptz AND closes_at > ${filter.now}::timestamptz`);
  if (filter.state === 'closed') conditions.push(sql`(status NOT IN ('Open', 'Scheduled') OR closes_at <= ${filter.now}::timestamptz)`);
  if (filter.tag) conditions.push(sql`${filter.tag} = ANY(tags)`);
  if (filter.search) conditions.push(sql`search LIKE ${`%${filter.search.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`}`);
  if (filter.orgId) conditions.push(sql`org_id = ${filter.orgId}`);
  if (filter.creatorId) conditions.push(sql`creator_id = ${filter.creatorId}`);
  const cursor = filter.cursor ? decodePollCursor(filter.cursor) : null;
  if (cursor) conditions.push(sql`(created_at, id) < (${cursor.createdAt}::timestamptz, ${cursor.id})`);
  const { rows } = await sql<{ doc: PollRow; created_at: Date | string }>`
    SELECT doc, created_at FROM polls WHERE ${sql.join(conditions, sql` AND `)}
    ORDER BY created_at DESC, id DESC LIMIT ${limit + 1}`.execute(db);
  const polls = rows.slice(0, limit).map((r) => r.doc);
  const last = rows.length > limit ? rows[limit - 1] : undefined;
  const nextCursor = last ? Buffer.from(`${new Date(last.created_at).toISOString()}|${last.doc.pollId}`).toString('base64url') : null;
  return { polls, nextCursor };
};

/** Polls that include drafts, for their creator or organisation (admin lists). */
export const listManagedPolls = async (db: Q, owner: { orgId?: string; creatorId?: string }): Promise<PollRow[]> => {
  const where = owner.orgId ? sql`org_id = ${owner.orgId}` : sql`creator_id = ${owner.creatorId ?? ''}`;
  const { rows } = await sql<{ doc: PollRow }>`SELECT doc FROM polls WHERE ${where} ORDER BY created_at DESC LIMIT 500`.execute(db);
  return rows.map((r) => r.doc);
};

export const getPoll = async (db: Q, pollId: string): Promise<PollRow | null> => {
  const { rows } = await sql<{ doc: PollRow }>`SELECT doc FROM polls WHERE id = ${pollId}`.execute(db);
  return rows[0]?.doc ?? null;
};

/** The ids of the `top` polls with the most votes on the day (KST) of `now`: the "Hot" badge. */
export const hotPollIds = async (db: Q, now: string, top = 5): Promise<Set<string>> => {
  const { rows } = await sql<{ poll_id: string }>`
    SELECT poll_id FROM poll_daily_votes WHERE day = ${kstDay(now)}::date ORDER BY votes DESC, poll_id LIMIT ${top}`.execute(db);
  return new Set(rows.map((r) => r.poll_id));
};

/** Open polls sharing a tag with polls the citizen voted in, excluding those they voted in. */
export const recommendedPolls = async (db: Q, citizenId: string, now: string, limit = 5): Promise<PollRow[]> => {
  const { rows } = await sql<{ doc: PollRow }>`
    WITH voted AS (SELECT poll_id FROM my_votes WHERE citizen_id = ${citizenId}),
         liked AS (SELECT DISTINCT unnest(p.tags) AS tag FROM polls p JOIN voted v ON v.poll_id = p.id)
    SELECT p.doc FROM polls p
    WHERE p.tags && ARRAY(SELECT tag FROM liked)
      AND p.id NOT IN (SELECT poll_id FROM voted)
      AND p.status IN ('Open', 'Scheduled') AND p.opens_at <= ${now}::timestamptz AND p.closes_at > ${now}::timestamptz
    ORDER BY p.ballots DESC, p.id LIMIT ${limit}`.execute(db);
  return rows.map((r) => r.doc);
};

/**
 * A citizen's ballots with their trackers, cast since the account's current registration: an account
 * that came back after deletion (its number signed in again, perhaps a recycled number in a stranger's
 * hands) does not list the trackers of ballots cast before.
 */
export const myVotes = async (db: Q, citizenId: string): Promise<Array<MyVoteRow & { poll: PollRow | null }>> => {
  const { rows } = await sql<{ doc: MyVoteRow; poll: PollRow | null }>`
    SELECT m.doc, p.doc AS poll FROM my_votes m LEFT JOIN polls p ON p.id = m.poll_id
    WHERE m.citizen_id = ${citizenId}
      AND m.cast_at >= COALESCE((SELECT created_at FROM citizens WHERE id = ${citizenId}), '-infinity'::timestamptz)
    ORDER BY m.cast_at DESC LIMIT 500`.execute(db);
  return rows.map((r) => ({ ...r.doc, poll: r.poll }));
};

/** When the newest policy reflection of a poll the citizen voted in was posted or updated (the header's unread mark). */
export const latestReflectionFor = async (db: Q, citizenId: string): Promise<string | null> => {
  const { rows } = await sql<{ at: string | null }>`
    SELECT max(p.doc->'reflection'->>'updatedAt') AS at FROM my_votes m JOIN polls p ON p.id = m.poll_id
    WHERE m.citizen_id = ${citizenId} AND p.status = 'Reflected'
      AND m.cast_at >= COALESCE((SELECT created_at FROM citizens WHERE id = ${citizenId}), '-infinity'::timestamptz)`.execute(db);
  return rows[0]?.at ?? null;
};

/** The tracker of the citizen's ballot that counts in a poll, under the same rule as myVotes (none from before a deletion). */
export const myTracker = async (db: Q, citizenId: string, pollId: string): Promise<string | null> => {
  const { rows } = await sql<{ doc: MyVoteRow }>`
    SELECT m.doc FROM my_votes m
    WHERE m.citizen_id = ${citizenId} AND m.poll_id = ${pollId}
      AND m.cast_at >= COALESCE((SELECT created_at FROM citizens WHERE id = ${citizenId}), '-infinity'::timestamptz)`.execute(db);
  return rows[0]?.doc.tracker ?? null;
};

export const votedPollIds = async (db: Q, citizenId: string, pollIds: string[]): Promise<Set<string>> => {
  if (pollIds.length === 0) return new Set();
  const { rows } = await sql<{ poll_id: string }>`SELECT poll_id FROM my_votes WHERE citizen_id = ${citizenId} AND poll_id = ANY(${pollIds}::text[])`.execute(db);
  return new Set(rows.map((r) => r.poll_id));
};

/**
 * A fingerprint of a poll's counted ballots as stored: their number and a digest of every row's id and
 * row version (xmin, which changes on any rewrite), computed in the database. Equal fingerprints mean no
 * row was added, removed or rewritten, so a check of these rows that passed still holds.
 */
export const currentBallotsFingerprint = async (db: Q, pollId: string): Promise<string> => {
  const { rows } = await sql<{ f: string }>`
    SELECT count(*)::text || ':' || coalesce(md5(string_agg(id || ':' || xmin::text, ',' ORDER BY id)), '') AS f
    FROM current_ballots WHERE poll_id = ${pollId}`.execute(db);
  return rows[0]!.f;
};

/** Every counted ballot of a poll, for the tally. */
export const loadCurrentBallots = async (db: Q, pollId: string): Promise<TallyBallot[]> => {
  const { rows } = await sql<{ doc: CurrentBallotRow }>`SELECT doc FROM current_ballots WHERE poll_id = ${pollId} ORDER BY id`.execute(db);
  return rows.map(({ doc }) => ({ voterTag: doc.voterTag, selections: doc.selections, castAt: doc.castAt }));
};

/** Live counts per option (kept by increments as ballots are projected; the tally proper is computed at close). */
export const liveCounts = async (db: Q, pollId: string): Promise<{ ballots: number; counts: Record<string, Record<string, number>> }> => {
  const { rows } = await sql<{ question_id: string | null; option_id: string | null; n: string | number }>`
    SELECT question_id, option_id, n FROM poll_option_counts WHERE poll_id = ${pollId} AND n <> 0
    UNION ALL SELECT NULL, NULL, ballots FROM polls WHERE id = ${pollId}`.execute(db);
  const counts: Record<string, Record<string, number>> = {};
  let ballots = 0;
  for (const r of rows) {
    if (r.question_id === null || r.option_id === null) ballots = Number(r.n);
    else (counts[r.question_id] ??= {})[r.option_id] = Number(r.n);
  }
  return { ballots, counts };
};

export const isOnVoterRoll = async (db: Q, pollId: string, keyedPhone: string): Promise<boolean> => {
  const { rows } = await sql<{ found: number }>`SELECT 1 AS found FROM voter_roll_chunks WHERE poll_id = ${pollId} AND entries @> ARRAY[${keyedPhone}]::text[] LIMIT 1`.execute(db);
  return rows.length > 0;
};

export const listComments = async (db: Q, pollId: string, includeHidden = false): Promise<CommentRow[]> => {
  const { rows } = await sql<{ doc: CommentRow }>`
    SELECT doc FROM comments WHERE poll_id = ${pollId} ${includeHidden ? sql`` : sql`AND NOT hidden`} ORDER BY posted_at LIMIT 500`.execute(db);
  return rows.map((r) => r.doc);
};

/** Closed policy and budget polls with their reflection, newest first (the policy results page). */
export const listReflections = async (db: Q, limit = 50): Promise<PollRow[]> => {
  const { rows } = await sql<{ doc: PollRow }>`
    SELECT doc FROM polls WHERE kind IN ('policy', 'budget') AND status IN ('Closed', 'ResultPublished', 'Reflected')
    ORDER BY closes_at DESC LIMIT ${limit}`.execute(db);
  return rows.map((r) => r.doc);
};

/** Polls whose open or close time has passed but whose status does not show it yet (the scheduler's work). */
export const duePolls = async (db: Q, now: string): Promise<Array<{ pollId: string; status: string; official: boolean; due: 'open' | 'close' }>> => {
  const { rows } = await sql<{ id: string; status: string; official: boolean; opens_at: Date; closes_at: Date }>`
    SELECT id, status, official, opens_at, closes_at FROM polls
    WHERE (status IN ('Open', 'Scheduled') AND closes_at <= ${now}::timestamptz)
       OR (status = 'Scheduled' AND opens_at <= ${now}::timestamptz)
       OR (status = 'Closed' AND NOT official)
    LIMIT 100`.execute(db);
  return rows.map((r) => ({
    pollId: r.id, status: r.status, official: r.official,
    due: r.status === 'Closed' || new Date(r.closes_at).getTime() <= Date.parse(now) ? 'close' : 'open',
  }));
};

/** First-come seats: one atomic statement, so concurrent voters can never take more than `cap`. */
export const claimCapSeat = async (db: Q, pollId: string, cap: number): Promise<boolean> => {
  const { rows } = await sql<{ taken: number }>`
    INSERT INTO poll_cap_seats (poll_id, taken) VALUES (${pollId}, 1)
    ON CONFLICT (poll_id) DO UPDATE SET taken = poll_cap_seats.taken + 1 WHERE poll_cap_seats.taken < ${cap}
    RETURNING taken`.execute(db);
  return rows.length > 0 && cap >= 1;
};

export const releaseCapSeat = async (db: Q, pollId: string): Promise<void> => {
  await sql`UPDATE poll_cap_seats SET taken = taken - 1 WHERE poll_id = ${pollId} AND taken > 0`.execute(db);
};
