import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamConflictError, compareCheckpoints, type EventStore, type RecordedEvent } from '../../app/eventStore.ts';
import { readAllCommitted } from '../../app/readAllCommitted.ts';

/**
 * The contract every event store adapter passes. `open` gives a fresh, empty store; `close` disposes of it.
 */
export const eventStoreContract = (name: string, open: () => Promise<{ store: EventStore; close: () => Promise<void> }>) =>
  describe(`event store contract: ${name}`, () => {
    let store: EventStore;
    let close: () => Promise<void>;
    const stream = (prefix = 'test') => `${prefix}-${randomUUID()}`;
    const event = (n: number) => ({ type: 'Tested', data: { n } });

    beforeAll(async () => {
      ({ store, close } = await open());
    });
    afterAll(async () => close());

    it('appends to a new stream with no_stream and reads it back in order', async () => {
      const id = stream();
      const result = await store.append(id, [event(1), event(2)], 'no_stream');
      expect(result.nextExpectedRevision).toBe(1n);
      const read = await store.readStream(id);
      expect(read.map((e) => [e.streamRevision, e.type, e.data.n])).toEqual([[0n, 'Tested', 1], [1n, 'Tested', 2]]);
    });

    it('reads an absent stream as empty', async () => {
      expect(await store.readStream(stream())).toEqual([]);
    });

    it('refuses no_stream on an existing stream with a conflict that names the stream', async () => {
      const id = stream();
      await store.append(id, [event(1)], 'no_stream');
      const error = await store.append(id, [event(2)], 'no_stream').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(StreamConflictError);
      expect((error as StreamConflictError).streamId).toBe(id);
      expect(await store.readStream(id)).toHaveLength(1);
    });

    it('appends at the exact expected revision and refuses a stale one', async () => {
      const id = stream();
      const first = await store.append(id, [event(1)], 'no_stream');
      await store.append(id, [event(2)], first.nextExpectedRevision);
      await expect(store.append(id, [event(3)], first.nextExpectedRevision)).rejects.toBeInstanceOf(StreamConflictError);
      expect((await store.readStream(id)).map((e) => e.data.n)).toEqual([1, 2]);
    });

    it('refuses exists on an absent stream and accepts any on both', async () => {
      const id = stream();
      await expect(store.append(id, [event(1)], 'exists')).rejects.toBeInstanceOf(StreamConflictError);
      await store.append(id, [event(1)], 'any');
      await store.append(id, [event(2)], 'any');
      await store.append(id, [event(3)], 'exists');
      expect((await store.readStream(id)).map((e) => e.data.n)).toEqual([1, 2, 3]);
    });

    it('appendMany gives each request its own outcome', async () => {
      const existing = stream();
      await store.append(existing, [event(0)], 'no_stream');
      const fresh = stream();
      const outcomes = await store.appendMany([
        { streamId: fresh, events: [event(1)], expected: 'no_stream' },
        { streamId: existing, events: [event(1)], expected: 'no_stream' },
        { streamId: fresh, events: [event(2)], expected: 0n },
      ]);
      expect(outcomes[0]).toEqual({ nextExpectedRevision: 0n });
      expect(outcomes[1]).toBeInstanceOf(StreamConflictError);
      expect(outcomes[2]).toEqual({ nextExpectedRevision: 1n });
      expect((await store.readStream(fresh)).map((e) => e.data.n)).toEqual([1, 2]);
    });

    it('keeps event ids and metadata', async () => {
      const id = stream();
      const eventId = randomUUID();
      await store.append(id, [{ type: 'Tested', data: { a: 'b' }, metadata: { actor: 'x' }, id: eventId }], 'no_stream');
      const [read] = await store.readStream(id);
      expect(read?.id).toBe(eventId);
      expect(read?.metadata).toEqual({ actor: 'x' });
    });

    it('delivers every event of many concurrent appenders exactly once, in a stable order', async () => {
      const category = `conc${randomUUID().slice(0, 8)}`;
      const writers = 16;
      const appendsPerWriter = 25;
      const seen: RecordedEvent[] = [];
      const subscription = store.subscribeAll(null, async (batch) => {
        seen.push(...batch.filter((e) => e.streamId.startsWith(`${category}-`)));
      });
      await Promise.all(
        Array.from({ length: writers }, async (_, w) => {
          for (let i = 0; i < appendsPerWriter; i++) {
            // Half single appends, half batches, to mix transaction sizes.
            if (i % 2 === 0) await store.append(`${category}-${w}-${i}`, [event(i)], 'no_stream');
            else
              await store.appendMany([
                { streamId: `${category}-${w}-${i}`, events: [event(i)], expected: 'no_stream' },
                { streamId: `${category}-${w}-shared`, events: [event(i)], expected: 'any' },
              ]);
          }
        }),
      );
      const expected = writers * (appendsPerWriter + Math.floor(appendsPerWriter / 2));
      for (let waited = 0; seen.length < expected && waited < 30_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
      await subscription.stop();
      expect(seen).toHaveLength(expected);
      expect(new Set(seen.map((e) => e.id)).size).toBe(expected);
      // A fresh reader from the start sees the same order.
      const again: RecordedEvent[] = [];
      const replay = store.subscribeAll(null, async (batch) => {
        again.push(...batch.filter((e) => e.streamId.startsWith(`${category}-`)));
      });
      await replay.caughtUp;
      await replay.stop();
      expect(again.map((e) => e.id)).toEqual(seen.map((e) => e.id));
      // Per stream, revisions come in order.
      const lastRevision = new Map<string, bigint>();
      for (const e of seen) {
        const before = lastRevision.get(e.streamId) ?? -1n;
        expect(e.streamRevision).toBe(before + 1n);
        lastRevision.set(e.streamId, e.streamRevision);
      }
    });

    it('reports the head checkpoint: the last event committed', async () => {
      const id = stream('head');
      await store.append(id, [event(1)], 'no_stream');
      const all = await readEverything(store);
      expect(await store.headCheckpoint()).toBe(all[all.length - 1]!.checkpoint);
      expect(compareCheckpoints(all[0]!.checkpoint, all[all.length - 1]!.checkpoint)).toBeLessThanOrEqual(0);
    });

    it('resumes a subscription from a stored checkpoint without repeats', async () => {
      const id = stream('resume');
      await store.append(id, [event(1), event(2)], 'no_stream');
      const all = await readEverything(store);
      const mine = all.filter((e) => e.streamId === id);
      const checkpoint = mine[0]!.checkpoint;
      const after = (await readEverything(store, checkpoint)).filter((e) => e.streamId === id);
      expect(after.map((e) => e.data.n)).toEqual([2]);
    });
  });

const readEverything = (store: EventStore, from: string | null = null): Promise<RecordedEvent[]> =>
  readAllCommitted(store, undefined, { after: from });
