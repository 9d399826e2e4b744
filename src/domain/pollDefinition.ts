/**
 * The shape every poll kind is reduced to. Shared by the poll decider, the tally, the ledger nodes
 * (which check ballots and tally from their own copies) and the portal (which recounts in the browser),
 * so it must stay plain JSON: no Dates, no Maps, no class instances.
 *
 * Every kind is a list of questions: a general, VS or policy poll has one question; a survey has several;
 * a participatory-budget poll has one question whose options are the projects.
 */
export type PollKind = 'general' | 'vs' | 'survey' | 'policy' | 'budget';

export type PolicyMode = 'decision' | 'reference';

export type BudgetRule = 'greedy' | 'equal-shares';

export interface PollOption {
  id: string;
  label: string;
  description?: string;
  imageUrl?: string;
  /**
   * Budget polls only: project cost in currency units, exact to the decimal written (e.g. 322239.55, at
   * most 2 decimals): the budget rules read it back as that decimal, never as a binary fraction.
   */
  cost?: number;
  /** Budget polls only: the district or area the project belongs to. */
  district?: string;
}

export interface PollQuestion {
  id: string;
  text: string;
  options: PollOption[];
  /** How many options a voter must / may choose. minChoices >= 0, maxChoices >= max(1, minChoices). */
  minChoices: number;
  maxChoices: number;
  /** Survey questions may also take a free-text answer. */
  allowFreeText?: boolean;
}

export interface PollBudget {
  /** Currency units, exact to the decimal written (at most 2 decimals), like option costs. */
  total: number;
  currency: string;
  rule: BudgetRule;
  /** Greedy only: projects with fewer approvals are never funded (Pabulib `greedy-threshold`). */
  minApprovals?: number;
  /** Greedy only: stop at the first project that does not fit instead of skipping it (`greedy-no-skip`). */
  stopAtFirstMisfit?: boolean;
  /** Equal shares only: `add1` completion (the default when absent) or none. */
  completion?: 'add1' | 'none';
  /** Equal shares only: compare with greedy by approvals and keep the outcome more voters prefer (`-comparison`). */
  comparison?: 'none' | 'satisfaction';
}

export interface OnSitePlace {
  latitude: number;
  longitude: number;
  radiusMeters: number;
  label?: string;
}

export interface PollSettings {
  /** ISO-8601 instants. */
  opensAt: string;
  closesAt: string;
  /** Only the first N distinct voters are accepted. */
  firstComeCap?: number;
  /** Only citizens whose phone number is on the roll may vote (roll stored as keyed hashes). */
  voterRollRequired?: boolean;
  onSite?: OnSitePlace;
  resultsVisibility: 'live' | 'sealed';
  allowRevote: boolean;
}

export interface PollDefinition {
  pollId: string;
  kind: PollKind;
  title: string;
  description?: string;
  tags: string[];
  questions: PollQuestion[];
  settings: PollSettings;
  /** Policy polls only. reflectionPercent is 100 for 'decision', 1..99 for 'reference'. */
  policy?: { mode: PolicyMode; reflectionPercent: number };
  /** Budget polls only. */
  budget?: PollBudget;
  /** The organisation that runs an official poll, absent for citizen polls. */
  orgId?: string;
}

/** What a voter chose: option ids per question id, plus optional free text per question. */
export interface BallotSelections {
  selections: Record<string, string[]>;
  freeText?: Record<string, string>;
}
