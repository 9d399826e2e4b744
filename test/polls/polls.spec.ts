import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningApp } from '../../src/infra/compositionRoot.ts';
import { AlreadyVoted, FirstComeCapReached, PollClosed } from '../../src/domain/errors.ts';
import { readModels } from '../../src/infra/compositionRoot.ts';
import { rebuildReadModels } from '../../src/infra/projections/runner.ts';
import { startTestApp } from '../support/testApp.ts';
import { official, openGeneralPoll, openPoll } from '../support/pollFixtures.ts';

describe('polls and ballots through the real app', () => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => app?.stop());

  it('casts a ballot, refuses a second one and projects the count', async () => {
    const pollId = await openPoll(app);
    const ballot = await app.polls.cast({ pollId, citizenId: 'c1', selections: { selections: { q1: ['a'] } } });
    expect(ballot.tracker).toMatch(/^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/);
    await expect(app.polls.cast({ pollId, citizenId: 'c1', selections: { selections: { q1: ['b'] } } })).rejects.toBeInstanceOf(AlreadyVoted);
    await app.projections.settled();
    const poll = await app.polls.get(pollId);
    expect(poll?.ballots).toBe(1);
    expect(await app.polls.results(poll!)).toMatchObject({ visible: true, ballots: 1, counts: { q1: { a: 1 } } });
  });

  it('keeps one ballot per citizen under many concurrent casts (the event store enforces it)', async () => {
    const pollId = await openPoll(app);
    const attempts = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) => app.polls.cast({ pollId, citizenId: `voter-${i % 8}`, selections: { selections: { q1: ['a'] } } })),
    );
    const accepted = attempts.filter((a) => a.status === 'fulfilled');
    const refused = attempts.filter((a) => a.status === 'rejected');
    expect(accepted).toHaveLength(8);
    expect(refused.every((r) => (r as PromiseRejectedResult).reason instanceof AlreadyVoted)).toBe(true);
    await app.projections.settled();
    expect((await app.polls.get(pollId))?.ballots).toBe(8);
  });

  it('never exceeds a first-come cap with many concurrent voters', async () => {
    const pollId = await openPoll(app, openGeneralPoll({ kind: 'policy', policy: { mode: 'decision', reflectionPercent: 100 } }, { firstComeCap: 10 }), official('o1'));
    const attempts = await Promise.allSettled(
      Array.from({ length: 60 }, (_, i) => app.polls.cast({ pollId, citizenId: `cap-voter-${i}`, selections: { selections: { q1: ['b'] } } })),
    );
    const accepted = attempts.filter((a) => a.status === 'fulfilled');
    expect(accepted).toHaveLength(10);
    expect(attempts.filter((a) => a.status === 'rejected').every((r) => (r as PromiseRejectedResult).reason instanceof FirstComeCapReached)).toBe(true);
    await app.projections.settled();
    expect((await app.polls.get(pollId))?.ballots).toBe(10);
  });

  it('replaces a ballot when re-voting is allowed, counting the last one', async () => {
    const pollId = await openPoll(app, openGeneralPoll({}, { allowRevote: true }));
    await app.polls.cast({ pollId, citizenId: 'r1', selections: { selections: { q1: ['a'] } } });
    const second = await app.polls.cast({ pollId, citizenId: 'r1', selections: { selections: { q1: ['c'] } } });
    expect(second.replaces).not.toBeNull();
    await app.projections.settled();
    const poll = await app.polls.get(pollId);
    expect(poll?.ballots).toBe(1);
    expect((await app.polls.results(poll!)).counts).toEqual({ q1: { c: 1 } });
  });

  it('keeps live option counts by increments that match the current ballots, across re-votes and a rebuild', async () => {
    const base = openGeneralPoll({}, { allowRevote: true });
    const pollId = await openPoll(app, { ...base, questions: [{ ...base.questions[0]!, maxChoices: 2 }] });
    const choices = [['a'], ['b'], ['a', 'c'], ['c'], ['b', 'c']];
    // Three rounds, each settled before the next, so re-votes replace ballots projected in earlier batches.
    for (let round = 0; round < 3; round++) {
      await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          app.polls.cast({ pollId, citizenId: `inc-${i}`, selections: { selections: { q1: choices[(i + round) % choices.length]! } } })),
      );
      await app.projections.settled();
    }
    const fromBallots = async () => {
      const counts: Record<string, number> = {};
      for (const b of await app.polls.queries.loadCurrentBallots(app.db.kysely, pollId)) for (const o of b.selections.selections.q1 ?? []) counts[o] = (counts[o] ?? 0) + 1;
      return { ballots: 12, counts: { q1: counts } };
    };
    const expected = await fromBallots();
    expect(expected.counts.q1).toEqual({ a: 5, b: 4, c: 8 });
    expect(await app.polls.queries.liveCounts(app.db.kysely, pollId)).toEqual(expected);
    await rebuildReadModels(app.db.kysely, app.eventStore, readModels);
    expect(await app.polls.queries.liveCounts(app.db.kysely, pollId)).toEqual(expected);
  });

  it('closes by the clock: the scheduler closes and publishes a citizen poll, and late ballots are refused', async () => {
    const definition = openGeneralPoll({}, { closesAt: new Date(Date.now() + 1500).toISOString() });
    const pollId = await openPoll(app, definition);
    await app.polls.cast({ pollId, citizenId: 'early', selections: { selections: { q1: ['b'] } } });
    await new Promise((r) => setTimeout(r, 1600));
    await expect(app.polls.cast({ pollId, citizenId: 'late', selections: { selections: { q1: ['b'] } } })).rejects.toBeInstanceOf(PollClosed);
    let poll = await app.polls.get(pollId);
    for (let i = 0; i < 100 && poll?.status !== 'ResultPublished'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      await app.projections.settled();
      poll = await app.polls.get(pollId);
    }
    expect(poll?.status).toBe('ResultPublished');
    expect(poll?.result?.ballots).toBe(1);
    expect(poll?.result?.questions[0]?.options.find((o) => o.optionId === 'b')?.count).toBe(1);
  });
});
