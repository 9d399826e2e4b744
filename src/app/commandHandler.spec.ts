import { describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '../../test/support/testDb.ts';
import type { Decider } from '../domain/decider.ts';
import { createPostgresEventStore } from '../infra/eventStore/postgresEventStore.ts';
import { handleCommand } from './commandHandler.ts';
import { StreamConflictError, type AppendToStream } from './eventStore.ts';

type Event = { type: 'Counted'; data: { n: number } };
/** Each command appends the next number: two writers deciding on the same state would collide. */
const counter: Decider<{ type: 'Count' }, Event, number> = {
  decide: (_command, state) => [{ type: 'Counted', data: { n: state + 1 } }],
  evolve: (_state, event) => event.data.n,
  initialState: 0,
};

for (const kind of testDatabaseKinds()) {
  describe(`handleCommand on ${kind.name}`, () => {
    it('decides again on the new state when another writer got there first', async () => {
      const db = await kind.create();
      const store = createPostgresEventStore(db);
      // The first append of each attempt waits until a rival has written: a conflict every first try.
      let rivalWrites = 0;
      const append: AppendToStream = async (streamId, events, expected) => {
        if (rivalWrites < 2) {
          rivalWrites++;
          await handleCommand(store, counter, streamId, { type: 'Count' });
        }
        return store.append(streamId, events, expected);
      };
      const result = await handleCommand({ readStream: store.readStream, append }, counter, 'counter-1', { type: 'Count' });
      expect(result.state).toBe(3);
      expect((await store.readStream('counter-1')).map((e) => e.data.n)).toEqual([1, 2, 3]);
      await db.close();
    });

    it('gives up with the conflict when writers keep winning', async () => {
      const db = await kind.create();
      const store = createPostgresEventStore(db);
      const append: AppendToStream = async (streamId, events, expected) => {
        await handleCommand(store, counter, streamId, { type: 'Count' });
        return store.append(streamId, events, expected);
      };
      await expect(handleCommand({ readStream: store.readStream, append }, counter, 'counter-2', { type: 'Count' })).rejects.toBeInstanceOf(StreamConflictError);
      expect((await store.readStream('counter-2')).map((e) => e.data.n)).toEqual([1, 2, 3]);
      await db.close();
    });
  });
}
