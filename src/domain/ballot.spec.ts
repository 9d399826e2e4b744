import { describe, expect, it } from 'vitest';
import { ballotDecider, ballotStreamId, type BallotCommand, type BallotEvent, type Eligibility, type PollSnapshot } from './ballot.ts';
import { fold } from './decider.ts';
import {
  AlreadyVoted,
  DuplicateChoice,
  FirstComeCapReached,
  FreeTextNotAllowed,
  FreeTextTooLong,
  InvalidBallot,
  LocationRequired,
  NotOnVoterRoll,
  OutsideOnSiteArea,
  PollClosed,
  PollMismatch,
  PollNotOpen,
  TooFewChoices,
  TooManyChoices,
  UnknownOption,
  UnknownQuestion,
} from './errors.ts';
import { CLOSES_AT, DURING, generalPoll, surveyPoll } from './fixtures.ts';
import type { BallotSelections, PollDefinition } from './pollDefinition.ts';
import { specFor } from './testing.ts';

const spec = specFor(ballotDecider);
const SALT = 'ab'.repeat(32);
const TAG = 'tag-7f3a';
const cityHall = { latitude: 37.5663, longitude: 126.9779, radiusMeters: 200 };

const cast = (
  selections: BallotSelections,
  {
    definition = generalPoll,
    status = 'Open',
    eligibility = {},
    ballotId = 'b1',
    now = DURING,
    salt = SALT,
    tracker = 'K7Q-2MX',
  }: Partial<PollSnapshot & { eligibility: Eligibility; ballotId: string; now: string; salt: string; tracker: string }> = {},
): BallotCommand => ({
  type: 'CastBallot',
  data: { pollId: 'p1', voterTag: TAG, ballotId, selections, salt, tracker, now, poll: { definition, status }, eligibility },
});

const castEvent = (selections: BallotSelections, ballotId = 'b1', replaces: string | null = null): BallotEvent => ({
  type: 'BallotCast',
  data: { pollId: 'p1', voterTag: TAG, ballotId, selections, salt: SALT, tracker: 'K7Q-2MX', castAt: DURING, replaces },
});

const pickA = { selections: { q1: ['a'] } };
const pickB = { selections: { q1: ['b'] } };
const withSettings = (definition: PollDefinition, settings: Partial<PollDefinition['settings']>): PollDefinition => ({
  ...definition,
  settings: { ...definition.settings, ...settings },
});
const revotable = withSettings(generalPoll, { allowRevote: true });

describe('CastBallot: the poll must be open', () => {
  it('casts a first ballot', () => {
    spec.given([]).when(cast(pickA)).then([castEvent(pickA)]);
  });

  it.each(['Draft', 'Scheduled', 'Initial'] as const)('refuses a %s poll as not open', (status) => {
    spec.given([]).when(cast(pickA, { status })).thenThrows(PollNotOpen);
  });

  it.each(['Closed', 'ResultPublished', 'Reflected'] as const)('refuses a %s poll as closed', (status) => {
    spec.given([]).when(cast(pickA, { status })).thenThrows(PollClosed);
  });

  it('refuses at the close time even when the snapshot still says open', () => {
    spec.given([]).when(cast(pickA, { now: CLOSES_AT })).thenThrows(PollClosed);
  });

  it('refuses a snapshot of another poll', () => {
    spec.given([]).when(cast(pickA, { definition: { ...generalPoll, pollId: 'p2' } })).thenThrows(PollMismatch);
  });
});

describe('CastBallot: one ballot per voter', () => {
  it('refuses a second ballot when re-voting is off', () => {
    spec.given([castEvent(pickA)]).when(cast(pickB, { ballotId: 'b2' })).thenThrows(AlreadyVoted);
  });

  it('replaces the previous ballot when re-voting is on', () => {
    spec.given([castEvent(pickA)]).when(cast(pickB, { definition: revotable, ballotId: 'b2' })).then([castEvent(pickB, 'b2', 'b1')]);
  });

  it('chains replacements', () => {
    spec
      .given([castEvent(pickA), castEvent(pickB, 'b2', 'b1')])
      .when(cast(pickA, { definition: revotable, ballotId: 'b3' }))
      .then([castEvent(pickA, 'b3', 'b2')]);
    expect(fold(ballotDecider, [castEvent(pickA), castEvent(pickB, 'b2', 'b1')])).toMatchObject({ status: 'Cast', ballotId: 'b2', casts: 2 });
  });

  it('refuses a replacement that reuses the ballot id', () => {
    spec.given([castEvent(pickA)]).when(cast(pickB, { definition: revotable, ballotId: 'b1' })).thenThrows(InvalidBallot);
  });
});

