import { describe, expect, it } from 'vitest';
import { fold } from './decider.ts';
import {
  EmptyVoterRoll,
  IllegalPollTransition,
  InvalidOnSitePlace,
  InvalidPollDefinition,
  InvalidReflection,
  InvalidVoterRollChunk,
  NotOrgOfficial,
  NotPollOwner,
  PollAlreadyExists,
  PollClosed,
  PollKindNotAllowed,
  PollNotFound,
  PollNotOpen,
  ReflectionNotAllowed,
  ScheduleNotReached,
} from './errors.ts';
import {
  AFTER_CLOSE,
  BEFORE_OPEN,
  CLOSES_AT,
  DURING,
  OPENS_AT,
  budgetPoll,
  citizen,
  colleague,
  generalPoll,
  official,
  otherCitizen,
  outsider,
  policyPoll,
  question,
  surveyPoll,
} from './fixtures.ts';
import { pollDecider, pollStatusAt, type Actor, type PollEvent, type PollResult, type Reflection, type SystemActor } from './poll.ts';
import type { PollDefinition } from './pollDefinition.ts';
import { specFor } from './testing.ts';

const spec = specFor(pollDecider);
const system: SystemActor = { kind: 'system' };
const DRAFTED = '2025-02-01T00:00:00Z';

const created = (definition: PollDefinition, createdBy: Actor): PollEvent => ({
  type: 'PollCreated',
  data: { pollId: definition.pollId, definition, createdBy, createdAt: DRAFTED },
});
const scheduled = (by: Actor): PollEvent => ({
  type: 'PollScheduled',
  data: { pollId: 'p1', opensAt: OPENS_AT, closesAt: CLOSES_AT, scheduledBy: by, scheduledAt: DRAFTED },
});
const opened: PollEvent = { type: 'PollOpened', data: { pollId: 'p1', openedBy: system, openedAt: OPENS_AT } };
const closed: PollEvent = { type: 'PollClosed', data: { pollId: 'p1', closedBy: system, closedAt: CLOSES_AT } };
const result: PollResult = { pollId: 'p1', ballots: 14, questions: [{ questionId: 'q1', options: [{ optionId: 'yes', count: 10 }, { optionId: 'no', count: 4 }], freeTextAnswers: 0 }] };
const published: PollEvent = {
  type: 'PollResultPublished',
  data: { pollId: 'p1', result, publishedBy: system, publishedAt: AFTER_CLOSE },
};
const reflection: Reflection = { text: 'Night opening trial starts in May.', links: ['https://city.example/parks'], reflectedPercent: 30, status: 'in progress' };
const reflected: PollEvent = {
  type: 'PollReflectionPosted',
  data: { pollId: 'p1', reflection, postedBy: official, postedAt: AFTER_CLOSE },
};

const citizenDraft = [created(generalPoll, citizen)];
const citizenScheduled = [...citizenDraft, scheduled(citizen)];
const citizenOpen = [...citizenScheduled, opened];
const policyScheduled = [created(policyPoll, official), scheduled(official)];
const policyClosed = [...policyScheduled, opened, closed];
const policyPublished = [...policyClosed, published];

