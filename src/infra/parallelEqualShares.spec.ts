import { describe, expect, it } from 'vitest';
import { add1FirstPerVoter, equalSharesAdd1With, equalSharesInstanceFor, methodOfEqualShares, type MesMemo } from '../domain/budgetRules.ts';
import { add1WorkerCount, parallelEqualShares } from './parallelEqualShares.ts';

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
}

/** An election whose add1 makes a few dozen runs. */
function election(seed: number) {
  const rnd = lcg(seed);
  const projects = Array.from({ length: 12 }, (_, i) => ({ id: `p${i}`, cost: 100 + Math.floor(rnd() * 900) }));
  const popularity = projects.map(() => 0.1 + rnd() * 0.5);
  const ballots = Array.from({ length: 400 }, () => projects.filter((_, i) => rnd() < popularity[i]!).map((p) => p.id));
  return { projects, ballots, budget: 2000 };
}

describe('parallelEqualShares (add1 runs on worker threads)', () => {
  it('takes a worker only for a large election and only on a core the load average leaves idle', () => {
    expect(add1WorkerCount(128_176, 2, 0.3)).toBe(1);
    expect(add1WorkerCount(128_176, 2, 1.4)).toBe(1);
    expect(add1WorkerCount(128_176, 2, 1.6)).toBe(0); // the other core is mostly busy: the worker would share a core
    expect(add1WorkerCount(128_176, 2, 7)).toBe(0);
    expect(add1WorkerCount(128_176, 8, 2.6)).toBe(5);
    expect(add1WorkerCount(128_176, 8, 0)).toBe(7);
    expect(add1WorkerCount(128_176, 1, 0)).toBe(0);
    expect(add1WorkerCount(7_050, 8, 0)).toBe(0); // a small election's add1 costs less than a worker's start
  });

  it('gives the outcome of the runs made one after another', async () => {
    const parallel = parallelEqualShares({ workers: 2 });
    await parallel.ready;
    try {
      for (const seed of [1, 2, 3]) {
        const { projects, ballots, budget } = election(seed);
        const memo: MesMemo = new Map();
        await equalSharesAdd1With(memo, projects, ballots, budget, parallel.runsFrom);
        expect(methodOfEqualShares(projects, ballots, budget, { completion: 'add1', memo })).toEqual(methodOfEqualShares(projects, ballots, budget, { completion: 'add1' }));
      }
      expect(parallel.runsMade.slice(1).every((runs) => runs > 0), `runs per thread: ${parallel.runsMade.join(', ')}`).toBe(true);
    } finally {
      await parallel.close();
    }
  });

  it('runs started ahead (start) are the ones runsFrom reads; a different start is counted afresh', async () => {
    const parallel = parallelEqualShares({ workers: 1 });
    try {
      const { projects, ballots, budget } = election(5);
      const memo: MesMemo = new Map();
      const inst = equalSharesInstanceFor(memo, projects, ballots);
      // A start for other budgets first: its runs must not be mixed into the ones read.
      parallel.start(inst, add1FirstPerVoter(inst, budget) + 7n);
      parallel.start(inst, add1FirstPerVoter(inst, budget));
      await parallel.ready;
      await new Promise((resolve) => setTimeout(resolve, 50));
      await equalSharesAdd1With(memo, projects, ballots, budget, parallel.runsFrom);
      expect(methodOfEqualShares(projects, ballots, budget, { completion: 'add1', memo })).toEqual(methodOfEqualShares(projects, ballots, budget, { completion: 'add1' }));
      expect(parallel.runsMade[1]).toBeGreaterThan(0);
    } finally {
      await parallel.close();
    }
  });

  it('finishes on the main thread when its workers are gone', async () => {
    const parallel = parallelEqualShares({ workers: 1 });
    await parallel.close();
    const { projects, ballots, budget } = election(4);
    const memo: MesMemo = new Map();
    await equalSharesAdd1With(memo, projects, ballots, budget, parallel.runsFrom);
    expect(methodOfEqualShares(projects, ballots, budget, { completion: 'add1', memo })).toEqual(methodOfEqualShares(projects, ballots, budget, { completion: 'add1' }));
    expect(parallel.runsMade.slice(1)).toEqual([0]);
  });
});
