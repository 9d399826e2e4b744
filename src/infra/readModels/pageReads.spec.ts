import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seqScannedTables } from '../../../test/support/queryPlan.ts';
import { testDatabaseKinds, type TestDb } from '../../../test/support/testDb.ts';
import { pageFacts, pageFactsQuery, pageReads, type FactKey } from './pageReads.ts';

describe.each(testDatabaseKinds())('page reads coalesced across requests ($name)', ({ create }) => {
  let db: TestDb;
  beforeAll(async () => {
    db = await create();
    const k = db.kysely;
    // c1 voted in p1 and p2 (p2 reflected); c2 re-registered after voting in p1 (that ballot no longer counts for them).
    await sql`INSERT INTO citizens (id, roles, status, created_at) VALUES
      ('c1', '["citizen"]', 'active', '2026-01-01T00:00:00Z'), ('c2', '["citizen"]', 'active', '2026-06-01T00:00:00Z'), ('c3', '["citizen"]', 'active', '2026-01-01T00:00:00Z')`.execute(k);
    const poll = (id: string, status: string, reflection: string | null) =>
      sql`INSERT INTO polls (id, doc, kind, status, official, creator_id, tags, search, opens_at, closes_at, created_at, ballots)
        VALUES (${id}, ${JSON.stringify({ pollId: id, ...(reflection ? { reflection: { updatedAt: reflection } } : {}) })}::jsonb, 'policy', ${status}, true, 'o', '{}', '', now(), now(), now(), 0)`.execute(k);
    await poll('p1', 'Open', null);
    await poll('p2', 'Reflected', '2026-03-01T00:00:00.000Z');
    const vote = (citizenId: string, pollId: string, tracker: string, castAt: string) =>
      sql`INSERT INTO my_votes (id, doc, citizen_id, poll_id, cast_at) VALUES (${`${citizenId}|${pollId}`}, ${JSON.stringify({ citizenId, pollId, tracker, castAt })}::jsonb, ${citizenId}, ${pollId}, ${castAt})`.execute(k);
    await vote('c1', 'p1', 'AAAA-AAAA-AAAA', '2026-02-01T00:00:00Z');
    await vote('c1', 'p2', 'BBBB-BBBB-BBBB', '2026-02-01T00:00:00Z');
    await vote('c2', 'p1', 'CCCC-CCCC-CCCC', '2026-02-01T00:00:00Z');
    await vote('c2', 'p2', 'DDDD-DDDD-DDDD', '2026-02-01T00:00:00Z');
  });
  afterAll(async () => db?.close());

  it('answers every concurrent voter with their own facts, under the single reads\u2019 rules', async () => {
    const reads = pageReads(db.kysely);
    const [t1, t2, t3, v1, v2, v3, r1, r2, r3] = await Promise.all([
      reads.myTracker('c1', 'p1'), reads.myTracker('c2', 'p1'), reads.myTracker('c3', 'p1'),
      reads.votedPollIds('c1', ['p1', 'p2', 'p3']), reads.votedPollIds('c2', ['p1']), reads.votedPollIds('c3', ['p1']),
      reads.latestReflection('c1'), reads.latestReflection('c2'), reads.latestReflection('c3'),
    ]);
    expect([t1, t2, t3]).toEqual(['AAAA-AAAA-AAAA', null, null]);
    // Voted is whether the row exists (as on the poll card), the tracker only what counts since re-registration.
    expect([[...v1].sort(), [...v2], [...v3]]).toEqual([['p1', 'p2'], ['p1'], []]);
    expect([r1, r2, r3]).toEqual(['2026-03-01T00:00:00.000Z', null, null]);
  });

  it('reads a verification written after the last read (nothing is kept between requests)', async () => {
    const reads = pageReads(db.kysely);
    expect((await reads.verifications(['p1'])).get('p1')).toBeUndefined();
    await sql`INSERT INTO poll_verification (poll_id, status, detail, updated_at) VALUES ('p1', 'completed', '', now())`.execute(db.kysely);
    const [a, b] = await Promise.all([reads.verifications(['p1', 'p2']), reads.verifications(['p1'])]);
    expect([a.get('p1')?.status, a.has('p2'), b.get('p1')?.status]).toEqual(['completed', false, 'completed']);
  });

  it('looks a voter\u2019s ballot up by its row key: no scan of every vote, even on statistics taken early in a vote', async () => {
    const k = db.kysely;
    // Statistics taken when few citizens had voted in many polls (400 rows a citizen, poll by poll, so
    // each citizen's rows are spread over the table), then a vote's
    // 3,000 new voters: on those statistics a join on (citizen, poll) was planned as a sequential scan
    // of my_votes (issue 14: every poll page, growing with the vote).
    await sql`INSERT INTO my_votes (id, doc, citizen_id, poll_id, cast_at)
      SELECT 'x' || c || '|q' || q, jsonb_build_object('tracker', 'ABCD-EFGH-IJKL', 'ballotId', gen_random_uuid()), 'x' || c, 'q' || q, now()
      FROM generate_series(1, 400) q, generate_series(1, 100) c`.execute(k);
    await sql`ANALYZE my_votes`.execute(k);
    await sql`INSERT INTO my_votes (id, doc, citizen_id, poll_id, cast_at)
      SELECT 'y' || c || '|p1', jsonb_build_object('tracker', 'T' || c), 'y' || c, 'p1', now() FROM generate_series(1, 3000) c`.execute(k);
    const keys: FactKey[] = [...Array.from({ length: 8 }, (_, i): FactKey => ['v', `y${i + 1}`, 'p1']), ['v', 'y9', 'p2'], ['r', 'y1'], ['b', 'p1']];
    expect(await seqScannedTables(k, pageFactsQuery(keys))).not.toContain('my_votes');
    const facts = await pageFacts(k, keys);
    expect(facts.get(JSON.stringify(['v', 'y3', 'p1']))).toEqual({ voted: true, tracker: 'T3' });
    expect(facts.has(JSON.stringify(['v', 'y9', 'p2']))).toBe(false);
  });
});
