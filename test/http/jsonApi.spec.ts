import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningApp } from '../../src/infra/compositionRoot.ts';
import { startTestApp } from '../support/testApp.ts';
import { anonymousClient, signedInClient } from '../support/session.ts';
import { openGeneralPoll } from '../support/pollFixtures.ts';

/** The JSON API as the README documents it: sign in, create and open a poll, cast, read results. */
describe('the JSON API', () => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await startTestApp({ LEDGER_NODES: 'none' });
  });
  afterAll(async () => app?.stop());

  const json = (body: unknown) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

  it('runs a citizen poll from creation to results, with clear JSON errors', async () => {
    const author = await signedInClient(app, '010-3000-0001', '+821030000001');
    const created = await author.fetch('/api/polls', json(openGeneralPoll()));
    expect(created.status).toBe(201);
    const { pollId } = (await created.json()) as { pollId: string };
    expect((await author.fetch(`/api/polls/${pollId}/schedule`, { method: 'POST' })).status).toBe(200);
    expect((await author.fetch(`/api/polls/${pollId}/open`, { method: 'POST' })).status).toBe(200);

    const voter = await signedInClient(app, '010-3000-0002', '+821030000002');
    const cast = await voter.fetch(`/api/polls/${pollId}/ballots`, json({ selections: { q1: ['b'] } }));
    expect(cast.status).toBe(201);
    expect(await cast.json()).toMatchObject({ tracker: expect.stringMatching(/^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/), replaces: null });

    const again = await voter.fetch(`/api/polls/${pollId}/ballots`, json({ selections: { q1: ['a'] } }));
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ error: { code: 'ballot.already-voted' } });

    const unknown = await voter.fetch(`/api/polls/${pollId}/ballots`, json({ selections: { q1: ['zzz'] } }));
    expect(unknown.status).toBe(422);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('ballot.unknown-option');

    const malformed = await voter.fetch(`/api/polls/${pollId}/ballots`, json({ selections: 'b' }));
    expect(malformed.status).toBe(422);
    expect(await malformed.json()).toMatchObject({ error: { code: 'invalid-input', details: [{ field: 'selections' }] } });

    await app.projections.settled();
    const results = await (await fetch(`${app.url}/api/polls/${pollId}/results`)).json();
    expect(results).toMatchObject({ visible: true, ballots: 1, counts: { q1: { b: 1 } }, final: false });
    const list = (await (await fetch(`${app.url}/api/polls?state=open&scope=general`)).json()) as { polls: Array<{ pollId: string }> };
    expect(list.polls.map((p) => p.pollId)).toContain(pollId);
  });

  it('refuses anonymous casting with 401 and a missing CSRF header with 403', async () => {
    const anonymous = await anonymousClient(app);
    const refused = await anonymous.fetch('/api/polls/x/ballots', json({ selections: {} }));
    expect(refused.status).toBe(401);
    const voter = await signedInClient(app, '010-3000-0003', '+821030000003');
    const noToken = await fetch(`${app.url}/api/polls/x/ballots`, { ...json({ selections: {} }), headers: { 'content-type': 'application/json', cookie: voter.cookie } });
    expect(noToken.status).toBe(403);
  });
});
