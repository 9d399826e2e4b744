import { sql, type Kysely } from 'kysely';
import {
  myVoteKey,
  commentsProjection, currentBallotsProjection, myVotesProjection, optionCountDeltas, pollDailyVotesProjection, pollsProjection, voterExclusionProjection, voterRollProjection, kstDay,
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
      await trx
        .insertInto('poll_option_counts')
        .values(deltas.map((d) => ({ poll_id: d.pollId, question_id: d.questionId, option_id: d.optionId, n: d.delta })))
        .onConflict((oc) => oc.columns(['poll_id', 'question_id', 'option_id']).doUpdateSet((eb) => ({ n: eb(eb.ref('poll_option_counts.n'), '+', eb.ref('excluded.n')).$castTo<number>() })))
        .execute();
    },
    clear: async (trx) => {
      await rows.clear(trx);
      await trx.deleteFrom('poll_option_counts').execute();
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
  readModel(voterExclusionProjection, documentRowStore('voter_exclusion_chunks', (row: { pollId: string; entries: string[] }) => ({ poll_id: row.pollId, entries: row.entries }))),
  readModel(commentsProjection, documentRowStore<CommentRow>('comments', (row) => ({ poll_id: row.pollId, posted_at: row.postedAt, hidden: row.hidden }))),
];

type Q = Kysely<Database>;

/** An ISO-8601 instant compared with a timestamptz column (typed as the Date the column reads as). */
const instant = (iso: string) => sql<Date>`${iso}::timestamptz`;

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
  const cursor = filter.cursor ? decodePollCursor(filter.cursor) : null;
  const search = filter.search ? `%${filter.search.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%` : undefined;
  const now = instant(filter.now);
  const rows = await db
    .selectFrom('polls')
    .select(['doc', 'created_at'])
    .where('status', '<>', 'Draft')
    .$if(filter.scope === 'policy', (q) => q.where('official', '=', true))
    .$if(filter.scope === 'general', (q) => q.where('official', '=', false))
    .$if(filter.state === 'open', (q) => q.where('status', 'in', ['Open', 'Scheduled']).where('opens_at', '<=', now).where('closes_at', '>', now))
    .$if(filter.state === 'closed', (q) => q.where((eb) => eb.or([eb('status', 'not in', ['Open', 'Scheduled']), eb('closes_at', '<=', now)])))
    .$if(Boolean(filter.tag), (q) => q.where((eb) => eb(eb.val(filter.tag!), '=', eb.fn.any('tags'))))
    .$if(search !== undefined, (q) => q.where('search', 'like', search!))
    .$if(Boolean(filter.orgId), (q) => q.where('org_id', '=', filter.orgId!))
    .$if(Boolean(filter.creatorId), (q) => q.where('creator_id', '=', filter.creatorId!))
    .$if(cursor !== null, (q) => q.where((eb) => eb(eb.refTuple('created_at', 'id'), '<', eb.tuple(instant(cursor!.createdAt), cursor!.id))))
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit + 1)
    .execute();
  const polls = rows.slice(0, limit).map((r) => r.doc);
  const last = rows.length > limit ? rows[limit - 1] : undefined;
  const nextCursor = last ? Buffer.from(`${new Date(last.created_at).toISOString()}|${last.doc.pollId}`).toString('base64url') : null;
  return { polls, nextCursor };
};

/** Polls that include drafts, for their creator or organisation (admin lists). */
export const listManagedPolls = async (db: Q, owner: { orgId?: string; creatorId?: string }): Promise<PollRow[]> => {
  const rows = await db
    .selectFrom('polls')
    .select('doc')
    .$if(owner.orgId !== undefined && owner.orgId !== '', (q) => q.where('org_id', '=', owner.orgId!))
    .$if(!owner.orgId, (q) => q.where('creator_id', '=', owner.creatorId ?? ''))
    .orderBy('created_at', 'desc')
    .limit(500)
    .execute();
  return rows.map((r) => r.doc);
};

