import { hasReached, type EventStore, type RecordedEvent } from './eventStore.ts';

/**
 * Every event committed when the call starts (after `options.after`, if given), in global order. readAll alone may stop early on a
 * shared PostgreSQL server (it holds back events behind the oldest running transaction of the whole
 * cluster), so this reads until it has passed the head checkpoint taken at the start, waiting for the
 * held-back events to become readable. For rebuilds, audits and tests; never for hot paths.
 */
export const readAllCommitted = async (
  store: Pick<EventStore, 'readAll' | 'headCheckpoint'>,
  onBatch: (batch: RecordedEvent[]) => Promise<void> | void = () => {},
  options: { batchSize?: number; timeoutMs?: number; after?: string | null } = {},
): Promise<RecordedEvent[]> => {
  const head = await store.headCheckpoint();
  const out: RecordedEvent[] = [];
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  let checkpoint: string | null = options.after ?? null;
  while (!hasReached(checkpoint, head)) {
    const batch = await store.readAll(checkpoint, options.batchSize ?? 1000);
    if (batch.length === 0) {
      if (Date.now() > deadline) throw new Error('events committed before the read did not become readable in time');
      await new Promise((r) => setTimeout(r, 20));
      continue;
    }
    await onBatch(batch);
    out.push(...batch);
    checkpoint = batch[batch.length - 1]!.checkpoint;
  }
  return out;
};
