/**
 * The tally of a poll: counts per option, free-text answer counts, and for budget polls the funded
 * projects. The app, every ledger node and the portal compute it from their own copies and compare the
 * canonical JSON, so the output is plain JSON built in a fixed key order with arrays in definition order.
 */
import { budgetOutcome } from './budgetRules.ts';
import type { BallotSelections, BudgetRule, PollDefinition } from './pollDefinition.ts';

export interface TallyBallot {
  voterTag: string;
  selections: BallotSelections;
  /** ISO-8601 instant. */
  castAt: string;
}

export interface OptionTally {
  optionId: string;
  count: number;
}

export interface QuestionTally {
  questionId: string;
  /** In the definition's option order. */
  options: OptionTally[];
  /** Counted ballots with a non-blank free-text answer to this question. */
  freeTextAnswers: number;
}

export interface BudgetTally {
  rule: BudgetRule;
  total: number;
  /** Funded project ids, in the definition's option order. */
  funded: string[];
  totalCost: number;
}

export interface PollTally {
  pollId: string;
  /** Distinct voters counted. */
  ballots: number;
  /** In the definition's question order. */
  questions: QuestionTally[];
  budget?: BudgetTally;
}

export class TallyError extends Error {
  readonly code = 'TALLY_INVALID_BALLOT';
  constructor(message: string) {
    super(message);
    this.name = 'TallyError';
  }
}

function instant(b: Pick<TallyBallot, 'voterTag' | 'castAt'>): number {
  const t = Date.parse(b.castAt);
  if (Number.isNaN(t)) throw new TallyError(`ballot of ${b.voterTag} has an invalid castAt ${JSON.stringify(b.castAt)}`);
  return t;
}

/**
 * The ballot that counts for each voter. With re-voting, the last by castAt (then by input order);
 * without, the first (a later one would have been refused when cast, so it should not exist).
 * Returned in order of the voters' first appearance, so the result does not depend on map iteration.
 */
export function countedBallots<B extends Pick<TallyBallot, 'voterTag' | 'castAt'>>(def: Pick<PollDefinition, 'settings'>, ballots: readonly B[]): B[] {
  const chosen = new Map<string, { ballot: B; at: number }>();
  for (const ballot of ballots) {
    const at = instant(ballot);
    const prev = chosen.get(ballot.voterTag);
    if (!prev || countsInstead(def, prev.at, at)) chosen.set(ballot.voterTag, { ballot, at });
  }
  return [...chosen.values()].map((c) => c.ballot);
}

/**
 * countedBallots' rule for one voter: whether a ballot cast at `at` (ms) counts instead of the one cast
 * at `previousAt` that counted so far (earlier in input order). For callers that stream the ballots.
 */
export const countsInstead = (def: Pick<PollDefinition, 'settings'>, previousAt: number, at: number): boolean =>
  def.settings.allowRevote ? at >= previousAt : at < previousAt;

/** A ballot's castAt in ms; a TallyError for one that is not a date. */
export const castInstant = (b: Pick<TallyBallot, 'voterTag' | 'castAt'>): number => instant(b);

/**
 * Tallies a poll. Throws {@link TallyError} for a ballot that names an unknown question or option or
 * answers in free text where the question does not allow it: the ledger nodes refuse such ballots, so
 * meeting one means the input is not what was cast. Choice limits are not re-checked here.
 */
export function tallyPoll(def: PollDefinition, ballots: readonly TallyBallot[]): PollTally {
  return tallyCounted(def, countedBallots(def, ballots));
}

/**
 * Tallies ballots that are already the counted ones (one per voter, as {@link countedBallots} chooses),
 * reading each once, in any order: a caller with many ballots can stream them instead of holding them.
 * What it keeps per ballot is, in a budget poll only, the approval set (its option ids interned to the
 * definition's own strings), which the budget rule needs all at once.
 */
export function tallyCounted(def: PollDefinition, counted: Iterable<TallyBallot>): PollTally {
  const questions = new Map(def.questions.map((q) => [q.id, q]));
  const optionCounts = new Map(def.questions.map((q) => [q.id, new Map(q.options.map((o) => [o.id, 0]))]));
  const freeText = new Map(def.questions.map((q) => [q.id, 0]));

  const budgetQuestion = def.kind === 'budget' && def.budget ? (def.questions[0]?.id ?? '') : null;
  const optionIds = new Map((def.questions.find((q) => q.id === budgetQuestion)?.options ?? []).map((o) => [o.id, o.id]));
  const approvals: string[][] = [];
  let ballots = 0;
  for (const b of counted) {
    ballots++;
    if (budgetQuestion !== null) approvals.push((b.selections.selections[budgetQuestion] ?? []).map((id) => optionIds.get(id) ?? id));
    for (const [qid, ids] of Object.entries(b.selections.selections)) {
      const counts = optionCounts.get(qid);
      if (!counts) throw new TallyError(`ballot of ${b.voterTag} answers unknown question ${JSON.stringify(qid)}`);
      for (const id of new Set(ids)) {
        const c = counts.get(id);
        if (c === undefined) throw new TallyError(`ballot of ${b.voterTag} chooses unknown option ${JSON.stringify(id)} in ${qid}`);
        counts.set(id, c + 1);
      }
    }
    for (const [qid, text] of Object.entries(b.selections.freeText ?? {})) {
      const q = questions.get(qid);
      if (!q) throw new TallyError(`ballot of ${b.voterTag} answers unknown question ${JSON.stringify(qid)}`);
      if (text.trim() === '') continue;
      if (!q.allowFreeText) throw new TallyError(`question ${qid} takes no free text`);
      freeText.set(qid, freeText.get(qid)! + 1);
    }
  }

  const tally: PollTally = {
    pollId: def.pollId,
    ballots,
    questions: def.questions.map((q) => ({
      questionId: q.id,
      options: q.options.map((o) => ({ optionId: o.id, count: optionCounts.get(q.id)!.get(o.id)! })),
      freeTextAnswers: freeText.get(q.id)!,
    })),
  };
  if (budgetQuestion !== null && def.budget) {
    const outcome = budgetOutcome(def, approvals);
    const funded = new Set(outcome.funded);
    tally.budget = {
      rule: outcome.rule,
      total: def.budget.total,
      funded: def.questions[0]!.options.filter((o) => funded.has(o.id)).map((o) => o.id),
      totalCost: outcome.totalCost,
    };
  }
  return tally;
}