describe('CreatePoll', () => {
  const create = (definition: PollDefinition, createdBy: Actor) =>
    ({ type: 'CreatePoll', data: { definition, createdBy, now: DRAFTED } }) as const;

  it('creates a citizen general poll as a draft', () => {
    spec.given([]).when(create(generalPoll, citizen)).then([created(generalPoll, citizen)]);
  });

  it('lets citizens create VS polls', () => {
    const vs: PollDefinition = { ...generalPoll, kind: 'vs', questions: [question('q1', ['cats', 'dogs'])] };
    spec.given([]).when(create(vs, citizen)).then([created(vs, citizen)]);
  });

  it.each([policyPoll, budgetPoll, surveyPoll])('lets officials create $kind polls for their organisation', (definition) => {
    spec.given([]).when(create(definition, official)).then([created(definition, official)]);
  });

  it('takes budgets and costs with cents (a Warsaw budget of 322239.55) and the Pabulib rule options', () => {
    const q0 = budgetPoll.questions[0]!;
    const definition: PollDefinition = {
      ...budgetPoll,
      questions: [{ ...q0, options: q0.options.map((o, i) => ({ ...o, cost: i === 0 ? 125000.5 : 4000.05 })) }],
      budget: { total: 322239.55, currency: 'PLN', rule: 'greedy', minApprovals: 50, stopAtFirstMisfit: true },
    };
    spec.given([]).when(create(definition, official)).then([created(definition, official)]);
    const mes: PollDefinition = { ...definition, budget: { total: 322239.55, currency: 'PLN', rule: 'equal-shares', completion: 'add1', comparison: 'satisfaction' } };
    spec.given([]).when(create(mes, official)).then([created(mes, official)]);
  });

  it.each([
    { ...policyPoll, orgId: undefined },
    { ...surveyPoll, orgId: undefined },
  ])('refuses citizens the $kind kind', (definition) => {
    spec.given([]).when(create(definition, citizen)).thenThrows(PollKindNotAllowed);
  });

  it('refuses an official creating a poll for another organisation', () => {
    spec.given([]).when(create(policyPoll, outsider)).thenThrows(NotOrgOfficial);
  });

  it('refuses an organisation on a citizen poll', () => {
    spec
      .given([])
      .when(create({ ...generalPoll, orgId: 'org-parks' }, citizen))
      .thenThrows(InvalidPollDefinition, (e) => expect(e.problems).toEqual([{ field: 'orgId', problem: 'must be absent on a citizen poll' }]));
  });

  it('refuses a second creation on the same stream', () => {
    spec.given(citizenDraft).when(create(generalPoll, citizen)).thenThrows(PollAlreadyExists);
  });

  const invalid: Array<[string, PollDefinition, Actor, string]> = [
    ['general with one answer', { ...generalPoll, questions: [question('q1', ['a'])] }, citizen, 'questions[0].options'],
    ['general with 21 answers', { ...generalPoll, questions: [question('q1', [...'abcdefghijklmnopqrstu'])] }, citizen, 'questions[0].options'],
    ['general with two questions', { ...generalPoll, questions: [question('q1', ['a', 'b']), question('q2', ['a', 'b'])] }, citizen, 'questions'],
    ['VS with three answers', { ...generalPoll, kind: 'vs' }, citizen, 'questions[0].options'],
    ['VS with two choices', { ...generalPoll, kind: 'vs', questions: [question('q1', ['a', 'b'], { maxChoices: 2 })] }, citizen, 'questions[0].maxChoices'],
    ['survey without questions', { ...surveyPoll, questions: [] }, official, 'questions'],
    ['survey question with one option', { ...surveyPoll, questions: [question('s1', ['a'])] }, official, 'questions[0].options'],
    ['policy without mode', { ...policyPoll, policy: undefined }, official, 'policy'],
    ['decision below 100%', { ...policyPoll, policy: { mode: 'decision', reflectionPercent: 90 } }, official, 'policy.reflectionPercent'],
    ['reference at 100%', { ...policyPoll, policy: { mode: 'reference', reflectionPercent: 100 } }, official, 'policy.reflectionPercent'],
    ['reference at 0%', { ...policyPoll, policy: { mode: 'reference', reflectionPercent: 0 } }, official, 'policy.reflectionPercent'],
    ['budget without total', { ...budgetPoll, budget: undefined }, official, 'budget'],
    ['budget with zero total', { ...budgetPoll, budget: { total: 0, currency: 'KRW', rule: 'greedy' } }, official, 'budget.total'],
    ['greedy option on an equal-shares budget', { ...budgetPoll, budget: { total: 100, currency: 'KRW', rule: 'equal-shares', minApprovals: 3 } }, official, 'budget.minApprovals'],
    ['equal-shares option on a greedy budget', { ...budgetPoll, budget: { total: 100, currency: 'KRW', rule: 'greedy', comparison: 'satisfaction' } }, official, 'budget.comparison'],
    [
      // Grosze and cents are fine (322239.55); a third decimal is not money.
      'budget project with a cost finer than cents',
      { ...budgetPoll, questions: [{ ...budgetPoll.questions[0]!, options: [{ id: 'x', label: 'X', cost: 1.125 }, { id: 'y', label: 'Y', cost: 1 }] }] },
      official,
      'questions[0].options[0].cost',
    ],
    ['budget project without cost', { ...budgetPoll, questions: [question('projects', ['x', 'y'])] }, official, 'questions[0].options[0].cost'],
    ['cost on a general poll', { ...generalPoll, questions: [{ ...question('q1', ['a', 'b']), options: [{ id: 'a', label: 'A', cost: 5 }, { id: 'b', label: 'B' }] }] }, citizen, 'questions[0].options[0].cost'],
    ['budget rule on a policy poll', { ...policyPoll, budget: budgetPoll.budget }, official, 'budget'],
    ['maxChoices above the options', { ...generalPoll, questions: [question('q1', ['a', 'b'], { maxChoices: 3 })] }, citizen, 'questions[0].maxChoices'],
    ['minChoices above maxChoices', { ...generalPoll, questions: [question('q1', ['a', 'b', 'c'], { minChoices: 3, maxChoices: 2 })] }, citizen, 'questions[0].maxChoices'],
    ['duplicate option ids', { ...generalPoll, questions: [question('q1', ['a', 'a'])] }, citizen, 'questions[0].options'],
    ['free text outside a survey', { ...generalPoll, questions: [question('q1', ['a', 'b'], { allowFreeText: true })] }, citizen, 'questions[0].allowFreeText'],
    ['empty title', { ...generalPoll, title: ' ' }, citizen, 'title'],
    ['close before open', { ...generalPoll, settings: { ...generalPoll.settings, closesAt: BEFORE_OPEN } }, citizen, 'settings.closesAt'],
    ['local time without offset', { ...generalPoll, settings: { ...generalPoll.settings, opensAt: '2025-03-01T09:00:00' } }, citizen, 'settings.opensAt'],
    ['zero first-come cap', { ...generalPoll, settings: { ...generalPoll.settings, firstComeCap: 0 } }, citizen, 'settings.firstComeCap'],
    ['on-site radius of zero', { ...generalPoll, settings: { ...generalPoll.settings, onSite: { latitude: 37.5, longitude: 127, radiusMeters: 0 } } }, citizen, 'settings.onSite.radiusMeters'],
  ];
  it.each(invalid)('refuses %s', (_name, definition, by, field) => {
    spec
      .given([])
      .when(create(definition, by))
      .thenThrows(InvalidPollDefinition, (e) => expect(e.problems.map((p) => p.field)).toContain(field));
  });
});

