import { describe, expect, it } from 'vitest';
import { question } from './fixtures.ts';
import type { PollDefinition } from './pollDefinition.ts';
import { TallyError, tallyPoll, type TallyBallot } from './tally.ts';

const settings = { opensAt: '2025-01-01T00:00:00Z', closesAt: '2025-01-31T00:00:00Z', resultsVisibility: 'live' as const, allowRevote: true };

const general: PollDefinition = {
  pollId: 'p1',
  kind: 'general',
  title: 'Bus lane?',
  tags: [],
  questions: [question('q', ['yes', 'no'])],
  settings,
};

const ballot = (voterTag: string, option: string, castAt: string): TallyBallot => ({ voterTag, castAt, selections: { selections: { q: [option] } } });

describe('tallyPoll', () => {
  it('counts the last ballot of each voter by castAt, then by input order, when re-voting is on', () => {
    const t = tallyPoll(general, [
      ballot('a', 'yes', '2025-01-02T10:00:00Z'),
      ballot('b', 'yes', '2025-01-02T10:00:00Z'),
      ballot('a', 'no', '2025-01-03T10:00:00Z'),
      ballot('a', 'yes', '2025-01-02T12:00:00Z'), // earlier than a's "no": does not count
      ballot('b', 'no', '2025-01-02T10:00:00Z'), // same instant: the later input wins
    ]);
    expect(t).toEqual({ pollId: 'p1', ballots: 2, questions: [{ questionId: 'q', options: [{ optionId: 'yes', count: 0 }, { optionId: 'no', count: 2 }], freeTextAnswers: 0 }] });
  });

  it('counts the first ballot of a voter when re-voting is off', () => {
    const def = { ...general, settings: { ...settings, allowRevote: false } };
    const t = tallyPoll(def, [ballot('a', 'yes', '2025-01-02T10:00:00Z'), ballot('a', 'no', '2025-01-03T10:00:00Z')]);
    expect(t.questions[0]!.options).toEqual([{ optionId: 'yes', count: 1 }, { optionId: 'no', count: 0 }]);
  });

  it('gives the same JSON whatever the order of distinct voters, with a fixed key order', () => {
    const ballots = [ballot('a', 'yes', '2025-01-02T10:00:00Z'), ballot('b', 'no', '2025-01-02T11:00:00Z'), ballot('c', 'yes', '2025-01-02T09:00:00Z')];
    const one = JSON.stringify(tallyPoll(general, ballots));
    expect(JSON.stringify(tallyPoll(general, [...ballots].reverse()))).toBe(one);
    expect(one).toBe(
      '{"pollId":"p1","ballots":3,"questions":[{"questionId":"q","options":[{"optionId":"yes","count":2},{"optionId":"no","count":1}],"freeTextAnswers":0}]}',
    );
  });

  it('tallies a survey with several questions and free text', () => {
    const survey: PollDefinition = {
      ...general,
      pollId: 's1',
      kind: 'survey',
      questions: [
        question('parks', ['n', 's'], { minChoices: 0, maxChoices: 2, allowFreeText: true }),
        question('often', ['daily', 'weekly']),
      ],
    };
    const t = tallyPoll(survey, [
      { voterTag: 'a', castAt: '2025-01-02T10:00:00Z', selections: { selections: { parks: ['n', 's'], often: ['daily'] }, freeText: { parks: 'More benches' } } },
      { voterTag: 'b', castAt: '2025-01-02T10:00:00Z', selections: { selections: { parks: [], often: ['weekly'] }, freeText: { parks: '   ' } } },
      { voterTag: 'c', castAt: '2025-01-02T10:00:00Z', selections: { selections: { parks: ['s'], often: ['daily'] }, freeText: { parks: 'Dogs' } } },
    ]);
    expect(t.ballots).toBe(3);
    expect(t.questions).toEqual([
      { questionId: 'parks', options: [{ optionId: 'n', count: 1 }, { optionId: 's', count: 2 }], freeTextAnswers: 2 },
      { questionId: 'often', options: [{ optionId: 'daily', count: 2 }, { optionId: 'weekly', count: 1 }], freeTextAnswers: 0 },
    ]);
    expect(() =>
      tallyPoll(survey, [{ voterTag: 'd', castAt: '2025-01-02T10:00:00Z', selections: { selections: { often: ['daily'] }, freeText: { often: 'x' } } }]),
    ).toThrow(/takes no free text/);
  });

  it('refuses ballots that do not fit the poll', () => {
    expect(() => tallyPoll(general, [ballot('a', 'maybe', '2025-01-02T10:00:00Z')])).toThrow(TallyError);
    expect(() => tallyPoll(general, [ballot('a', 'yes', 'yesterday')])).toThrow(/castAt/);
  });

  it('funds budget projects with the poll rule, listing them in definition order', () => {
    const budget: PollDefinition = {
      ...general,
      pollId: 'b1',
      kind: 'budget',
      questions: [question('projects', [], { options: ['A', 'B', 'C'].map((id) => ({ id, label: id, cost: 4 })), maxChoices: 3 })],
      budget: { total: 10, currency: 'KRW', rule: 'equal-shares' },
    };
    const ballots: TallyBallot[] = [];
    for (let i = 0; i < 6; i++) ballots.push({ voterTag: `x${i}`, castAt: '2025-01-02T10:00:00Z', selections: { selections: { projects: ['A', 'B'] } } });
    for (let i = 0; i < 4; i++) ballots.push({ voterTag: `y${i}`, castAt: '2025-01-02T10:00:00Z', selections: { selections: { projects: ['C'] } } });
    // A re-vote moves x0 away from A and B to C: only the last ballot counts.
    ballots.push({ voterTag: 'x0', castAt: '2025-01-05T10:00:00Z', selections: { selections: { projects: ['C'] } } });
    const t = tallyPoll(budget, ballots);
    expect(t.ballots).toBe(10);
    expect(t.questions[0]!.options.map((o) => o.count)).toEqual([5, 5, 5]);
    expect(t.budget).toEqual({ rule: 'equal-shares', total: 10, funded: ['A', 'C'], totalCost: 8 });
    expect(tallyPoll({ ...budget, budget: { ...budget.budget!, rule: 'greedy' } }, ballots).budget?.funded).toEqual(['A', 'B']);
  });
});
