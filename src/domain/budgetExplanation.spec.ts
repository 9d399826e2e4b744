import { describe, expect, it } from 'vitest';
import { explainLeftOut } from './budgetExplanation.ts';
import { greedyByApprovals, methodOfEqualShares } from './budgetRules.ts';

const approvalsOf = (ballots: string[][]) => {
  const counts = new Map<string, number>();
  for (const b of ballots) for (const id of b) counts.set(id, (counts.get(id) ?? 0) + 1);
  return counts;
};

describe('explainLeftOut', () => {
  it('greedy: a more popular project skipped because it cost more than what was left at its turn', () => {
    const projects = [{ id: 'a', cost: 60 }, { id: 'b', cost: 50 }, { id: 'c', cost: 30 }];
    const ballots = [['a', 'b'], ['a', 'b'], ['a', 'c'], ['a']];
    const funded = greedyByApprovals(projects, approvalsOf(ballots), 100);
    expect(funded).toEqual(['a', 'c']);
    const counts = approvalsOf(ballots);
    const explained = explainLeftOut('greedy', 100, ballots.length, projects.map((p) => ({ ...p, approvals: counts.get(p.id) ?? 0 })), funded);
    expect(explained).toEqual([{ id: 'b', approvals: 2, cost: 50, outpolled: 'c', reason: { kind: 'greedy-did-not-fit', left: 40 } }]);
  });

  it('equal shares: the supporters of a more popular project could not pay for it from their shares', () => {
    // 10 voters, budget 100 (10 each). 'big' has 6 supporters (60 < 80); 'small' has 4 (40 >= 30).
    const projects = [{ id: 'big', cost: 80 }, { id: 'small', cost: 30 }];
    const ballots = [...Array.from({ length: 6 }, () => ['big']), ...Array.from({ length: 4 }, () => ['small'])];
    const funded = methodOfEqualShares(projects, ballots, 100, { completion: 'none' });
    expect(funded).toEqual(['small']);
    const counts = approvalsOf(ballots);
    const [only, ...rest] = explainLeftOut('equal-shares', 100, ballots.length, projects.map((p) => ({ ...p, approvals: counts.get(p.id) ?? 0 })), funded);
    expect(rest).toEqual([]);
    expect(only).toEqual({ id: 'big', approvals: 6, cost: 80, outpolled: 'small', reason: { kind: 'shares-below-cost', supportersShare: 60, perVoterShare: 10 } });
  });

  it('says nothing when no unfunded project out-polled a funded one', () => {
    expect(explainLeftOut('greedy', 100, 3, [{ id: 'a', cost: 50, approvals: 3 }, { id: 'b', cost: 90, approvals: 1 }], ['a'])).toEqual([]);
  });
});