describe('UpdateDraft', () => {
  const update = (definition: PollDefinition, by: Actor) =>
    ({ type: 'UpdateDraft', data: { pollId: 'p1', definition, by, now: DRAFTED } }) as const;
  const edited = { ...generalPoll, title: 'Where should the two new benches go?' };

  it('replaces the definition of a draft', () => {
    spec.given(citizenDraft).when(update(edited, citizen)).then([
      { type: 'PollDraftUpdated', data: { pollId: 'p1', definition: edited, updatedBy: citizen, updatedAt: DRAFTED } },
    ]);
  });

  it('is the creator’s alone for a citizen poll', () => {
    spec.given(citizenDraft).when(update(edited, otherCitizen)).thenThrows(NotPollOwner);
  });

  it('is open to any official of the organisation for an official poll', () => {
    const changed = { ...policyPoll, title: 'Open the park at night?' };
    spec.given([created(policyPoll, official)]).when(update(changed, colleague)).then([
      { type: 'PollDraftUpdated', data: { pollId: 'p1', definition: changed, updatedBy: colleague, updatedAt: DRAFTED } },
    ]);
  });

  it('refuses a poll that does not exist', () => {
    spec.given([]).when(update(edited, citizen)).thenThrows(PollNotFound);
  });

  it('refuses once scheduled', () => {
    spec.given(citizenScheduled).when(update(edited, citizen)).thenThrows(IllegalPollTransition);
  });

  it('refuses a changed poll id', () => {
    spec.given(citizenDraft).when(update({ ...edited, pollId: 'p2' }, citizen)).thenThrows(InvalidPollDefinition);
  });

  it('refuses a citizen switching to a kind citizens may not create', () => {
    spec.given(citizenDraft).when(update({ ...surveyPoll, orgId: undefined }, citizen)).thenThrows(PollKindNotAllowed);
  });

  it('validates the new definition', () => {
    spec.given(citizenDraft).when(update({ ...edited, questions: [] }, citizen)).thenThrows(InvalidPollDefinition);
  });
});

