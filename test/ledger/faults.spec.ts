import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LedgerUnavailable } from '../../src/domain/errors.ts';
import type { RunningApp } from '../../src/infra/compositionRoot.ts';
import { listAlerts, loadEntries } from '../../src/infra/ledger/ledgerStore.ts';
import { ballotStreamId } from '../../src/domain/ballot.ts';
import { ballotTrackerCode } from '../../src/ledger/entry.ts';
import { getVerification } from '../../src/infra/readModels/pollVerification.ts';
import { citizen, official, openGeneralPoll } from '../support/pollFixtures.ts';
import { startTestApp } from '../support/testApp.ts';
import { closeAndPublish, openPoll, waitFor } from './support.ts';

/** Fault tests through the app with four real node processes: kill, restart, tamper. */
describe('ledger faults through the app', () => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await startTestApp({ ANCHOR_INTERVAL_MS: '200', POLICY_QUORUM_GRACE_MS: '1000' });
  });
  afterAll(async () => app?.stop());
  // A test that fails midway must not leave nodes down for the next one (one failure, not three).
  afterEach(async () => {
    for (const i of [0, 1, 2, 3]) if (app?.ledger?.local && app.ledger.local.pid(i) === undefined) await app.ledger.local.restart(i);
  });

  const ledger = () => app.ledger!;
  const cast = (pollId: string, citizenId: string, choice = 'a') => app.polls.cast({ pollId, citizenId, selections: { selections: { q1: [choice] } } });
  const receiptStatus = async (tracker: string) => (await fetch(`${app.url}/api/receipts/${tracker}`)).status;
  /**
   * Waits for a receipt. On a PostgreSQL server shared with other work, an event is invisible to
   * catch-up readers while any older transaction is open, so "settled" can come before a fresh ballot
   * is seen at all; its receipt then shows up a moment later.
   */
  const receiptOf = (tracker: string) => waitFor(`receipt ${tracker}`, async () => (await receiptStatus(tracker)) === 200);

  /** Every stored leaf is numbered 0..n-1 once, and all of them are final. */
  const expectNoGapAllFinal = async () => {
    await ledger().anchoring.settled(30_000);
    const leaves = await loadEntries(app.db.kysely);
    expect(leaves.map((l) => l.leafIndex)).toEqual(leaves.map((_, i) => i));
    expect(new Set(leaves.map((l) => l.eventId)).size).toBe(leaves.length);
    expect(ledger().anchoring.status()).toMatchObject({ size: leaves.length, finalSize: leaves.length, pendingEntries: 0 });
  };

  it('goes on when one node is killed mid-vote: every ballot gets its receipt', async () => {
    const pollId = await openPoll(app);
    const trackers: string[] = [];
    for (let i = 0; i < 5; i++) trackers.push((await cast(pollId, `one-${i}`)).tracker);
    await ledger().local!.kill(2);
    for (let i = 5; i < 10; i++) trackers.push((await cast(pollId, `one-${i}`)).tracker);
    await expectNoGapAllFinal();
    for (const t of trackers) await receiptOf(t);
    await ledger().local!.restart(2);
  });

  it('with two nodes down: anchoring pends, policy polls refuse after the grace, general polls vote; after restart everything is anchored with no gap', async () => {
    const general = await openPoll(app);
    const policy = await openPoll(app, openGeneralPoll({ kind: 'policy', policy: { mode: 'decision', reflectionPercent: 100 } }), official('official-1'));
    await cast(policy, 'two-before');
    await ledger().anchoring.settled();

    await ledger().local!.kill(0);
    await ledger().local!.kill(1);
    const during = await cast(general, 'two-0');
    // Quorum loss may be seen first by the idle probe, before the anchoring subscription has read the
    // ballot: wait for both (a CI run on a busy machine saw the first without the second).
    await waitFor('anchoring to report no quorum with the ballot pending', async () => {
      const status = ledger().anchoring.status();
      return status.quorumLostSince !== null && status.pendingEntries > 0;
    });
    await waitFor('a pending receipt', async () => (await receiptStatus(during.tracker)) === 202);
    const pendingPage = await (await fetch(`${app.url}/receipts/${during.tracker}`)).text();
    expect(pendingPage).toContain('블록체인 기록 대기 중');
    expect(pendingPage).toContain('hx-trigger="every 2s"');
    await waitFor('policy ballots refused after the grace', async () => !ledger().anchoring.acceptsPolicyBallots());
    await expect(cast(policy, 'two-policy')).rejects.toBeInstanceOf(LedgerUnavailable);
    const generalStillVotes = await cast(general, 'two-1');
    const refused = await fetch(`${app.url}/admin/ledger`, { redirect: 'manual' });
    expect(refused.status).toBe(303); // the status page itself is for officials (tamper.spec signs in)

    await ledger().local!.restart(0);
    await ledger().local!.restart(1);
    await expectNoGapAllFinal();
    for (const t of [during.tracker, generalStillVotes.tracker]) await receiptOf(t);
    expect(ledger().anchoring.acceptsPolicyBallots()).toBe(true);
    await cast(policy, 'two-policy');
    // The restarted nodes catch up from their peers to the final size.
    const final = ledger().anchoring.status().finalSize;
    await waitFor('every node at the final size', async () => {
      await ledger().anchoring.anchorNow();
      return (await ledger().anchoring.coordinator.nodeStatus()).every((n) => n.reachable && (n.size ?? 0) >= final);
    });
  });

  it('still verifies a poll with three nodes when the fourth has a tampered store and signs a different tally', async () => {
    const author = citizen('tamper-author');
    const pollId = await openPoll(app, undefined, author);
    for (const [i, choice] of ['a', 'a', 'b'].entries()) await cast(pollId, `tamper-${i}`, choice);
    await closeAndPublish(app, pollId, 3, author);
    await waitFor('completed with all four', async () => (await getVerification(app.db.kysely, pollId)).status === 'completed');
    await ledger().anchoring.settled();

    // Node 4's copy of this poll's ballots now says "b" everywhere; then the nodes are asked again.
    await ledger().local!.kill(3);
    const file = join(app.config.DATA_DIR, 'ledger-node-4', 'entries.log');
    const lines = readFileSync(file, 'utf8').split('\n');
    const edited = lines.map((l) => (l.includes(`"pollId":"${pollId}"`) && l.includes('"BallotCast"') ? l.replace('"q1":["a"]', '"q1":["b"]') : l));
    expect(edited).not.toEqual(lines);
    writeFileSync(file, edited.join('\n'));
    await ledger().local!.restart(3);
    // Asked again the way the verifier keeps a question open: a pending row (the tally look-up reads
    // pending polls and newly published results, not every poll ever published).
    await sql`UPDATE poll_verification SET status = 'pending', tally = NULL, tally_size = NULL WHERE poll_id = ${pollId}`.execute(app.db.kysely);

    const v = await waitFor('verification', async () => {
      const got = await getVerification(app.db.kysely, pollId);
      return got.status !== 'pending' ? got : null;
    });
    expect(v.status).toBe('completed');
    expect(v.detail).toContain('3 node(s) signed the published result');
    expect(v.detail).toContain('1 signed a different result (ledger-node-4)');
    // The tampered node refuses to sign from now on; the other three keep anchoring.
    await cast(await openPoll(app), 'after-tamper');
    await expectNoGapAllFinal();
    const nodes = await ledger().anchoring.coordinator.nodeStatus();
    expect(nodes[3]!.storeProblem).toBeTruthy();
  });

  it('takes out a ballot every node refuses (cast after the close behind the decider), alerts, fails its poll and keeps anchoring', async () => {
    const author = citizen('late-author');
    const pollId = await openPoll(app, undefined, author);
    await cast(pollId, 'late-0');
    await closeAndPublish(app, pollId, 1, author);
    await ledger().anchoring.settled();
    // What a race between a cached "open" poll and the close could store: a ballot dated after the close.
    const eventId = randomUUID();
    const salt = randomBytes(32).toString('hex');
    const late = { pollId, voterTag: 'late-tag', ballotId: randomUUID(), selections: { selections: { q1: ['b'] } }, salt, tracker: ballotTrackerCode(salt, eventId), castAt: new Date().toISOString(), replaces: null };
    await app.eventStore.append(ballotStreamId(pollId, 'late-tag'), [{ id: eventId, type: 'BallotCast', data: late }], 'no_stream');

    await waitFor('the refused leaf to be taken out', async () => (await listAlerts(app.db.kysely)).find((a) => a.eventId === eventId));
    expect((await getVerification(app.db.kysely, pollId)).status).toBe('failed');
    const after = await cast(await openPoll(app), 'after-refusal');
    await expectNoGapAllFinal();
    await receiptOf(after.tracker);
    expect((await loadEntries(app.db.kysely)).some((l) => l.eventId === eventId)).toBe(false);
  });
});
