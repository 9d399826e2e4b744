import type { PollDefinition } from '../../src/domain/pollDefinition.ts';
import type { RunningApp } from '../../src/infra/compositionRoot.ts';

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

/** Creates, schedules and opens a poll (a citizen's general poll unless `definition` says otherwise). */
export const openPoll = async (app: RunningApp, definition: Omit<PollDefinition, 'pollId'> = openGeneralPoll(), by: Parameters<RunningApp['polls']['commands']['create']>[1] = citizen('author')) => {
  const pollId = await app.polls.commands.create(definition, by);
  await app.polls.commands.schedule(pollId, by);
  await app.polls.commands.open(pollId, by);
  return pollId;
};
