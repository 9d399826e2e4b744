import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SealedPollNotOpened } from '../../src/domain/errors.ts';
import type { RunningApp } from '../../src/infra/compositionRoot.ts';
import { getVerification } from '../../src/infra/readModels/pollVerification.ts';
import { publishWhenOpened } from '../load/scenarioDriver.ts';
import { openGeneralPoll, official, openPoll } from '../support/pollFixtures.ts';
import { startTestApp } from '../support/testApp.ts';
import { waitFor } from './support.ts';

/** Every text a table of the app's database holds, joined: what an operator or an intruder could read. */
async function everyRowText(app: RunningApp): Promise<string> {
  const { rows: tables } = await sql<{ name: string }>`
    SELECT quote_ident(table_name) AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`.execute(app.db.kysely);
  let all = '';
  for (const { name } of tables) {
    const { rows } = await sql<{ t: string }>`SELECT t::text AS t FROM ${sql.raw(name)} t`.execute(app.db.kysely);
    all += rows.map((r) => r.t).join('\n');
  }
  return all;
}

describe('a sealed poll on the app with its four ledger nodes', () => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => app?.stop());

  // A marker no other field could hold: found anywhere, it is a sealed ballot's plaintext.
  const MARKER = 'sealed-remark-7f3a';
  const by = official('sealer');

  it('keeps every choice unreadable in the database, the logs of events and the nodes until the opening, then publishes a verified tally', async () => {
    const definition = openGeneralPoll({ kind: 'survey', questions: [{ ...openGeneralPoll().questions[0]!, allowFreeText: true }] }, { resultsVisibility: 'sealed', allowRevote: true });
    const pollId = await openPoll(app, definition, by);
    const choices = ['a', 'b', 'a', 'c', 'a'];
    const cast = [];
    for (const [i, option] of choices.entries()) {
      cast.push(await app.polls.cast({ pollId, citizenId: `sealed-voter-${i}`, selections: { selections: { q1: [option] }, freeText: { q1: `${MARKER}-${i}` } } }));
    }
    // A re-vote: voter 0 moves from a to b.
    cast.push(await app.polls.cast({ pollId, citizenId: 'sealed-voter-0', selections: { selections: { q1: ['b'] }, freeText: { q1: `${MARKER}-0b` } } }));
    for (const c of cast) {
      expect(c).not.toHaveProperty('selections');
      expect(c.sealed).toMatchObject({ keyId: expect.stringMatching(/^[0-9a-f]{32}$/) });
      expect(c.tracker).toMatch(/^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/);
    }
    await app.projections.settled();
    await app.ledger!.anchoring.settled(60_000);

    // The probe of the issue: no running tally from our own database...
    const before = await everyRowText(app);
    expect(before).not.toContain(MARKER);
    expect(before).not.toMatch(/"selections"\s*:/);
    const { rows: counts } = await sql<{ n: string }>`SELECT count(*)::text AS n FROM poll_option_counts WHERE poll_id = ${pollId}`.execute(app.db.kysely);
    expect(counts[0]!.n).toBe('0');
    expect(await (await fetch(`${app.url}/api/polls/${pollId}/results`)).json()).toMatchObject({ visible: false });
    // ...nor from any node.
    for (const url of app.ledger!.urls) {
      const served = await (await fetch(`${url}/v1/polls/${pollId}/entries`)).text();
      // Entry texts come JSON-encoded inside the answer.
      expect(served).toContain('\\"sealed\\"');
      expect(served).not.toContain(MARKER);
      expect(served).not.toContain('selections');
    }
    // Before the close no publication, and the nodes give no decryption shares.
    await expect(app.polls.commands.publishResult(pollId, by)).rejects.toThrow();

    await app.polls.commands.close(pollId, by);
    await expect(app.polls.commands.publishResult(pollId, by)).rejects.toBeInstanceOf(SealedPollNotOpened);
    await publishWhenOpened(app, pollId, by, 120_000);
    expect(app.ledger!.openingStatus()[pollId]).toBe('opened');
    const poll = await waitFor('result in the read model', async () => (await app.polls.get(pollId))?.result ?? null);
    expect(poll.ballots).toBe(5);
    expect(poll.questions[0]!.options.map((o) => o.count)).toEqual([2, 2, 1]);
    expect(poll.questions[0]!.freeTextAnswers).toBe(5);

    const v = await waitFor('verified by the nodes', async () => {
      const got = await getVerification(app.db.kysely, pollId);
      return got.status !== 'pending' ? got : null;
    }, 120_000);
    expect(v).toMatchObject({ status: 'completed' });
  }, 300_000);
});
