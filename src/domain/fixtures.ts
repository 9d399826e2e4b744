/** Fixed data shared by the domain specs: no clock, no randomness. Not imported by production code. */
import type { Actor } from './poll.ts';
import type { PollDefinition, PollQuestion } from './pollDefinition.ts';

export const BEFORE_OPEN = '2025-03-01T08:00:00Z';
export const OPENS_AT = '2025-03-01T09:00:00Z';
export const DURING = '2025-03-04T12:00:00Z';
export const CLOSES_AT = '2025-03-08T09:00:00Z';
export const AFTER_CLOSE = '2025-03-09T10:00:00Z';

export const citizen: Actor = { kind: 'citizen', id: 'citizen-1' };
export const otherCitizen: Actor = { kind: 'citizen', id: 'citizen-2' };
export const official: Actor = { kind: 'official', id: 'official-1', orgId: 'org-parks' };
export const colleague: Actor = { kind: 'official', id: 'official-2', orgId: 'org-parks' };
export const outsider: Actor = { kind: 'official', id: 'official-9', orgId: 'org-roads' };

export const question = (id: string, optionIds: string[], overrides: Partial<PollQuestion> = {}): PollQuestion => ({
  id,
  text: `Question ${id}?`,
  options: optionIds.map((o) => ({ id: o, label: `Option ${o}` })),
  minChoices: 1,
  maxChoices: 1,
  ...overrides,
});

export const generalPoll: PollDefinition = {
  pollId: 'p1',
  kind: 'general',
  title: 'Where should the new bench go?',
  tags: ['parks'],
  questions: [question('q1', ['a', 'b', 'c'])],
  settings: { opensAt: OPENS_AT, closesAt: CLOSES_AT, resultsVisibility: 'live', allowRevote: false },
};

export const policyPoll: PollDefinition = {
  ...generalPoll,
  kind: 'policy',
  title: 'Should the park open at night?',
  questions: [question('q1', ['yes', 'no'])],
  policy: { mode: 'reference', reflectionPercent: 30 },
  orgId: 'org-parks',
};

export const budgetPoll: PollDefinition = {
  ...generalPoll,
  kind: 'budget',
  title: 'Participatory budget 2025',
  questions: [
    {
      id: 'projects',
      text: 'Choose up to 2 projects',
      options: [
        { id: 'x', label: 'Playground', cost: 300 },
        { id: 'y', label: 'Lights', cost: 200 },
        { id: 'z', label: 'Trees', cost: 100 },
      ],
      minChoices: 1,
      maxChoices: 2,
    },
  ],
  budget: { total: 400, currency: 'KRW', rule: 'greedy' },
  orgId: 'org-parks',
};

export const surveyPoll: PollDefinition = {
  ...generalPoll,
  kind: 'survey',
  title: 'Park survey',
  questions: [
    question('s1', ['a', 'b', 'c'], { minChoices: 1, maxChoices: 2 }),
    question('s2', ['x', 'y'], { minChoices: 0, maxChoices: 1, allowFreeText: true }),
  ],
  orgId: 'org-parks',
};