describe('SchedulePoll', () => {
  const schedule = (by: Actor, now = DRAFTED) => ({ type: 'SchedulePoll', data: { pollId: 'p1', by, now } }) as const;

  it('schedules a draft', () => {
    spec.given(citizenDraft).when(schedule(citizen)).then([scheduled(citizen)]);
  });

  it('refuses a non-owner', () => {
    spec.given(citizenDraft).when(schedule(otherCitizen)).thenThrows(NotPollOwner);
  });

  it('refuses twice', () => {
    spec.given(citizenScheduled).when(schedule(citizen)).thenThrows(IllegalPollTransition);
  });

  it('refuses a poll whose close time has passed', () => {
    spec.given(citizenDraft).when(schedule(citizen, AFTER_CLOSE)).thenThrows(InvalidPollDefinition);
  });

  it('refuses a roll-only poll with an empty roll', () => {
    const rollOnly = { ...policyPoll, settings: { ...policyPoll.settings, voterRollRequired: true } };
    spec.given([created(rollOnly, official)]).when(schedule(official)).thenThrows(EmptyVoterRoll);
  });

  it('accepts a roll-only poll once the roll has entries', () => {
    const rollOnly = { ...policyPoll, settings: { ...policyPoll.settings, voterRollRequired: true } };
    const chunk: PollEvent = { type: 'VoterRollChunkAdded', data: { pollId: 'p1', chunkIndex: 0, entries: ['h1'], addedAt: DRAFTED } };
    spec.given([created(rollOnly, official), chunk]).when(schedule(official)).then([scheduled(official)]);
  });
});

describe('OpenPoll', () => {
  const open = (by: Actor | SystemActor, now: string) => ({ type: 'OpenPoll', data: { pollId: 'p1', by, now } }) as const;

  it('is opened by the system at its open time', () => {
    spec.given(citizenScheduled).when(open(system, OPENS_AT)).then([opened]);
  });

  it('records the open time, not the moment a late scheduler ran', () => {
    spec.given(citizenScheduled).when(open(system, DURING)).then([opened]);
  });

  it('may be opened early by its owner', () => {
    spec.given(citizenScheduled).when(open(citizen, BEFORE_OPEN)).then([
      { type: 'PollOpened', data: { pollId: 'p1', openedBy: citizen, openedAt: BEFORE_OPEN } },
    ]);
  });

  it('is not opened early by the system', () => {
    spec.given(citizenScheduled).when(open(system, BEFORE_OPEN)).thenThrows(ScheduleNotReached);
  });

  it('refuses a draft', () => {
    spec.given(citizenDraft).when(open(citizen, DURING)).thenThrows(IllegalPollTransition);
  });

  it('refuses after the close time', () => {
    spec.given(citizenScheduled).when(open(system, AFTER_CLOSE)).thenThrows(PollClosed);
  });

  it('refuses a non-owner', () => {
    spec.given(citizenScheduled).when(open(otherCitizen, DURING)).thenThrows(NotPollOwner);
  });
});

describe('ClosePoll', () => {
  const close = (by: Actor | SystemActor, now: string) => ({ type: 'ClosePoll', data: { pollId: 'p1', by, now } }) as const;

  it('is closed by the system at the close time, dated the close time', () => {
    spec.given(citizenOpen).when(close(system, AFTER_CLOSE)).then([closed]);
  });

  it('may be closed early by its owner', () => {
    spec.given(citizenOpen).when(close(citizen, DURING)).then([
      { type: 'PollClosed', data: { pollId: 'p1', closedBy: citizen, closedAt: DURING } },
    ]);
  });

  it('says a scheduled poll past its open time was open before closing it', () => {
    spec.given(citizenScheduled).when(close(citizen, DURING)).then([
      opened,
      { type: 'PollClosed', data: { pollId: 'p1', closedBy: citizen, closedAt: DURING } },
    ]);
  });

  it('is not closed early by the system', () => {
    spec.given(citizenOpen).when(close(system, DURING)).thenThrows(ScheduleNotReached);
  });

  it('refuses before open', () => {
    spec.given(citizenScheduled).when(close(citizen, BEFORE_OPEN)).thenThrows(PollNotOpen);
  });

  it('refuses a draft', () => {
    spec.given(citizenDraft).when(close(citizen, DURING)).thenThrows(PollNotOpen);
  });

  it('refuses twice', () => {
    spec.given([...citizenOpen, closed]).when(close(system, AFTER_CLOSE)).thenThrows(PollClosed);
  });

  it('refuses a non-owner', () => {
    spec.given(citizenOpen).when(close(otherCitizen, DURING)).thenThrows(NotPollOwner);
  });
});

