import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds, type TestDb } from '../../../test/support/testDb.ts';
import { pageReads } from './pageReads.ts';

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
});
