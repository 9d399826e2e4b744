import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '../../../test/support/testDb.ts';
import { readAllCommitted } from '../../app/readAllCommitted.ts';
import { createPostgresEventStore } from '../eventStore/postgresEventStore.ts';
import { createLogger } from '../logger.ts';
import { getPlatformStats, platformStatsReadModel } from '../readModels/platformStats.ts';
import { applyBatch, rebuildReadModels, startProjectionRunner } from './runner.ts';

for (const kind of testDatabaseKinds()) {
  describe(`projection runner on ${kind.name}`, () => {
    it('projects events, survives redelivery of a batch and rebuilds to the same rows', async () => {
      const db = await kind.create();
      const store = createPostgresEventStore(db, { pollIntervalMs: 20 });
      await store.append(`poll-${randomUUID()}`, [{ type: 'PollCreated', data: {} }], 'no_stream');
      for (let i = 0; i < 5; i++) await store.append(`ballot-p_${i}`, [{ type: 'BallotCast', data: {} }], 'no_stream');
      await store.append(`ballot-p_0`, [{ type: 'BallotCast', data: { replaces: 'x' } }], 0n);

      const runner = await startProjectionRunner({ db: db.kysely, eventStore: store, readModels: [platformStatsReadModel], logger: createLogger('silent') });
      await runner.settled();
      expect(await getPlatformStats(db.kysely)).toEqual({ polls: 1, ballots: 5 });
      await runner.stop();

      // A restarted runner resumes after its stored checkpoint: running twice counts nothing twice.
      const restarted = await startProjectionRunner({ db: db.kysely, eventStore: store, readModels: [platformStatsReadModel], logger: createLogger('silent') });
      await restarted.settled();
      expect(await getPlatformStats(db.kysely)).toEqual({ polls: 1, ballots: 5 });
      await restarted.stop();

      expect(await rebuildReadModels(db.kysely, store, [platformStatsReadModel])).toBe(7);
      expect(await getPlatformStats(db.kysely)).toEqual({ polls: 1, ballots: 5 });
      await db.close();
    });

    it('counts every event once when two app instances each run a runner on the same database', async () => {
      const db = await kind.create();
      const store = createPostgresEventStore(db, { pollIntervalMs: 5 });
      const start = () => startProjectionRunner({ db: db.kysely, eventStore: store, readModels: [platformStatsReadModel], logger: createLogger('silent'), minBatchIntervalMs: 0 });
      const [first, second] = await Promise.all([start(), start()]);
      await Promise.all(Array.from({ length: 40 }, (_, i) => store.append(`ballot-p_${i}`, [{ type: 'BallotCast', data: {} }], 'no_stream')));
      await store.append(`poll-${randomUUID()}`, [{ type: 'PollCreated', data: {} }], 'no_stream');
      await Promise.all([first.settled(), second.settled()]);
      expect(await getPlatformStats(db.kysely)).toEqual({ polls: 1, ballots: 40 });
      await Promise.all([first.stop(), second.stop()]);
      await db.close();
    });

    it('rolls back rows and checkpoint together when a batch fails', async () => {
      const db = await kind.create();
      const store = createPostgresEventStore(db);
      await store.append(`poll-${randomUUID()}`, [{ type: 'PollCreated', data: {} }], 'no_stream');
      // readAllCommitted: on a shared PostgreSQL server readAll may hold the event back behind another
      // database's open transaction, and an empty batch would apply without failing.
      const events = await readAllCommitted(store);
      expect(events).toHaveLength(1);
      const failing = { ...platformStatsReadModel, store: { ...platformStatsReadModel.store, save: async () => { throw new Error('disk full'); } } };
      await expect(applyBatch(db.kysely, [platformStatsReadModel, failing], events)).rejects.toThrow('disk full');
      expect(await getPlatformStats(db.kysely)).toEqual({ polls: 0, ballots: 0 });
      await db.close();
    });
  });
}
