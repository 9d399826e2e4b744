import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { seqScannedTables } from '../../../test/support/queryPlan.ts';
import { createPostgresTestDb, postgresUrl, testDatabaseKinds } from '../../../test/support/testDb.ts';
import { eventStoreContract } from './contract.ts';
import { appendBatchStatement, createPostgresEventStore } from './postgresEventStore.ts';
import { createPostgresEventIntegrity } from './postgresEventIntegrity.ts';
import { digestCount } from '../../app/eventIntegrity.ts';
import type { RecordedEvent } from '../../app/eventStore.ts';
import { sql } from 'kysely';

for (const kind of testDatabaseKinds()) {
  eventStoreContract(kind.name, async () => {
    const db = await kind.create();
    const store = createPostgresEventStore(db, { pollIntervalMs: 20 });
    return { store, close: async () => { await store.close(); await db.close(); } };
  });

  describe(`events table on ${kind.name}`, () => {
    it('refuses UPDATE, DELETE and TRUNCATE', async () => {
      const db = await kind.create();
      const store = createPostgresEventStore(db);
      await store.append(`t-${randomUUID()}`, [{ type: 'Tested', data: {} }], 'no_stream');
      await expect(sql`UPDATE events SET type = 'Changed'`.execute(db.kysely)).rejects.toThrow(/append-only/);
      await expect(sql`DELETE FROM events`.execute(db.kysely)).rejects.toThrow(/append-only/);
      await expect(sql`TRUNCATE events`.execute(db.kysely)).rejects.toThrow(/append-only/);
      await db.close();
    });

    it('digests a rewritten row differently and reads it back by id (the integrity port, not the event store)', async () => {
      const db = await kind.create();
      const store = createPostgresEventStore(db);
      const integrity = createPostgresEventIntegrity(db.kysely);
      expect('eventVersions' in store).toBe(false);
      const id = randomUUID();
      await store.append(`t-${randomUUID()}`, [{ id, type: 'Tested', data: { n: 1 } }], 'no_stream');
      const before = await integrity.versionDigests(['Tested'], 1_000_000);
      expect([...before.values()].map(digestCount)).toEqual([1]);
      await sql`ALTER TABLE events DISABLE TRIGGER events_append_only`.execute(db.kysely);
      await sql`UPDATE events SET data = '{"n":2}'::jsonb WHERE id = ${id}::uuid`.execute(db.kysely);
      expect(await integrity.versionDigests(['Tested'], 1_000_000)).not.toEqual(before);
      const [reread] = await integrity.eventsById([id, randomUUID()]);
      expect(reread?.data).toEqual({ n: 2 });
      await store.append(`t-${randomUUID()}`, [{ type: 'Other', data: {} }], 'no_stream');
      expect([...(await integrity.versionDigests(['Tested'], 1_000_000)).values()].map(digestCount)).toEqual([1]);
      await db.close();
    });

    it('digests row versions by bucket of positions: only the bucket of a rewritten, deleted or retyped row moves', async () => {
      const db = await kind.create();
      const store = createPostgresEventStore(db);
      const integrity = createPostgresEventIntegrity(db.kysely);
      const ids = Array.from({ length: 9 }, () => randomUUID());
      // One stream per event, so positions are consecutive; a bucket of 4 positions holds 4 of them.
      for (const id of ids) await store.append(`t-${randomUUID()}`, [{ id, type: 'Tested', data: {} }], 'no_stream');
      await store.append(`t-${randomUUID()}`, [{ type: 'Other', data: {} }], 'no_stream');
      const { rows } = await sql<{ p: string }>`SELECT global_position::text AS p FROM events WHERE id = ${ids[0]}::uuid`.execute(db.kysely);
      const bucketOf = (i: number) => Math.floor((Number(rows[0]!.p) + i) / 4);
      const before = await integrity.versionDigests(['Tested'], 4);
      expect([...before.keys()].sort()).toEqual([...new Set(ids.map((_, i) => bucketOf(i)))].sort());
      expect(await integrity.versionDigests(['Tested'], 4)).toEqual(before);

      await sql`ALTER TABLE events DISABLE TRIGGER events_append_only`.execute(db.kysely);
      await sql`UPDATE events SET data = '{"n":2}'::jsonb WHERE id = ${ids[5]}::uuid`.execute(db.kysely);
      await sql`DELETE FROM events WHERE id = ${ids[0]}::uuid`.execute(db.kysely);
      const after = await integrity.versionDigests(['Tested'], 4);
      const moved = [...before.keys()].filter((b) => after.get(b) !== before.get(b));
      expect(moved.sort()).toEqual([...new Set([bucketOf(0), bucketOf(5)])].sort());

      await sql`UPDATE events SET type = 'Retyped' WHERE id = ${ids[8]}::uuid`.execute(db.kysely);
      expect((await integrity.versionDigests(['Tested'], 4)).get(bucketOf(8))).not.toBe(after.get(bucketOf(8)));
      await db.close();
    });

    it('checks a batch\u2019s stream revisions through the stream index, even on statistics taken before a vote', async () => {
      const db = await kind.create();
      // Statistics taken when the log held few streams with many events each (200 x 200), then a batch
      // of 76 new streams: on those statistics a `stream_id = ANY(...)` over the batch was estimated to
      // match ~40% of the log and planned as a sequential scan of every event (issue 14: in the cast path).
      await sql`INSERT INTO events (id, stream_id, stream_revision, type, data)
        SELECT gen_random_uuid(), 's-' || s, r, 'Tested', '{}'::jsonb FROM generate_series(0, 199) r, generate_series(1, 200) s`.execute(db.kysely);
      await sql`ANALYZE events`.execute(db.kysely);
      const requests = Array.from({ length: 76 }, (_, i) => ({ streamId: `ballot-${i}`, events: [{ type: 'Tested', data: {} }], expected: 'no_stream' as const }));
      requests.push({ streamId: 's-7', events: [{ type: 'Tested', data: {} }], expected: 'no_stream' });
      expect(await seqScannedTables(db.kysely, appendBatchStatement(requests))).not.toContain('events');
      // And the batch's outcomes: the 76 new streams written, the existing one refused with its revision.
      const outcomes = await createPostgresEventStore(db).appendMany(requests);
      expect(outcomes.slice(0, 76).every((o) => 'nextExpectedRevision' in o && o.nextExpectedRevision === 0n)).toBe(true);
      expect(outcomes[76]).toMatchObject({ streamId: 's-7', actual: 199n });
      await db.close();
    });
  });
}

