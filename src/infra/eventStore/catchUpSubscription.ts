import type { EventEmitter } from 'node:events';
import type { ReadAll, Subscription, SubscriptionHandler } from '../../app/eventStore.ts';

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
