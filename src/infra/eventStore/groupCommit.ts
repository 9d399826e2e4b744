import { StreamConflictError, type AppendRequest, type AppendResult, type EventStore } from '../../app/eventStore.ts';

/**
 * Group commit: appends that arrive while a batch is being written wait and go together in the next
 * `appendMany`, one durable transaction for many ballots. No timer: under light load every append is
 * written at once; under heavy load batches grow by themselves. `maxInFlight` batches may be written at
 * the same time (on separate pooled connections).
 */
export const withGroupCommit = (store: EventStore, options: { maxBatch?: number; maxInFlight?: number } = {}): EventStore => {
  const maxBatch = options.maxBatch ?? 500;
  const maxInFlight = options.maxInFlight ?? 2;
  type Pending = { request: AppendRequest; resolve: (r: AppendResult | StreamConflictError) => void; reject: (e: unknown) => void };
  const queue: Pending[] = [];
  let inFlight = 0;

  const pump = () => {
    while (inFlight < maxInFlight && queue.length > 0) {
      const batch = queue.splice(0, maxBatch);
      inFlight++;
      store
        .appendMany(batch.map((p) => p.request))
        .then(
          (outcomes) => batch.forEach((p, i) => p.resolve(outcomes[i]!)),
          (error) => batch.forEach((p) => p.reject(error)),
        )
        .finally(() => {
          inFlight--;
          pump();
        });
    }
  };

  const enqueue = (request: AppendRequest) =>
    new Promise<AppendResult | StreamConflictError>((resolve, reject) => {
      queue.push({ request, resolve, reject });
      pump();
    });

  return {
    ...store,
    append: async (streamId, events, expected) => {
      const outcome = await enqueue({ streamId, events, expected });
      if (outcome instanceof StreamConflictError) throw outcome;
      return outcome;
    },
    appendMany: (requests) => Promise.all(requests.map(enqueue)),
  };
};
