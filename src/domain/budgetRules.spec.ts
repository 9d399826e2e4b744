import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { budgetOutcome, greedyByApprovals, methodOfEqualShares, type BudgetProject } from './budgetRules.ts';
import { pabulibApprovals, pabulibToPollDefinition, parsePabulib } from './pabulib.ts';

const dataDir = new URL('../../../shared/data/pabulib/', import.meta.url);
const FILES = [
  ['Poland_Warszawa_2017_Mlynow.pb', 'greedy'],
  ['Poland_Warszawa_2025_Wola.pb', 'greedy'],
  ['Netherlands_Assen_2024.pb', 'equal-shares'],
  ['Poland_Swiecie_2023.pb', 'equal-shares'],
] as const;

describe('real Pabulib elections reproduce the official outcome', () => {
  for (const [file, rule] of FILES) {
    it(`${file} (${rule})`, () => {
      const pb = parsePabulib(readFileSync(new URL(file, dataDir), 'utf8'));
      const def = pabulibToPollDefinition(pb, { pollId: file, opensAt: '2024-01-01T00:00:00Z', closesAt: '2024-01-08T00:00:00Z' });
      expect(def.budget?.rule).toBe(rule);
      const outcome = budgetOutcome(def, pabulibApprovals(pb));
      const official = pb.projects.filter((p) => p.selected).map((p) => p.id);
      expect([...outcome.funded].sort()).toEqual([...official].sort());
      const cost = new Map(pb.projects.map((p) => [p.id, p.cost]));
      expect(outcome.totalCost).toBe(official.reduce((s, id) => s + cost.get(id)!, 0));
      expect(outcome.totalCost).toBeLessThanOrEqual(def.budget!.total);
    });
  }
});

describe('greedyByApprovals', () => {
  const projects = [
    { id: 'a', cost: 50 },
    { id: 'b', cost: 60 },
    { id: 'c', cost: 30 },
    { id: 'd', cost: 20 },
    { id: 'e', cost: 10 },
  ];

  it('funds by approvals, skipping a project that does not fit and funding cheaper ones after it', () => {
    expect(greedyByApprovals(projects, { a: 9, b: 8, c: 7, d: 6, e: 0 }, 100)).toEqual(['a', 'c', 'd']);
  });

  it('breaks approval ties by lower cost, then by id; accepts a Map', () => {
    const approvals = new Map([
      ['a', 5],
      ['b', 5],
      ['c', 5],
      ['d', 1],
    ]);
    expect(greedyByApprovals(projects, approvals, 80)).toEqual(['c', 'a']);
    const sameCost = [
      { id: 'y', cost: 10 },
      { id: 'x', cost: 10 },
    ];
    expect(greedyByApprovals(sameCost, { x: 1, y: 1 }, 10)).toEqual(['x']);
  });

  it('never funds a project without approvals and ignores inherited keys', () => {
    expect(greedyByApprovals([{ id: 'toString', cost: 1 }], {}, 10)).toEqual([]);
  });

  it('rejects bad input', () => {
    expect(() => greedyByApprovals([{ id: 'a', cost: -1 }], {}, 10)).toThrow(RangeError);
    expect(() => greedyByApprovals(projects, {}, Number.NaN)).toThrow(RangeError);
    expect(() => greedyByApprovals([projects[0]!, projects[0]!], {}, 10)).toThrow(/duplicate/);
  });
});

