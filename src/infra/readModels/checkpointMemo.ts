/**
 * Shares a read-model query among the requests made while the read models stand at one projection
 * checkpoint. Read models change only when the checkpoint moves (the runner sets it after the batch
 * commits), so an answer is never staler than the read model itself; under a stream of ballots it is
 * asked again once per projection batch instead of once per request. The checkpoint is taken when a
 * query starts, so an answer that raced a batch is kept under the older checkpoint and dropped.
 *
 * A miss (`undefined` or `null`: no such poll yet) is never kept. The checkpoint is this process's
 * own, while several app instances share one read model: a poll created through another instance is
 * in the read model before this instance's checkpoint moves, and a kept miss would answer 404 for it
 * until then. Misses are rare and cheap to ask again.
 */
export const memoPerCheckpoint = <Args extends unknown[], T>(
  checkpoint: () => string | null,
  keyOf: (...args: Args) => string,
  query: (...args: Args) => Promise<T>,
  maxEntries = 1000,
): ((...args: Args) => Promise<T>) => {
  const entries = new Map<string, { checkpoint: string | null; value: Promise<T> }>();
  return (...args: Args) => {
    const key = keyOf(...args);
    const at = checkpoint();
    const hit = entries.get(key);
    if (hit && hit.checkpoint === at) return hit.value;
    const value = query(...args);
    entries.set(key, { checkpoint: at, value });
    const forget = () => {
      if (entries.get(key)?.value === value) entries.delete(key);
    };
    value.then((answer) => {
      if (answer === undefined || answer === null) forget();
    }, forget);
    if (entries.size > maxEntries) entries.delete(entries.keys().next().value!);
    return value;
  };
};