describe('PublishResult', () => {
  const publish = (by: Actor | SystemActor, now = AFTER_CLOSE) =>
    ({ type: 'PublishResult', data: { pollId: 'p1', result, by, now } }) as const;

  it('publishes the result of a closed poll', () => {
    spec.given(policyClosed).when(publish(system)).then([published]);
  });

  it('closes a poll past its close time before publishing', () => {
    spec.given([...policyScheduled, opened]).when(publish(system)).then([closed, published]);
  });

  it('refuses while the poll is open', () => {
    spec.given([...policyScheduled, opened]).when(publish(official, DURING)).thenThrows(IllegalPollTransition);
  });

  it('refuses twice', () => {
    spec.given(policyPublished).when(publish(official)).thenThrows(IllegalPollTransition);
  });

  it('refuses an official of another organisation', () => {
    spec.given(policyClosed).when(publish(outsider)).thenThrows(NotPollOwner);
  });
});

describe('PostReflection and UpdateReflection', () => {
  const post = (by: Actor, r = reflection) => ({ type: 'PostReflection', data: { pollId: 'p1', reflection: r, by, now: AFTER_CLOSE } }) as const;
  const update = (by: Actor, r = reflection) => ({ type: 'UpdateReflection', data: { pollId: 'p1', reflection: r, by, now: AFTER_CLOSE } }) as const;
  const later: Reflection = { ...reflection, reflectedPercent: 100, status: 'done' };

  it('posts a reflection on a published policy poll', () => {
    spec.given(policyPublished).when(post(official)).then([reflected]);
  });

  it('posts a reflection on a published budget poll', () => {
    spec.given([created(budgetPoll, official), scheduled(official), opened, closed, published]).when(post(colleague)).then([
      { type: 'PollReflectionPosted', data: { pollId: 'p1', reflection, postedBy: colleague, postedAt: AFTER_CLOSE } },
    ]);
  });

  it('updates a reflection, as many times as needed', () => {
    spec.given([...policyPublished, reflected, { type: 'PollReflectionUpdated', data: { pollId: 'p1', reflection: later, updatedBy: official, updatedAt: AFTER_CLOSE } }])
      .when(update(colleague, reflection))
      .then([{ type: 'PollReflectionUpdated', data: { pollId: 'p1', reflection, updatedBy: colleague, updatedAt: AFTER_CLOSE } }]);
  });

  it('refuses a general poll', () => {
    const general = [created(generalPoll, citizen), scheduled(citizen), opened, closed, published];
    spec.given(general).when(post(citizen)).thenThrows(ReflectionNotAllowed);
  });

  it('refuses before the result is published', () => {
    spec.given(policyClosed).when(post(official)).thenThrows(IllegalPollTransition);
  });

  it('refuses while open', () => {
    spec.given([...policyScheduled, opened]).when(post(official)).thenThrows(IllegalPollTransition);
  });

  it('refuses posting twice; updating is the way', () => {
    spec.given([...policyPublished, reflected]).when(post(official)).thenThrows(IllegalPollTransition);
  });

  it('refuses updating before posting', () => {
    spec.given(policyPublished).when(update(official)).thenThrows(IllegalPollTransition);
  });

  it('refuses an official of another organisation', () => {
    spec.given(policyPublished).when(post(outsider)).thenThrows(NotPollOwner);
  });

  it.each([
    ['text', { ...reflection, text: '' }],
    ['links', { ...reflection, links: ['javascript:alert(1)'] }],
    ['reflectedPercent', { ...reflection, reflectedPercent: 101 }],
    ['status', { ...reflection, status: ' ' }],
  ])('refuses an invalid %s', (field, r) => {
    spec.given(policyPublished).when(post(official, r)).thenThrows(InvalidReflection, (e) => expect(e.problems.map((p) => p.field)).toEqual([field]));
  });
});