describe('methodOfEqualShares', () => {
  it('is proportional where greedy is not', () => {
    const projects = [
      { id: 'A', cost: 4 },
      { id: 'B', cost: 4 },
      { id: 'C', cost: 4 },
    ];
    const ballots = [...Array<string[]>(6).fill(['A', 'B']), ...Array<string[]>(4).fill(['C'])];
    expect(methodOfEqualShares(projects, ballots, 10)).toEqual(['A', 'C']);
    expect(greedyByApprovals(projects, { A: 6, B: 6, C: 4 }, 10)).toEqual(['A', 'B']);
  });

  it('settles an exact tie by lower cost even where doubles would order it the other way', () => {
    // Both cost 1/3 per unit of utility; in doubles (5/3)/5 > (6/3)/6, so a float-only rule picks Q.
    const projects = [
      { id: 'Q', cost: 6 },
      { id: 'P', cost: 5 },
    ];
    expect((5 / 3) / 5).toBeGreaterThan((6 / 3) / 6);
    expect(methodOfEqualShares(projects, [['P', 'Q'], ['P', 'Q'], ['P', 'Q']], 6)).toEqual(['P']);
  });

  it('breaks a tie of cost and payment by more approvals', () => {
    // Z (1/8 per unit) goes first and empties v3..v10. Then X (v1, v2) and Y (v1, v2, v3) both cost 6
    // and are both paid 3 + 3 by v1 and v2: a tie, so the one with more approvals (Y) goes first.
    const projects = [
      { id: 'X', cost: 6 },
      { id: 'Y', cost: 6 },
      { id: 'Z', cost: 24 },
    ];
    const ballots = [['X', 'Y'], ['X', 'Y'], ['Y', 'Z'], ...Array<string[]>(7).fill(['Z'])];
    expect(methodOfEqualShares(projects, ballots, 30, { completion: 'none' })).toEqual(['Z', 'Y']);
  });

  it('add1 completion raises the per-voter budget while the outcome is not exhaustive', () => {
    const projects = [
      { id: 'A', cost: 6 },
      { id: 'B', cost: 4 },
    ];
    const ballots = [['A'], ['B']];
    expect(methodOfEqualShares(projects, ballots, 10, { completion: 'none' })).toEqual(['B']);
    expect(methodOfEqualShares(projects, ballots, 10, { completion: 'add1' })).toEqual(['B', 'A']);
  });

  it('add1 keeps the last outcome that fits the real budget', () => {
    const projects = [
      { id: 'A', cost: 6 },
      { id: 'B', cost: 5 },
      { id: 'D', cost: 1 },
    ];
    // B alone is not exhaustive (D would fit); 6 per voter buys A and B, 11 > 10, so B stays.
    expect(methodOfEqualShares(projects, [['A'], ['B']], 10)).toEqual(['B']);
  });

  it('stops where the reference would loop: all approved projects funded, an unapproved one still fits', () => {
    const projects = [
      { id: 'A', cost: 3 },
      { id: 'unloved', cost: 1 },
    ];
    expect(methodOfEqualShares(projects, [['A'], []], 10)).toEqual(['A']);
  });

  it('handles no voters, zero-cost projects and unknown ids', () => {
    expect(methodOfEqualShares([{ id: 'A', cost: 1 }], [], 10)).toEqual([]);
    expect(methodOfEqualShares([{ id: 'free', cost: 0 }], [['free']], 10)).toEqual([]);
    expect(() => methodOfEqualShares([{ id: 'A', cost: 1 }], [['B']], 10)).toThrow(/unknown project/);
  });

  it('agrees with a naive exact port of the reference algorithm on random elections', () => {
    const rnd = lcg(2024);
    for (let round = 0; round < 150; round++) {
      const m = 2 + Math.floor(rnd() * 7);
      const n = 1 + Math.floor(rnd() * 25);
      // Few distinct costs and small budgets make ties and capped payers common.
      const projects = Array.from({ length: m }, (_, i) => ({ id: `p${i}`, cost: 1 + Math.floor(rnd() * 4) * (1 + Math.floor(rnd() * 3)) }));
      const ballots = Array.from({ length: n }, () => projects.filter(() => rnd() < 0.4).map((p) => p.id));
      const budget = 1 + Math.floor(rnd() * 3 * m);
      for (const completion of ['none', 'add1'] as const) {
        expect(methodOfEqualShares(projects, ballots, budget, { completion }), `case ${round} ${completion}`).toEqual(
          naiveMes(projects, ballots, budget, completion),
        );
      }
    }
  });

  it('copes with 250,000 voters and 50 projects', () => {
    const rnd = lcg(7);
    const projects = Array.from({ length: 50 }, (_, i) => ({ id: `p${i}`, cost: 50_000 + Math.floor(rnd() * 950_000) }));
    const popularity = projects.map(() => rnd() ** 2 * 0.3);
    const ballots = Array.from({ length: 250_000 }, () => projects.filter((_, i) => rnd() < popularity[i]!).map((p) => p.id));
    const funded = methodOfEqualShares(projects, ballots, 10_000_000);
    const cost = new Map(projects.map((p) => [p.id, p.cost]));
    expect(funded.length).toBeGreaterThan(0);
    expect(funded.reduce((s, id) => s + cost.get(id)!, 0)).toBeLessThanOrEqual(10_000_000);
  });
});

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
}

