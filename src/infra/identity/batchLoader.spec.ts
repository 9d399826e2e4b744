import { describe, expect, it } from 'vitest';
import { createBatchLoader } from './batchLoader.ts';

const source = (values: Record<string, string>) => {
  const calls: string[][] = [];
  let gate: Promise<void> = Promise.resolve();
  return {
    calls,
    hold: () => {
      let open!: () => void;
      gate = new Promise<void>((r) => (open = r));
      return open;
    },
    loadMany: async (keys: string[]) => {
      calls.push(keys);
      await gate;
      return new Map(keys.filter((k) => k in values).map((k) => [k, values[k]!]));
    },
    values,
  };
};

describe('createBatchLoader', () => {
  const turn = () => new Promise((r) => setImmediate(r));

  it('sends the look-ups of one tick as one query, and those that arrive while it runs together in the next', async () => {
    const src = source({ a: 'A', b: 'B', c: 'C' });
    const open = src.hold();
    const loader = createBatchLoader(src.loadMany, { ttlMs: 0 });
    const first = Promise.all([loader.load('a'), loader.load('b'), loader.load('a')]);
    await turn();
    const second = Promise.all([loader.load('b'), loader.load('c')]);
    await turn();
    const third = loader.load('x');
    await turn();
    // The first query is still running: the later look-ups wait for it instead of sending their own.
    expect(src.calls).toEqual([['a', 'b']]);
    open();
    expect(await first).toEqual(['A', 'B', 'A']);
    expect(await second).toEqual(['B', 'C']);
    expect(await third).toBeUndefined();
    expect(src.calls).toEqual([['a', 'b'], ['b', 'c', 'x']]);
  });

  it('splits a batch larger than maxBatch', async () => {
    const src = source({});
    const loader = createBatchLoader(src.loadMany, { ttlMs: 0, maxBatch: 2 });
    await Promise.all(['a', 'b', 'c', 'd', 'e'].map((k) => loader.load(k)));
    expect(src.calls.flat().sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(Math.max(...src.calls.map((c) => c.length))).toBe(2);
  });

  it('keeps at most maxEntries values: the least recently used goes first', async () => {
    const src = source({ a: 'A', b: 'B', c: 'C' });
    const loader = createBatchLoader(src.loadMany, { ttlMs: 60_000, maxEntries: 2 });
    await loader.load('a');
    await loader.load('b');
    await loader.load('a');
    await loader.load('c');
    expect(src.calls).toEqual([['a'], ['b'], ['c']]);
    await loader.load('a');
    expect(src.calls.length).toBe(3);
    await loader.load('b');
    expect(src.calls).toEqual([['a'], ['b'], ['c'], ['b']]);
  });

  it('reads again once the TTL has passed', async () => {
    const src = source({ a: 'A' });
    const loader = createBatchLoader(src.loadMany, { ttlMs: 30 });
    expect(await loader.load('a')).toBe('A');
    src.values.a = 'A2';
    await new Promise((r) => setTimeout(r, 60));
    expect(await loader.load('a')).toBe('A2');
  });

  it('reuses a value within the TTL, and not after invalidate', async () => {
    const src = source({ a: 'A' });
    const loader = createBatchLoader(src.loadMany, { ttlMs: 60_000 });
    expect(await loader.load('a')).toBe('A');
    src.values.a = 'A2';
    expect(await loader.load('a')).toBe('A');
    loader.invalidate('a');
    expect(await loader.load('a')).toBe('A2');
    expect(src.calls.length).toBe(2);
  });

  it('does not cache what a query read before an invalidate that came while it ran', async () => {
    const src = source({ a: 'old' });
    const loader = createBatchLoader(src.loadMany, { ttlMs: 60_000 });
    const open = src.hold();
    const first = loader.load('a');
    await Promise.resolve();
    loader.invalidate('a');
    open();
    expect(await first).toBe('old');
    src.values.a = 'new';
    expect(await loader.load('a')).toBe('new');
  });

  it('clear drops every key; prime replaces one', async () => {
    const src = source({ a: 'A', b: 'B' });
    const loader = createBatchLoader(src.loadMany, { ttlMs: 60_000 });
    await Promise.all([loader.load('a'), loader.load('b')]);
    loader.prime('a', 'primed');
    expect(await loader.load('a')).toBe('primed');
    src.values.b = 'B2';
    loader.clear();
    expect(await loader.load('b')).toBe('B2');
  });

  it('prime with an epoch is ignored when clear ran since the epoch was taken', async () => {
    const src = source({ a: 'fresh' });
    const loader = createBatchLoader(src.loadMany, { ttlMs: 60_000 });
    const before = loader.epoch();
    loader.clear();
    loader.prime('a', 'stale', before);
    expect(await loader.load('a')).toBe('fresh');
    loader.prime('a', 'primed', loader.epoch());
    expect(await loader.load('a')).toBe('primed');
  });

  it('rejects every look-up of a failed query and caches nothing', async () => {
    let fail = true;
    const loader = createBatchLoader(async (keys: string[]) => {
      if (fail) throw new Error('down');
      return new Map(keys.map((k) => [k, k.toUpperCase()]));
    }, { ttlMs: 60_000 });
    await expect(loader.load('a')).rejects.toThrow('down');
    fail = false;
    expect(await loader.load('a')).toBe('A');
  });
});