describe('CastBallot: eligibility', () => {
  const rollOnly = withSettings(generalPoll, { voterRollRequired: true });
  const onSite = withSettings(generalPoll, { onSite: cityHall });
  const capped = withSettings(generalPoll, { firstComeCap: 100, allowRevote: true });

  it('accepts a voter on the roll', () => {
    spec.given([]).when(cast(pickA, { definition: rollOnly, eligibility: { onRoll: true } })).then([castEvent(pickA)]);
  });

  it('refuses a voter not on the roll, or of unknown standing', () => {
    spec.given([]).when(cast(pickA, { definition: rollOnly, eligibility: { onRoll: false } })).thenThrows(NotOnVoterRoll);
    spec.given([]).when(cast(pickA, { definition: rollOnly })).thenThrows(NotOnVoterRoll);
  });

  it('accepts a voter about 100 m from the place', () => {
    const nearby = { latitude: 37.5672, longitude: 126.9779 };
    spec.given([]).when(cast(pickA, { definition: onSite, eligibility: { location: nearby } })).then([castEvent(pickA)]);
  });

  it('refuses a voter about 1 km away', () => {
    const away = { latitude: 37.5753, longitude: 126.9779 };
    spec.given([]).when(cast(pickA, { definition: onSite, eligibility: { location: away } })).thenThrows(OutsideOnSiteArea, (e) => {
      expect(Math.round(e.distanceMeters / 100)).toBe(10);
    });
  });

  it('refuses an on-site ballot without a location or with an impossible one', () => {
    spec.given([]).when(cast(pickA, { definition: onSite })).thenThrows(LocationRequired);
    spec.given([]).when(cast(pickA, { definition: onSite, eligibility: { location: { latitude: 95, longitude: 0 } } })).thenThrows(LocationRequired);
  });

  it('refuses a first ballot once the first-come cap is reached', () => {
    spec.given([]).when(cast(pickA, { definition: capped, eligibility: { capReached: true } })).thenThrows(FirstComeCapReached);
  });

  it('accepts a first ballot below the cap', () => {
    spec.given([]).when(cast(pickA, { definition: capped, eligibility: { capReached: false } })).then([castEvent(pickA)]);
  });

  it('lets a counted voter re-vote after the cap is reached', () => {
    spec
      .given([castEvent(pickA)])
      .when(cast(pickB, { definition: capped, ballotId: 'b2', eligibility: { capReached: true } }))
      .then([castEvent(pickB, 'b2', 'b1')]);
  });
});

describe('CastBallot: selections', () => {
  const multi = { ...generalPoll, questions: [{ ...generalPoll.questions[0]!, minChoices: 2, maxChoices: 2 }] };

  it('refuses too few and too many choices', () => {
    spec.given([]).when(cast({ selections: { q1: [] } })).thenThrows(TooFewChoices);
    spec.given([]).when(cast({ selections: {} })).thenThrows(TooFewChoices);
    spec.given([]).when(cast({ selections: { q1: ['a'] } }, { definition: multi })).thenThrows(TooFewChoices);
    spec.given([]).when(cast({ selections: { q1: ['a', 'b', 'c'] } }, { definition: multi })).thenThrows(TooManyChoices, (e) => {
      expect([e.max, e.actual]).toEqual([2, 3]);
    });
  });

  it('accepts exactly the allowed number of choices', () => {
    const two = { selections: { q1: ['a', 'c'] } };
    spec.given([]).when(cast(two, { definition: multi })).then([castEvent(two)]);
  });

  it('refuses an unknown option, a duplicate and an unknown question', () => {
    spec.given([]).when(cast({ selections: { q1: ['zzz'] } })).thenThrows(UnknownOption);
    spec.given([]).when(cast({ selections: { q1: ['a', 'a'] } }, { definition: multi })).thenThrows(DuplicateChoice);
    spec.given([]).when(cast({ selections: { q1: ['a'], q9: ['a'] } })).thenThrows(UnknownQuestion);
  });

  describe('free text (survey)', () => {
    const survey = { ...surveyPoll, pollId: 'p1' };
    const answer = (text: string): BallotSelections => ({ selections: { s1: ['a'], s2: [] }, freeText: { s2: text } });

    it('accepts free text where allowed, up to 1000 characters', () => {
      spec.given([]).when(cast(answer('가'.repeat(1000)), { definition: survey })).then([castEvent(answer('가'.repeat(1000)))]);
      spec.given([]).when(cast(answer('🌳'.repeat(1000)), { definition: survey })).then([castEvent(answer('🌳'.repeat(1000)))]);
    });

    it('refuses free text over 1000 characters', () => {
      spec.given([]).when(cast(answer('a'.repeat(1001)), { definition: survey })).thenThrows(FreeTextTooLong);
    });

    it('refuses free text where not allowed, or for an unknown question', () => {
      const onS1 = { selections: { s1: ['a'] }, freeText: { s1: 'more trees' } };
      spec.given([]).when(cast(onS1, { definition: survey })).thenThrows(FreeTextNotAllowed);
      spec.given([]).when(cast({ selections: { s1: ['a'] }, freeText: { s9: 'x' } }, { definition: survey })).thenThrows(UnknownQuestion);
    });
  });
});

describe('CastBallot: receipts data', () => {
  it.each([
    ['a short salt', { salt: 'ab'.repeat(16) }],
    ['an uppercase salt', { salt: 'AB'.repeat(32) }],
    ['an empty tracker', { tracker: '' }],
    ['an empty ballot id', { ballotId: '' }],
  ])('refuses %s', (_name, overrides) => {
    spec.given([]).when(cast(pickA, overrides)).thenThrows(InvalidBallot);
  });
});

describe('ballotStreamId', () => {
  it('is one stream per voter per poll', () => {
    expect(ballotStreamId('p1', TAG)).toBe('ballot-p1_tag-7f3a');
  });
});
