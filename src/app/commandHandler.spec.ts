import { describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '../../test/support/testDb.ts';
import type { Decider } from '../domain/decider.ts';
import { createPostgresEventStore } from '../infra/eventStore/postgresEventStore.ts';
import { handleCommand, recordInNewStream, type CommandAttempt } from './commandHandler.ts';
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

    it('first-write fast path: appends without reading, and on a conflict gives back the try and decides on the read state', async () => {
      const db = await kind.create();
      const store = createPostgresEventStore(db);
      await handleCommand(store, counter, 'counter-3', { type: 'Count' });
      let reads = 0;
      const undone: number[] = [];
      const readStream = async (streamId: string) => (reads++, store.readStream(streamId));
      let tries = 0;
      const result = await handleCommand(
        { readStream, append: store.append },
        counter,
        'counter-3',
        (): CommandAttempt<{ type: 'Count' }> => {
          const attempt = ++tries;
          return { command: { type: 'Count' }, eventIds: [`00000000-0000-4000-8000-00000000000${attempt}`], undo: async () => void undone.push(attempt) };
        },
        { expectNewStream: true },
      );
      // The first try assumed a new stream and lost; its undo ran; the second try read the stream once.
      expect({ tries, undone, reads, state: result.state }).toEqual({ tries: 2, undone: [1], reads: 1, state: 2 });
      expect(result.eventIds).toEqual(['00000000-0000-4000-8000-000000000002']);
      expect((await store.readStream('counter-3')).map((e) => e.id)[1]).toBe('00000000-0000-4000-8000-000000000002');
      await db.close();
    });

    it('stores a fact once in a new stream: a second copy is left out, or refused with the conflict', async () => {
      const db = await kind.create();
      const store = createPostgresEventStore(db);
      const fact = (n: number): Event => ({ type: 'Counted', data: { n } });
      await recordInNewStream(store, 'fact-1', [fact(1)], { duplicate: 'ignore' });
      const again = await recordInNewStream(store, 'fact-1', [fact(2)], { duplicate: 'ignore' });
      expect(again.events).toEqual([]);
      await expect(recordInNewStream(store, 'fact-1', [fact(3)], { duplicate: 'refuse' })).rejects.toBeInstanceOf(StreamConflictError);
      expect((await store.readStream('fact-1')).map((e) => e.data.n)).toEqual([1]);
      await db.close();
    });
  });
}
