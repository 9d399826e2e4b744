import type { RunningApp } from '../../src/infra/compositionRoot.ts';
import type { Actor } from '../../src/domain/poll.ts';
import type { PollDefinition } from '../../src/domain/pollDefinition.ts';
import { citizen, official, openGeneralPoll } from '../support/pollFixtures.ts';

/** Poll definitions of every kind the citizen site shows, open now, for the site's HTTP and browser tests. */
const window = (minutes = 60) => ({ opensAt: new Date(Date.now() - 60_000).toISOString(), closesAt: new Date(Date.now() + minutes * 60_000).toISOString() });

export const vsPoll = (title = '짜장면 vs 짬뽕'): Omit<PollDefinition, 'pollId'> => ({
  kind: 'vs',
  title,
  tags: ['food'],
  questions: [{ id: 'q1', text: title, minChoices: 1, maxChoices: 1, options: [{ id: 'left', label: '짜장면', description: '달콤한 춘장' }, { id: 'right', label: '짬뽕', description: '얼큰한 국물' }] }],
  settings: { ...window(), resultsVisibility: 'live', allowRevote: false },
});

export const surveyPoll = (): Omit<PollDefinition, 'pollId'> => ({
  kind: 'survey',
  title: '도서관 이용 설문',
  tags: ['library'],
  questions: [
    { id: 'visits', text: '한 달에 몇 번 도서관에 가시나요?', minChoices: 1, maxChoices: 1, options: [{ id: 'none', label: '안 감' }, { id: 'few', label: '1~3번' }, { id: 'many', label: '4번 이상' }] },
    { id: 'wants', text: '무엇이 더 필요하신가요?', minChoices: 1, maxChoices: 2, allowFreeText: true, options: [{ id: 'hours', label: '야간 개관' }, { id: 'seats', label: '열람석' }, { id: 'books', label: '신간 도서' }] },
  ],
  settings: { ...window(), resultsVisibility: 'live', allowRevote: false },
});

export const budgetPoll = (): Omit<PollDefinition, 'pollId'> => ({
  kind: 'budget',
  title: '2027 주민참여예산',
  tags: ['budget', 'parks'],
  questions: [{
    id: 'projects', text: '찬성하는 사업을 고르세요', minChoices: 0, maxChoices: 3,
    options: [
      { id: 'p1', label: '놀이터 그늘막', cost: 40_000_000, district: '마포구', description: '여름 햇볕을 가리는 그늘막 12곳' },
      { id: 'p2', label: '자전거 거치대', cost: 25_000_000, district: '마포구' },
      { id: 'p3', label: '하천 산책로 조명', cost: 60_000_000, district: '성동구' },
      { id: 'p4', label: '경로당 냉난방기', cost: 30_000_000, district: '성동구' },
    ],
  }],
  budget: { total: 100_000_000, currency: 'KRW', rule: 'greedy' },
  settings: { ...window(), resultsVisibility: 'live', allowRevote: false },
});

export const policyPoll = (overrides: Partial<PollDefinition> = {}): Omit<PollDefinition, 'pollId'> => ({
  kind: 'policy',
  title: '공공자전거 요금 인하',
  tags: ['transport'],
  questions: [{ id: 'q1', text: '요금 인하에 찬성하십니까?', minChoices: 1, maxChoices: 1, options: [{ id: 'yes', label: '찬성' }, { id: 'no', label: '반대' }] }],
  settings: { ...window(), resultsVisibility: 'live', allowRevote: false },
  policy: { mode: 'reference', reflectionPercent: 30 },
  ...overrides,
});

export const generalPoll = openGeneralPoll;
export { citizen, official };

/** Creates, schedules and opens a poll, then waits for the read models. */
export const openPoll = async (app: RunningApp, definition: Omit<PollDefinition, 'pollId'>, by: Actor = definition.kind === 'general' || definition.kind === 'vs' ? citizen('creator-1') : official('official-1')): Promise<string> => {
  const pollId = await app.polls.commands.create(definition, by);
  await app.polls.commands.schedule(pollId, by);
  await app.polls.commands.open(pollId, by);
  await app.projections.settled();
  return pollId;
};

/** Closes a policy poll, publishes its result and posts a reflection, as its official would. */
export const closeAndReflect = async (app: RunningApp, pollId: string, by = official('official-1')) => {
  await app.polls.commands.close(pollId, by);
  await app.polls.commands.publishResult(pollId, by);
  await app.polls.commands.postReflection(pollId, { text: '요금을 20% 내렸습니다.', links: ['https://example.org/notice'], reflectedPercent: 80, status: '시행 중' }, by);
  await app.projections.settled();
};
