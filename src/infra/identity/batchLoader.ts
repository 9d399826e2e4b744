/**
 * A keyed loader that coalesces concurrent look-ups into one query and keeps results for `ttlMs`.
 *
 * Why: under load every API request needs its session row and its citizen's roles. One query per
 * request means one round trip (and one `writev` syscall, the costliest thing on this machine) per
 * request. Like group commit, no timer: the first look-up goes at once; look-ups that arrive while a
 * query is in flight wait and go together in the next one. Results (including "not found") are kept
 * for `ttlMs` in this process only; `invalidate` drops a key at once (sign-out, role change here).
 */
export interface BatchLoader<V> {
  load(key: string): Promise<V | undefined>;
  /**
   * Replaces the cached value (e.g. after this process wrote it). With `ifEpoch` (from `epoch()` taken
   * before the value was read), nothing is cached if `clear` ran since.
   */
  prime(key: string, value: V | undefined, ifEpoch?: number): void;
  /** Changes on every `clear`. */
  epoch(): number;
  invalidate(key: string): void;
  clear(): void;
}

export const createBatchLoader = <V>(
  loadMany: (keys: string[]) => Promise<Map<string, V>>,
  options: { ttlMs: number; maxBatch?: number; maxInFlight?: number; maxEntries?: number },
): BatchLoader<V> => {
  const maxBatch = options.maxBatch ?? 500;
  // One query at a time: while it runs, the next batch fills (the queries are short; more would only
  // split batches and multiply round trips).
  const maxInFlight = options.maxInFlight ?? 1;
  const maxEntries = options.maxEntries ?? 50_000;
  const cache = new Map<string, { at: number; value: V | undefined }>();
  // Bumped by invalidate/clear: a query that started before must not cache what it read.
  const generation = new Map<string, number>();
  let epoch = 0;
  type Waiter = { resolve: (v: V | undefined) => void; reject: (e: unknown) => void };
  const queued = new Map<string, Waiter[]>();
  let inFlight = 0;

  const bump = (key: string) => {
    generation.set(key, (generation.get(key) ?? 0) + 1);
    // Bounded: forgetting generations is safe if every query already running is barred from caching.
    if (generation.size > maxEntries) {
      generation.clear();
      epoch++;
    }
  };

  const remember = (key: string, value: V | undefined) => {
    if (options.ttlMs <= 0) return;
    cache.delete(key);
    cache.set(key, { at: Date.now(), value });
    if (cache.size > maxEntries) cache.delete(cache.keys().next().value!);
  };

  const pump = () => {
    while (inFlight < maxInFlight && queued.size > 0) {
      const batch = [...queued.entries()].slice(0, maxBatch);
      for (const [key] of batch) queued.delete(key);
      const keys = batch.map(([key]) => key);
      const startedEpoch = epoch;
      const startedGen = keys.map((k) => generation.get(k) ?? 0);
      inFlight++;
      loadMany(keys)
        .then(
          (found) =>
            batch.forEach(([key, waiters], i) => {
              const value = found.get(key);
              if (startedEpoch === epoch && startedGen[i] === (generation.get(key) ?? 0)) remember(key, value);
              for (const w of waiters) w.resolve(value);
            }),
          (error) => batch.forEach(([, waiters]) => waiters.forEach((w) => w.reject(error))),
        )
        .finally(() => {
          inFlight--;
          pump();
        });
    }
  };

  return {
    load: (key) => {
      const hit = cache.get(key);
      if (hit && Date.now() - hit.at < options.ttlMs) return Promise.resolve(hit.value);
      return new Promise<V | undefined>((resolve, reject) => {
        const waiters = queued.get(key);
        if (waiters) waiters.push({ resolve, reject });
        else queued.set(key, [{ resolve, reject }]);
        pump();
      });
    },
    prime: (key, value, ifEpoch) => {
      if (ifEpoch !== undefined && ifEpoch !== epoch) return;
      bump(key);
      remember(key, value);
    },
    invalidate: (key) => {
      bump(key);
      cache.delete(key);
    },
    epoch: () => epoch,
    clear: () => {
      epoch++;
      generation.clear();
      cache.clear();
    },
  };
};
