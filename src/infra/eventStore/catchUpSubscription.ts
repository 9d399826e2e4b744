import type { EventEmitter } from 'node:events';
import type { ReadAll, RecordedEvent, Subscription, SubscriptionHandler } from '../../app/eventStore.ts';

export interface CatchUpOptions {
  readAll: ReadAll;
  from: string | null;
  handler: SubscriptionHandler;
  /** Emits 'appended' when this process appended; other writers are seen by polling. */
  wake?: EventEmitter;
  pollIntervalMs: number;
  batchSize?: number;
  onError?: (error: unknown) => void;
}

/**
 * Reads batches after the last delivered checkpoint and hands them to the handler; the checkpoint only
 * moves after the handler resolved, so a failing handler sees the same batch again (at-least-once to
 * the handler, which stores its own checkpoint transactionally to make it exactly-once).
 */
export const catchUpSubscription = (options: CatchUpOptions): Subscription => {
  const batchSize = options.batchSize ?? 500;
  let checkpoint = options.from;
  let stopped = false;
  let wakeUp: (() => void) | undefined;
  let markCaughtUp: () => void = () => {};
  const caughtUp = new Promise<void>((resolve) => (markCaughtUp = resolve));
  const onAppended = () => wakeUp?.();
  options.wake?.on('appended', onAppended);

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wakeUp = undefined;
        resolve();
      }
      wakeUp = done;
    });

  const loop = (async () => {
    while (!stopped) {
      try {
        const batch = await options.readAll(checkpoint, batchSize);
        if (stopped) break;
        if (batch.length > 0) {
          await options.handler(batch);
          checkpoint = batch[batch.length - 1]!.checkpoint;
          if (batch.length === batchSize) continue;
        }
        markCaughtUp();
        await sleep(options.pollIntervalMs);
      } catch (error) {
        options.onError?.(error);
        await sleep(Math.max(500, options.pollIntervalMs));
      }
    }
  })();

  return {
    caughtUp,
    stop: async () => {
      stopped = true;
      wakeUp?.();
      options.wake?.off('appended', onAppended);
      await loop;
    },
  };
};

/** How long a batch that did not fill its limit may be handed to another subscription (see sharedReads). */
const PARTIAL_BATCH_FRESH_MS = 50;

/**
 * The subscriptions of one process share their reads of the log: a batch read for one subscription is
 * handed to each other subscription that asks from the same checkpoint, so when they follow the log in
 * step (the read models and the anchoring service do) each event is read and decoded once per process,
 * however many subscriptions follow it.
 *
 * Why this is exact: readAll returns a prefix of what follows a checkpoint in the log's final order
 * (it never reads past a transaction still running), so a full batch (`limit` events) is what follows
 * that checkpoint for good, and a shorter one is still a true prefix, only possibly not all there is
 * by now. A shorter batch is therefore handed on only while fresh (PARTIAL_BATCH_FRESH_MS) and never
 * to the subscription that read it (it asks again because it wants what came after); the one that gets
 * it asks again after it, as it would after any batch.
 *
 * Bounded: at most `keep` batches are held (default 4, each at most one subscription's batch size), and
 * a batch is dropped once every subscription has had it.
 */
export const sharedReads = (readAll: ReadAll, options: { keep?: number; now?: () => number } = {}): (() => ReadAll) => {
  const keep = options.keep ?? 4;
  const now = options.now ?? Date.now;
  let readers = 0;
  interface Held {
    limit: number;
    batch: Promise<RecordedEvent[]>;
    /** Set once the read finished: whether it filled its limit, and when. */
    full?: boolean;
    readAt?: number;
    takenBy: Set<number>;
  }
  const held = new Map<string, Held>();
  return () => {
    const reader = readers++;
    return (after, limit) => {
      const key = after ?? '';
      const h = held.get(key);
      if (h && h.limit === limit && !h.takenBy.has(reader) && (h.full === undefined || h.full || now() - h.readAt! <= PARTIAL_BATCH_FRESH_MS)) {
        h.takenBy.add(reader);
        if (h.takenBy.size >= readers) held.delete(key);
        return h.batch;
      }
      const entry: Held = { limit, batch: readAll(after, limit), takenBy: new Set([reader]) };
      held.delete(key);
      held.set(key, entry);
      entry.batch.then(
        (batch) => {
          entry.full = batch.length === limit;
          entry.readAt = now();
        },
        () => {
          if (held.get(key) === entry) held.delete(key);
        },
      );
      while (held.size > keep) held.delete(held.keys().next().value!);
      return entry.batch;
    };
  };
};
