/**
 * Why a budget rule left out a project that more voters approved than a funded one: the sentence a
 * results page owes a citizen who sees "412 votes, not funded" above "230 votes, funded".
 *
 * Pure and derived only from the published facts (costs, approvals, voters, the funded set), so it
 * explains the outcome budgetRules.ts computed without re-running the rule:
 * - greedy: projects go in order of approvals (ties: lower cost, then lower id, as greedyByApprovals);
 *   a skipped project cost more than what was left when its turn came.
 * - equal shares: every voter controls an equal share of the budget (total / voters); a project is
 *   bought only by its own supporters' shares. Either their shares together are less than its cost, or
 *   they had already spent part of them on other projects they backed that the rule bought first.
 */
import type { BudgetRule } from './pollDefinition.ts';

export interface ExplainedProject {
  id: string;
  cost: number;
  approvals: number;
}

export type LeftOutReason =
  /** greedy: its cost was more than the budget left when its turn came. */
  | { kind: 'greedy-did-not-fit'; left: number }
  /** equal shares: its supporters' equal shares together are less than its cost. */
  | { kind: 'shares-below-cost'; supportersShare: number; perVoterShare: number }
  /** equal shares: enough in principle, but the supporters had spent their shares on projects bought first. */
  | { kind: 'shares-spent'; supportersShare: number; perVoterShare: number };

export interface LeftOutProject {
  id: string;
  approvals: number;
  cost: number;
  /** The least-approved funded project it out-polled. */
  outpolled: string;
  reason: LeftOutReason;
}

const compareIds = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Unfunded projects with more approvals than at least one funded project, most approved first, each with
 * the reason the rule left it out.
 */
export function explainLeftOut(rule: BudgetRule, total: number, voters: number, projects: readonly ExplainedProject[], funded: readonly string[]): LeftOutProject[] {
  const fundedSet = new Set(funded);
  const fundedProjects = projects.filter((p) => fundedSet.has(p.id));
  if (fundedProjects.length === 0) return [];
  const leastFunded = fundedProjects.reduce((a, b) => (b.approvals < a.approvals ? b : a));
  const order = [...projects].sort((a, b) => b.approvals - a.approvals || a.cost - b.cost || compareIds(a.id, b.id));
  const perVoterShare = voters > 0 ? total / voters : 0;
  const out: LeftOutProject[] = [];
  let left = total;
  for (const p of order) {
    if (fundedSet.has(p.id)) {
      left -= p.cost;
      continue;
    }
    if (p.approvals <= leastFunded.approvals) continue;
    const supportersShare = p.approvals * perVoterShare;
    const reason: LeftOutReason =
      rule === 'greedy'
        ? { kind: 'greedy-did-not-fit', left }
        : supportersShare < p.cost
          ? { kind: 'shares-below-cost', supportersShare, perVoterShare }
          : { kind: 'shares-spent', supportersShare, perVoterShare };
    out.push({ id: p.id, approvals: p.approvals, cost: p.cost, outpolled: leastFunded.id, reason });
  }
  return out;
}
