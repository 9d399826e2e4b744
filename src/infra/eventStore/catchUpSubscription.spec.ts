import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createPGliteTestDb } from '../../../test/support/testDb.ts';
import type { ReadAll, RecordedEvent } from '../../app/eventStore.ts';
import { catchUpSubscription, sharedReads } from './catchUpSubscription.ts';
import { createPostgresEventStore } from './postgresEventStore.ts';

describe('shared reads of the log', () => {
  it('two subscriptions following the log in step read each batch from the database once, and each sees every event once, in order', async () => {
    const db = await createPGliteTestDb();
    const store = createPostgresEventStore(db, { pollIntervalMs: 20 });
    let reads = 0;
    const counted: ReadAll = (after, limit) => {
      reads++;
      return store.readAll(after, limit);
    };
    const reader = sharedReads(counted);
    const appended: string[] = [];
    for (let i = 0; i < 12; i++) {
      const events = Array.from({ length: 100 }, (_, k) => ({ id: randomUUID(), type: 'Tested', data: { n: i * 100 + k } }));
      await store.append(`s-${i}`, events, 'no_stream');
      appended.push(...events.map((e) => e.id));
    }
    const seen: string[][] = [[], []];
    const subscriptions = [0, 1].map((k) =>
      catchUpSubscription({
        readAll: reader(),
        from: null,
        pollIntervalMs: 20,
        batchSize: 100,
        handler: async (batch: RecordedEvent[]) => {
          seen[k]!.push(...batch.map((e) => e.id));
        },
      }),
    );
    await Promise.all(subscriptions.map((s) => s.caughtUp));
    const readsWhenCaughtUp = reads;
    await Promise.all(subscriptions.map((s) => s.stop()));
    expect(seen[0]).toEqual(appended);
    expect(seen[1]).toEqual(appended);
    // 12 full batches and the empty read at the end, each read once (alone, each subscription would
    // have read 13 times): a little slack for a subscription that asks before the other's read is done.
    expect(readsWhenCaughtUp).toBeLessThanOrEqual(16);
    await store.close();
    await db.close();
  });

  it('never hands a subscription a short batch it read itself again, so it sees what was appended after it', async () => {
    const db = await createPGliteTestDb();
    const store = createPostgresEventStore(db, { pollIntervalMs: 20 });
    const reader = sharedReads((after, limit) => store.readAll(after, limit));
    const a = reader();
    const b = reader();
    await store.append('s-1', [{ type: 'Tested', data: { n: 1 } }], 'no_stream');
    const first = await a(null, 100);
    expect(first).toHaveLength(1);
    await store.append('s-2', [{ type: 'Tested', data: { n: 2 } }], 'no_stream');
    // `a` asks from the same place again: it wants what came since, not the batch it already had.
    expect(await a(null, 100)).toHaveLength(2);
    // `b` may be handed the fresh short batch (a true prefix); asking on from its end gives the rest.
    const forB = await b(null, 100);
    const rest = await b(forB.at(-1)!.checkpoint, 100);
    expect([...forB, ...rest].map((e) => e.data)).toEqual([{ n: 1 }, { n: 2 }]);
    await store.close();
    await db.close();
  });

  it('holds at most `keep` batches', async () => {
    const db = await createPGliteTestDb();
    const store = createPostgresEventStore(db);
    let reads = 0;
    const reader = sharedReads((after, limit) => {
      reads++;
      return store.readAll(after, limit);
    }, { keep: 2 });
    const a = reader();
    const b = reader();
    reader(); // a third subscription that never reads: batches are not dropped for having been taken by all
    for (let i = 0; i < 4; i++) await store.append(`s-${i}`, [{ type: 'Tested', data: { i } }], 'no_stream');
    const from = (await store.readAll(null, 10)).slice(0, 3).map((e) => e.checkpoint);
    reads = 0;
    for (const c of from) expect(await a(c, 1)).toHaveLength(1);
    // Only the last two of a's three (full) batches are still held for b: the first is read again.
    for (const c of [...from].reverse()) expect(await b(c, 1)).toHaveLength(1);
    expect(reads).toBe(3 + 1);
    await store.close();
    await db.close();
  });
});
