import type { PollDefinition } from '../../src/domain/pollDefinition.ts';

/** A poll definition that is open now and for the next hour, for tests. */
export const openGeneralPoll = (overrides: Partial<PollDefinition> = {}, settings: Partial<PollDefinition['settings']> = {}): Omit<PollDefinition, 'pollId'> => ({
  kind: 'general',
  title: 'Which park should get new benches?',
  tags: ['parks'],
  questions: [
    {
      id: 'q1',
      text: 'Pick one park',
      minChoices: 1,
      maxChoices: 1,
      options: [
        { id: 'a', label: 'Namsan' },
        { id: 'b', label: 'Seoul Forest' },
        { id: 'c', label: 'Haneul Park' },
      ],
    },
  ],
  settings: {
    opensAt: new Date(Date.now() - 60_000).toISOString(),
    closesAt: new Date(Date.now() + 3_600_000).toISOString(),
    resultsVisibility: 'live',
    allowRevote: false,
    ...settings,
  },
  ...overrides,
});

export const citizen = (id: string) => ({ kind: 'citizen' as const, id });
export const official = (id: string, orgId = 'org-city') => ({ kind: 'official' as const, id, orgId });
