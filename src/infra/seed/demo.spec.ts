import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningApp } from '../compositionRoot.ts';
import { startTestApp } from '../../../test/support/testApp.ts';
import { eventStoreIsEmpty, seedDemoData } from './demo.ts';

describe('demo data', () => {
  let app: RunningApp;
  let seedMs = 0;
  beforeAll(async () => {
    const started = performance.now();
    // The real start path: startApp seeds because the fresh store is empty.
    app = await startTestApp({ SEED_DEMO_DATA: 'true', LEDGER_NODES: 'none' });
    seedMs = performance.now() - started;
    await app.projections.settled();
  });
  afterAll(async () => app?.stop());

  it('adds polls of every kind through the real commands and casting path', async () => {
    console.info(`app start with demo data: ${Math.round(seedMs)} ms`);
    const { polls } = await app.polls.list({ limit: 50 });
    const kinds = new Set(polls.map((p) => p.kind));
    expect([...kinds].sort()).toEqual(['budget', 'general', 'policy', 'survey', 'vs']);
    const vs = polls.find((p) => p.kind === 'vs');
    expect(vs?.title).toBe('짜장면 vs 짬뽕');
    expect(vs?.ballots).toBe(48);
    const budget = polls.find((p) => p.kind === 'budget')!;
    expect(budget.status).toBe('Open');
    expect(budget.ballots).toBe(300);
    expect(budget.definition.questions[0]!.options).toHaveLength(25);
    const modes = polls.filter((p) => p.kind === 'policy').map((p) => p.definition.policy?.mode).sort();
    expect(modes).toEqual(['decision', 'decision', 'reference']);
  });

  it('has one closed policy poll with a published result and a reflection', async () => {
    const reflected = await app.polls.queries.listReflections(app.db.kysely);
    expect(reflected).toHaveLength(1);
    expect(reflected[0]).toMatchObject({ status: 'Reflected', kind: 'policy', ballots: 40 });
    expect(reflected[0]!.result?.ballots).toBe(40);
    expect(reflected[0]!.reflection?.reflectedPercent).toBe(100);
  });

  it('makes "hot" and "recommended" meaningful', async () => {
    const now = new Date().toISOString();
    const hot = await app.polls.queries.hotPollIds(app.db.kysely, now, 3);
    const { polls } = await app.polls.list({ limit: 50 });
    const byBallots = polls.filter((p) => p.ballots > 0).sort((a, b) => b.ballots - a.ballots).slice(0, 3).map((p) => p.pollId);
    expect(hot).toEqual(new Set(byBallots));

    // A citizen who votes on the night-bus poll (tags 교통, 야간) is offered the open bike-fare poll (교통).
    const nightBus = polls.find((p) => p.title.startsWith('심야버스'))!;
    await app.polls.cast({ pollId: nightBus.pollId, citizenId: 'new-citizen', selections: { selections: { q1: ['o1'] } } });
    await app.projections.settled();
    const recommended = await app.polls.queries.recommendedPolls(app.db.kysely, 'new-citizen', new Date().toISOString());
    expect(recommended.map((p) => p.title)).toContain('따릉이 요금 조정 (Public bike fares)');
    expect(recommended.every((p) => p.status === 'Open' && p.tags.includes('교통'))).toBe(true);
  });

  it('is added only to an empty store', async () => {
    expect(await eventStoreIsEmpty(app.eventStore)).toBe(false);
    // Seeding twice would fail on the organisations that already exist, before any poll is written.
    await expect(seedDemoData({ polls: app.polls, eventStore: app.eventStore, now: () => new Date().toISOString(), logger: app.logger })).rejects.toThrow(/already exists/);
  });
});
