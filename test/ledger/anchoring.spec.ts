import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningApp } from '../../src/infra/compositionRoot.ts';
import { getVerification } from '../../src/infra/readModels/pollVerification.ts';
import { loadEntries } from '../../src/infra/ledger/ledgerStore.ts';
import { nobleEd25519, nobleSha256 } from '../../src/ledger/hash.ts';
import { verifyReceipt } from '../../src/ledger/receipt.ts';
import { startTestApp } from '../support/testApp.ts';
import { citizen, openGeneralPoll } from '../support/pollFixtures.ts';
import { closeAndPublish, waitFor } from './support.ts';

describe('the ledger through the real app (four real node processes)', () => {
  let app: RunningApp;
  beforeAll(async () => {
    const started = Date.now();
    app = await startTestApp({ ANCHOR_INTERVAL_MS: '200' });
    console.log(`test app with 4 ledger nodes started in ${Date.now() - started} ms (ledger ${app.ledger?.startupMs} ms)`);
  });
  afterAll(async () => app?.stop());

  it('anchors every ballot and gives a receipt that verifies with the nodes\' keys; page and JSON', async () => {
    const author = citizen('author-1');
    const pollId = await app.polls.commands.create(openGeneralPoll(), author);
    await app.polls.commands.schedule(pollId, author);
    await app.polls.commands.open(pollId, author);
    const ballot = await app.polls.cast({ pollId, citizenId: 'voter-1', selections: { selections: { q1: ['a'] } } });

    const receipt = await waitFor('receipt', async () => {
      const res = await fetch(`${app.url}/api/receipts/${ballot.tracker}`);
      if (res.status === 202) expect(await res.json()).toEqual({ status: 'pending' });
      return res.status === 200 ? ((await res.json()) as unknown) : null;
    });
    const check = verifyReceipt(nobleSha256, nobleEd25519, receipt, { verifierKeys: app.ledger!.local!.verifierKeys, quorum: 3, origin: app.ledger!.origin });
    expect(check.checks.filter((c) => !c.ok)).toEqual([]);
    expect(JSON.stringify(receipt)).not.toContain('voter-1');
    expect(JSON.stringify(receipt)).not.toContain('author-1');

    const page = await fetch(`${app.url}/receipts/${ballot.tracker.toLowerCase()}?lang=en`);
    const html = await page.text();
    expect(page.status).toBe(200);
    expect(html).toContain(ballot.tracker);
    expect(html).toContain(`tracker=${ballot.tracker}`);
    expect(html).toContain('ledger-node-');
    expect((await fetch(`${app.url}/api/receipts/AAAA-AAAA-AAAA`)).status).toBe(404);
  });

  it('verifies a published poll with the nodes\' tallies: completed', async () => {
    const author = citizen('author-2');
    const pollId = await app.polls.commands.create(openGeneralPoll(), author);
    await app.polls.commands.schedule(pollId, author);
    await app.polls.commands.open(pollId, author);
    for (let i = 0; i < 5; i++) await app.polls.cast({ pollId, citizenId: `v2-${i}`, selections: { selections: { q1: [i % 2 ? 'a' : 'b'] } } });
    expect((await getVerification(app.db.kysely, pollId)).status).toBe('pending');
    await closeAndPublish(app, pollId, 5, author);
    const v = await waitFor('completed', async () => {
      const got = await getVerification(app.db.kysely, pollId);
      return got.status !== 'pending' ? got : null;
    });
    expect(v).toMatchObject({ status: 'completed' });
    const entries = (await loadEntries(app.db.kysely)).filter((e) => e.pollId === pollId);
    expect(entries.map((e) => e.eventType)).toEqual(['PollCreated', 'PollScheduled', 'PollOpened', ...Array(5).fill('BallotCast'), 'PollClosed', 'PollResultPublished']);
    expect(entries.map((e) => e.leafIndex)).toEqual([...entries.keys()].map((k) => entries[0]!.leafIndex + k));
  });
});