// A direct port of equalshares.net's reference (cost utilities, add1), one exact fraction per voter.
type F = [bigint, bigint];
const fr = (n: bigint, d: bigint): F => {
  const g = ((a: bigint, b: bigint): bigint => {
    while (b) [a, b] = [b, a % b];
    return a < 0n ? -a : a;
  })(n, d);
  return [n / g, d / g];
};
const fAdd = (a: F, b: F) => fr(a[0] * b[1] + b[0] * a[1], a[1] * b[1]);
const fSub = (a: F, b: F) => fr(a[0] * b[1] - b[0] * a[1], a[1] * b[1]);
const fDiv = (a: F, b: F) => fr(a[0] * b[1], a[1] * b[0]);
const fCmp = (a: F, b: F) => Math.sign(Number(a[0] * b[1] - b[0] * a[1]));

function naiveFixed(projects: BudgetProject[], approvers: Map<string, number[]>, n: number, budget: F): string[] {
  const money: F[] = Array.from({ length: n }, () => fDiv(budget, [BigInt(n), 1n]));
  const remaining = new Set(projects.filter((p) => p.cost > 0 && approvers.get(p.id)!.length > 0).map((p) => p.id));
  const cost = new Map(projects.map((p) => [p.id, [BigInt(p.cost), 1n] as F]));
  const winners: string[] = [];
  for (;;) {
    let best: { id: string; eff: F }[] = [];
    for (const c of [...remaining]) {
      const voters = [...approvers.get(c)!].sort((a, b) => fCmp(money[a]!, money[b]!));
      const total = voters.reduce((s, i) => fAdd(s, money[i]!), [0n, 1n] as F);
      if (fCmp(total, cost.get(c)!) < 0) {
        remaining.delete(c);
        continue;
      }
      let paid: F = [0n, 1n];
      let den = voters.length;
      for (const i of voters) {
        const pay = fDiv(fSub(cost.get(c)!, paid), [BigInt(den), 1n]);
        if (fCmp(pay, money[i]!) > 0) {
          paid = fAdd(paid, money[i]!);
          den--;
        } else {
          const eff = fDiv(cost.get(c)!, pay);
          const cmp = best.length ? fCmp(eff, best[0]!.eff) : 1;
          if (cmp > 0) best = [{ id: c, eff }];
          else if (cmp === 0) best.push({ id: c, eff });
          break;
        }
      }
    }
    if (!best.length) return winners;
    best.sort((a, b) => fCmp(cost.get(a.id)!, cost.get(b.id)!) || approvers.get(b.id)!.length - approvers.get(a.id)!.length || (a.id < b.id ? -1 : 1));
    const w = best[0]!;
    winners.push(w.id);
    remaining.delete(w.id);
    const pay = fDiv(cost.get(w.id)!, w.eff);
    for (const i of approvers.get(w.id)!) money[i] = fCmp(money[i]!, pay) > 0 ? fSub(money[i]!, pay) : [0n, 1n];
  }
}

function naiveMes(projects: BudgetProject[], ballots: string[][], total: number, completion: 'none' | 'add1'): string[] {
  const n = ballots.length;
  const approvers = new Map(projects.map((p) => [p.id, ballots.flatMap((b, i) => (b.includes(p.id) ? [i] : []))]));
  const cost = new Map(projects.map((p) => [p.id, p.cost]));
  const sum = (ids: string[]) => ids.reduce((s, id) => s + cost.get(id)!, 0);
  let mes = naiveFixed(projects, approvers, n, [BigInt(total), 1n]);
  if (completion === 'none') return mes;
  let budget = Math.floor(total / n) * n;
  let current = sum(mes);
  for (let guard = 0; guard < 10_000; guard++) {
    const exhaustive = projects.every((p) => mes.includes(p.id) || current + p.cost > total);
    const eligible = projects.filter((p) => p.cost > 0 && approvers.get(p.id)!.length > 0).length;
    if (exhaustive || mes.length === eligible) break;
    budget += n;
    const next = naiveFixed(projects, approvers, n, [BigInt(budget), 1n]);
    if (sum(next) > total) break;
    mes = next;
    current = sum(next);
  }
  return mes;
}