export const getPoll = async (db: Q, pollId: string): Promise<PollRow | null> => {
  const row = await db.selectFrom('polls').select('doc').where('id', '=', pollId).executeTakeFirst();
  return row?.doc ?? null;
};

/** The ids of the `top` polls with the most votes on the day (KST) of `now`: the "Hot" badge. */
export const hotPollIds = async (db: Q, now: string, top = 5): Promise<Set<string>> => {
  const rows = await db.selectFrom('poll_daily_votes').select('poll_id').where('day', '=', kstDay(now)).orderBy('votes', 'desc').orderBy('poll_id').limit(top).execute();
  return new Set(rows.map((r) => r.poll_id));
};

/**
 * Open polls sharing a tag with polls the citizen voted in, excluding those they voted in. Raw SQL: the
 * array overlap (&&) against an unnest of the voted polls' tags has no query-builder form.
 */
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
// Raw SQL: the lower bound is a scalar subquery with a '-infinity' fallback, clearer as SQL than as builder calls.
export const myVotes = async (db: Q, citizenId: string): Promise<Array<MyVoteRow & { poll: PollRow | null }>> => {
  const { rows } = await sql<{ doc: MyVoteRow; poll: PollRow | null }>`
    SELECT m.doc, p.doc AS poll FROM my_votes m LEFT JOIN polls p ON p.id = m.poll_id
    WHERE m.citizen_id = ${citizenId}
      AND m.cast_at >= COALESCE((SELECT created_at FROM citizens WHERE id = ${citizenId}), '-infinity'::timestamptz)
    ORDER BY m.cast_at DESC LIMIT 500`.execute(db);
  return rows.map((r) => ({ ...r.doc, poll: r.poll }));
};

export const votedPollIds = async (db: Q, citizenId: string, pollIds: string[]): Promise<Set<string>> => {
  if (pollIds.length === 0) return new Set();
  // By primary key (see pageFacts: statistics gone stale during a vote made a scan of my_votes look cheaper).
  const rows = await db.selectFrom('my_votes').select('poll_id').where('id', 'in', pollIds.map((pollId) => myVoteKey(citizenId, pollId))).execute();
  return new Set(rows.map((r) => r.poll_id));
};

/**
 * A fingerprint of a poll's counted ballots as stored: their number and a digest of every row's id and
 * row version (xmin, which changes on any rewrite), computed in the database. Equal fingerprints mean no
 * row was added, removed or rewritten, so a check of these rows that passed still holds.
 */
// Raw SQL: xmin (the row version) is a system column the table type does not list.
export const currentBallotsFingerprint = async (db: Q, pollId: string): Promise<string> => {
  const { rows } = await sql<{ f: string }>`
    SELECT count(*)::text || ':' || coalesce(md5(string_agg(id || ':' || xmin::text, ',' ORDER BY id)), '') AS f
    FROM current_ballots WHERE poll_id = ${pollId}`.execute(db);
  return rows[0]!.f;
};

/** Whether a poll has any counted ballot (one index probe: a sealed poll's tally needs only this of its rows). */
export const hasCurrentBallots = async (db: Q, pollId: string): Promise<boolean> =>
  (await db.selectFrom('current_ballots').select('id').where('poll_id', '=', pollId).limit(1).execute()).length > 0;

/** Every counted ballot of a poll, for the tally. */
export const loadCurrentBallots = async (db: Q, pollId: string): Promise<TallyBallot[]> => {
  const rows = await db.selectFrom('current_ballots').select('doc').where('poll_id', '=', pollId).orderBy('id').execute();
  // A sealed poll's rows hold no choices (its tally counts the opened ballots, app/polls/sealedOpening.ts).
  return rows.map(({ doc }) => ({ voterTag: doc.voterTag, selections: doc.selections ?? { selections: {} }, castAt: doc.castAt }));
};

