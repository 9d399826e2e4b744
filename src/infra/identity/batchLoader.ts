import DataLoader from 'dataloader';
import { LRUCache } from 'lru-cache';

/**
 * A keyed loader that coalesces concurrent look-ups into one query and keeps results for `ttlMs`:
 * DataLoader does the batching and de-duplication, an lru-cache (bounded by `maxEntries`, entries
 * expire after `ttlMs`) is its cache.
 *
 * Why batching: under load every API request needs its session row and its citizen's roles; one query
 * per request means one round trip (and one `writev`, the costliest syscall on this machine) each.
 * Like group commit, one query at a time: look-ups of one tick go together, and look-ups that arrive
 * while a query runs wait and go together in the next one (DataLoader's `batchScheduleFn`), so a busy
 * instance sends a few large `= ANY(...)` queries instead of many small ones.
 *
 * Results (including "not found") are kept in this process only; `invalidate` drops a key at once
 * (sign-out, role change here). DataLoader caches the promise when the look-up starts, so a query that
 * was running when its key was invalidated never puts its (older) answer back in the cache.
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
  options: { ttlMs: number; maxBatch?: number; maxEntries?: number },
): BatchLoader<V> => {
  let epoch = 0;
  // The query now running, if any: the next batch is dispatched when it settles.
  let running: Promise<unknown> | undefined;
  const cacheMap =
    options.ttlMs > 0 ? new LRUCache<string, Promise<V | undefined>>({ max: options.maxEntries ?? 50_000, ttl: options.ttlMs }) : null;
  const loader = new DataLoader<string, V | undefined>(
    async (keys) => {
      const query = loadMany([...new Set(keys)]);
      const settled = query.then(
        () => undefined,
        () => undefined,
      );
      running = settled;
      void settled.then(() => {
        if (running === settled) running = undefined;
      });
      const found = await query;
      return keys.map((key) => found.get(key));
    },
    {
      maxBatchSize: options.maxBatch ?? 500,
      cacheMap,
      batchScheduleFn: (dispatch) => {
        if (running) void running.then(dispatch);
        else process.nextTick(dispatch);
      },
    },
  );
  return {
    load: (key) => loader.load(key),
    prime: (key, value, ifEpoch) => {
      if (ifEpoch !== undefined && ifEpoch !== epoch) return;
      loader.clear(key).prime(key, value);
    },
    invalidate: (key) => void loader.clear(key),
    epoch: () => epoch,
    clear: () => {
      epoch++;
      loader.clearAll();
    },
  };
};
