import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { createPGliteTestDb, createPostgresTestDb, postgresUrl, type TestDb } from '../test/support/testDb.ts';
import { createPostgresEventStore } from '../src/infra/eventStore/postgresEventStore.ts';
import { fmt, perSecond, time, type Bench } from './harness.ts';

/**
 * Event appends per second against a plain single-row INSERT per transaction into a table of the same
 * shape (no concurrency check, no JSON metadata): the floor a durable append cannot beat.
 */
const measure = async (db: TestDb, count: number, concurrency: number) => {
  await sql`CREATE TABLE bench_plain (id uuid PRIMARY KEY, stream_id text, data jsonb)`.execute(db.kysely);
  const store = createPostgresEventStore(db);
  const run = async (task: (i: number) => Promise<unknown>) =>
    time(async () => {
      let next = 0;
      await Promise.all(Array.from({ length: concurrency }, async () => {
        while (next < count) await task(next++);
      }));
    });
  const baselineMs = await run((i) => sql`INSERT INTO bench_plain VALUES (${randomUUID()}, ${`s-${i}`}, ${JSON.stringify({ n: i })}::jsonb)`.execute(db.kysely));
  const appendMs = await run((i) => store.append(`bench-${randomUUID()}`, [{ type: 'Benched', data: { n: i } }], 'no_stream'));
  const batch = 100;
  const batchedMs = await time(async () => {
    for (let i = 0; i < count; i += batch)
      await store.appendMany(Array.from({ length: batch }, (_, j) => ({ streamId: `batched-${randomUUID()}`, events: [{ type: 'Benched', data: { n: i + j } }], expected: 'no_stream' as const })));
  });
  return { baseline: perSecond(count, baselineMs), append: perSecond(count, appendMs), batched: perSecond(count, batchedMs) };
};

export const eventStoreBench: Bench = {
  name: 'event-store',
  title: 'Event store appends',
  run: async () => {
    const rows: string[] = [];
    const targets: Array<[string, () => Promise<TestDb>, number]> = [['PGlite (embedded)', createPGliteTestDb, 1]];
    if (postgresUrl) targets.push(['PostgreSQL 15 (loopback)', () => createPostgresTestDb(16), 8]);
    for (const [name, create, concurrency] of targets) {
      const db = await create();
      const r = await measure(db, 3000, concurrency);
      rows.push(`| ${name} | ${concurrency} | ${fmt(r.baseline)} | ${fmt(r.append)} (${(r.append / r.baseline).toFixed(2)}×) | ${fmt(r.batched)} (${(r.batched / r.baseline).toFixed(2)}×) |`);
      await db.close();
    }
    return [
      '3,000 events, each to a new stream with `no_stream`. Baseline: one plain `INSERT` of the same row per transaction.',
      'Batched: `appendMany` with 100 streams per transaction (group commit), one writer.',
      '',
      '| database | writers | baseline INSERT/s | append/s (ratio) | batched append/s (ratio) |',
      '|---|---|---|---|---|',
      ...rows,
      postgresUrl ? '' : '\nPostgreSQL row missing: run with TEST_DATABASE_URL set.',
    ].join('\n');
  },
};