/**
 * Live counts per option (kept by increments as ballots are projected; the tally proper is computed at
 * close). Raw SQL: one round trip for the counts and the ballot total, a UNION of differently shaped rows.
 */
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
  // The array literal is SQL: a bound JavaScript array is not typed text[] by every driver (PGlite).
  const found = await db
    .selectFrom('voter_roll_chunks')
    .select(sql<number>`1`.as('found'))
    .where('poll_id', '=', pollId)
    .where('entries', '@>', sql<string[]>`ARRAY[${keyedPhone}]::text[]`)
    .limit(1)
    .executeTakeFirst();
  return found !== undefined;
};

export const isOnExclusionList = async (db: Q, pollId: string, keyedPhone: string): Promise<boolean> => {
  const { rows } = await sql<{ found: number }>`SELECT 1 AS found FROM voter_exclusion_chunks WHERE poll_id = ${pollId} AND entries @> ARRAY[${keyedPhone}]::text[] LIMIT 1`.execute(db);
  return rows.length > 0;
};

export const listComments = async (db: Q, pollId: string, includeHidden = false): Promise<CommentRow[]> => {
  const rows = await db
    .selectFrom('comments')
    .select('doc')
    .where('poll_id', '=', pollId)
    .$if(!includeHidden, (q) => q.where('hidden', '=', false))
    .orderBy('posted_at')
    .limit(500)
    .execute();
  return rows.map((r) => r.doc);
};

/** Closed policy and budget polls with their reflection, newest first (the policy results page). */
export const listReflections = async (db: Q, limit = 50): Promise<PollRow[]> => {
  const rows = await db
    .selectFrom('polls')
    .select('doc')
    .where('kind', 'in', ['policy', 'budget'])
    .where('status', 'in', ['Closed', 'ResultPublished', 'Reflected'])
    .orderBy('closes_at', 'desc')
    .limit(limit)
    .execute();
  return rows.map((r) => r.doc);
};

/** Polls whose open or close time has passed but whose status does not show it yet (the scheduler's work). */
export const duePolls = async (db: Q, now: string): Promise<Array<{ pollId: string; status: string; official: boolean; due: 'open' | 'close' }>> => {
  const rows = await db
    .selectFrom('polls')
    .select(['id', 'status', 'official', 'opens_at', 'closes_at'])
    .where((eb) =>
      eb.or([
        eb.and([eb('status', 'in', ['Open', 'Scheduled']), eb('closes_at', '<=', instant(now))]),
        eb.and([eb('status', '=', 'Scheduled'), eb('opens_at', '<=', instant(now))]),
        eb.and([eb('status', '=', 'Closed'), eb('official', '=', false)]),
      ]),
    )
    .limit(100)
    .execute();
  return rows.map((r) => ({
    pollId: r.id, status: r.status, official: r.official,
    due: r.status === 'Closed' || new Date(r.closes_at).getTime() <= Date.parse(now) ? 'close' : 'open',
  }));
};

/** First-come seats: one atomic statement, so concurrent voters can never take more than `cap`. */
export const claimCapSeat = async (db: Q, pollId: string, cap: number): Promise<boolean> => {
  const claimed = await db
    .insertInto('poll_cap_seats')
    .values({ poll_id: pollId, taken: 1 })
    .onConflict((oc) => oc.column('poll_id').doUpdateSet((eb) => ({ taken: eb(eb.ref('poll_cap_seats.taken'), '+', 1) })).where('poll_cap_seats.taken', '<', cap))
    .returning('taken')
    .executeTakeFirst();
  return claimed !== undefined && cap >= 1;
};

export const releaseCapSeat = async (db: Q, pollId: string): Promise<void> => {
  await db.updateTable('poll_cap_seats').set((eb) => ({ taken: eb(eb.ref('taken'), '-', 1) })).where('poll_id', '=', pollId).where('taken', '>', 0).execute();
};