describe.skipIf(!postgresUrl)('late commits on real PostgreSQL', () => {
  it('never skips an event whose transaction commits after a later position was read', async () => {
    const db = await createPostgresTestDb();
    const store = createPostgresEventStore(db, { pollIntervalMs: 20 });
    const slow = new pg.Client({ connectionString: db.url });
    await slow.connect();
    const seen: RecordedEvent[] = [];
    const subscription = store.subscribeAll(null, async (batch) => void seen.push(...batch));
    // The slow writer takes a position first and commits last.
    await slow.query('BEGIN');
    await slow.query(`INSERT INTO events (id, stream_id, stream_revision, type, data) VALUES ($1, 'slow-1', 0, 'Tested', '{}')`, [randomUUID()]);
    await store.append('fast-1', [{ type: 'Tested', data: {} }], 'no_stream');
    await new Promise((r) => setTimeout(r, 300));
    // While the slow transaction runs, nothing after it is delivered, so nothing can be skipped.
    expect(seen.map((e) => e.streamId)).toEqual([]);
    await slow.query('COMMIT');
    for (let i = 0; i < 100 && seen.length < 2; i++) await new Promise((r) => setTimeout(r, 50));
    expect(seen.map((e) => e.streamId).sort()).toEqual(['fast-1', 'slow-1']);
    await subscription.stop();
    await slow.end();
    await db.close();
  });
});