describe('AddVoterRollChunk', () => {
  const add = (entries: string[], now = DRAFTED, by: Actor = official) =>
    ({ type: 'AddVoterRollChunk', data: { pollId: 'p1', entries, by, now } }) as const;
  const chunk0: PollEvent = { type: 'VoterRollChunkAdded', data: { pollId: 'p1', chunkIndex: 0, entries: ['h1', 'h2'], addedAt: DRAFTED } };

  it('adds numbered chunks to a draft', () => {
    spec.given([created(policyPoll, official), chunk0]).when(add(['h3'])).then([
      { type: 'VoterRollChunkAdded', data: { pollId: 'p1', chunkIndex: 1, entries: ['h3'], addedAt: DRAFTED } },
    ]);
  });

  it('adds to a scheduled poll before it opens', () => {
    spec.given(policyScheduled).when(add(['h1'], BEFORE_OPEN)).then([
      { type: 'VoterRollChunkAdded', data: { pollId: 'p1', chunkIndex: 0, entries: ['h1'], addedAt: BEFORE_OPEN } },
    ]);
  });

  it('refuses once the open time has passed, even without a PollOpened event', () => {
    spec.given(policyScheduled).when(add(['h1'], DURING)).thenThrows(IllegalPollTransition);
  });

  it('accepts 10,000 entries and refuses 10,001', () => {
    const entries = Array.from({ length: 10_000 }, (_, i) => `h${i}`);
    expect(pollDecider.decide(add(entries), fold(pollDecider, [created(policyPoll, official)]))).toHaveLength(1);
    spec.given([created(policyPoll, official)]).when(add([...entries, 'one-more'])).thenThrows(InvalidVoterRollChunk);
  });

  it('refuses an empty chunk and empty entries', () => {
    spec.given([created(policyPoll, official)]).when(add([])).thenThrows(InvalidVoterRollChunk);
    spec.given([created(policyPoll, official)]).when(add([''])).thenThrows(InvalidVoterRollChunk);
  });

  it('refuses a non-owner', () => {
    spec.given([created(policyPoll, official)]).when(add(['h1'], DRAFTED, outsider)).thenThrows(NotPollOwner);
  });
});

describe('SetOnSitePlace', () => {
  const cityHall = { latitude: 37.5663, longitude: 126.9779, radiusMeters: 200, label: 'City Hall' };
  const set = (place: typeof cityHall | null, now = DRAFTED) =>
    ({ type: 'SetOnSitePlace', data: { pollId: 'p1', place, by: official, now } }) as const;

  it('sets the place of a draft and the state carries it', () => {
    spec.given([created(policyPoll, official)]).when(set(cityHall)).then([
      { type: 'OnSitePlaceSet', data: { pollId: 'p1', place: cityHall, setAt: DRAFTED } },
    ]);
    const state = fold(pollDecider, [created(policyPoll, official), { type: 'OnSitePlaceSet', data: { pollId: 'p1', place: cityHall, setAt: DRAFTED } }]);
    expect(state.status === 'Draft' && state.definition.settings.onSite).toEqual(cityHall);
  });

  it('clears the place with null', () => {
    const withPlace = [created(policyPoll, official), { type: 'OnSitePlaceSet', data: { pollId: 'p1', place: cityHall, setAt: DRAFTED } } as PollEvent];
    const state = fold(pollDecider, [...withPlace, { type: 'OnSitePlaceSet', data: { pollId: 'p1', place: null, setAt: DRAFTED } }]);
    expect(state.status === 'Draft' && 'onSite' in state.definition.settings).toBe(false);
  });

  it('refuses an invalid place', () => {
    spec.given([created(policyPoll, official)]).when(set({ ...cityHall, latitude: 91 })).thenThrows(InvalidOnSitePlace);
    spec.given([created(policyPoll, official)]).when(set({ ...cityHall, radiusMeters: -1 })).thenThrows(InvalidOnSitePlace);
  });

  it('refuses once open', () => {
    spec.given([...policyScheduled, opened]).when(set(cityHall, DURING)).thenThrows(IllegalPollTransition);
  });
});

describe('pollStatusAt', () => {
  const at = (events: PollEvent[], now: string) => pollStatusAt(fold(pollDecider, events), now);

  it('follows the clock for scheduled and open polls', () => {
    expect(at(citizenScheduled, BEFORE_OPEN)).toBe('Scheduled');
    expect(at(citizenScheduled, OPENS_AT)).toBe('Open');
    expect(at(citizenScheduled, CLOSES_AT)).toBe('Closed');
    expect(at(citizenOpen, DURING)).toBe('Open');
    expect(at(citizenOpen, CLOSES_AT)).toBe('Closed');
  });

  it('never opens a draft by the clock and keeps later statuses', () => {
    expect(at(citizenDraft, DURING)).toBe('Draft');
    expect(at([], DURING)).toBe('Initial');
    expect(at(policyPublished, DURING)).toBe('ResultPublished');
    expect(at([...policyPublished, reflected], DURING)).toBe('Reflected');
  });
});

describe('evolve', () => {
  it('ignores events that do not fit the state instead of throwing', () => {
    expect(fold(pollDecider, [opened, closed])).toEqual({ status: 'Initial' });
    expect(fold(pollDecider, [...citizenDraft, published]).status).toBe('Draft');
  });

  it('folds a full lifecycle', () => {
    const state = fold(pollDecider, [...policyPublished, reflected]);
    expect(state).toMatchObject({ status: 'Reflected', closedAt: CLOSES_AT, result, reflection });
  });
});
