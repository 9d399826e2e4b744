import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCoordinator, type Coordinator } from '../coordinator.ts';
import { nodeEd25519, nodeSha256 } from '../nodeCrypto.ts';
import { toBase64 } from '../bytes.ts';
import { checkpointHash } from '../checkpoint.ts';
import { verifyReceipt, type Receipt } from '../receipt.ts';
import { tallyVerdict } from '../tallyNote.ts';
import { tallyPoll } from '../../domain/tally.ts';
import { pollBallotsFromEntries } from './entryChecker.ts';
import type { LocalLedger } from './localCluster.ts';
import { ballotEntry, ballotText, closePollEntry, openPollEntries, ORIGIN, startTestLedger, TOKEN, feeder } from './testing.ts';

describe('four ledger node processes and the coordinator', () => {
  let ledger: LocalLedger;
  let coordinator: Coordinator;
  const { given, anchor } = feeder(() => coordinator);

  beforeAll(async () => {
    ledger = await startTestLedger();
    coordinator = createCoordinator({ nodes: ledger.urls, token: TOKEN, origin: ORIGIN, timeoutMs: 5000 });
  });

  afterAll(async () => {
    await ledger?.stop();
  });

  it('anchors a poll and its ballots into a final checkpoint whose receipts verify', async () => {
    const ballots = ['v1', 'v2', 'v3'].map((voter, k) => ballotText({ pollId: 'p1', voter, option: ['a', 'b', 'a'][k] }));
    const result = await anchor([...openPollEntries('p1'), ...ballots]);
    expect(result).toMatchObject({ status: 'final', size: 6 });
    await coordinator.settled();

    const tracker = (ballotEntry({ pollId: 'p1', voter: 'v2' }).data as { tracker: string }).tracker;
    const res = await fetch(`${ledger.urls[2]}/v1/tracker/${tracker.toLowerCase()}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    const receipt = (await res.json()) as Receipt;
    expect(receipt.leafIndex).toBe(4);
    const verdict = verifyReceipt(nodeSha256, nodeEd25519, receipt, { verifierKeys: ledger.verifierKeys, quorum: 3, origin: ORIGIN });
    expect(verdict.checks.filter((c) => !c.ok)).toEqual([]);
    expect(verdict.ok).toBe(true);
  });

  it('refuses coordinator calls without the token', async () => {
    const res = await fetch(`${ledger.urls[0]}/v1/propose`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(401);
  });

  it('serves entries, proofs and checkpoints by size', async () => {
    const entries = (await (await fetch(`${ledger.urls[1]}/v1/entries?start=0&end=100`)).json()) as { entries: { index: number; entry: string }[] };
    expect(entries.entries.map((e) => e.entry)).toEqual(given);
    expect((await fetch(`${ledger.urls[1]}/v1/checkpoint/6`)).status).toBe(200);
    expect((await fetch(`${ledger.urls[1]}/v1/checkpoint/5`)).status).toBe(404);
    const poll = (await (await fetch(`${ledger.urls[3]}/v1/polls/p1/entries`)).json()) as { entries: unknown[] };
    expect(poll.entries).toHaveLength(6);
  });

  it('tallies a closed poll on every node with signatures that complete the verdict', async () => {
    await anchor([closePollEntry('p1')]);
    const tallies = await coordinator.requestTallies('p1', coordinator.finalSize);
    expect(tallies.every((t) => t.ok)).toBe(true);
    const { definition, ballots } = pollBallotsFromEntries(given, 'p1');
    const published = tallyPoll(definition, ballots);
    expect(tallies[0]!.tally).toEqual(published);
    const verdict = tallyVerdict(nodeSha256, nodeEd25519, tallies.map((t) => t.note!), published, {
      verifierKeys: ledger.verifierKeys,
      quorum: 3,
      origin: ORIGIN,
      pollId: 'p1',
    });
    expect(verdict.verdict).toBe('completed');
    expect(verdict.agreeing).toHaveLength(4);
    const stored = await fetch(`${ledger.urls[0]}/v1/polls/p1/tally`);
    expect(stored.status).toBe(200);
  });

  it('reports each node in nodeStatus', async () => {
    const status = await coordinator.nodeStatus();
    expect(status.map((s) => [s.reachable, s.finalSize])).toEqual(Array(4).fill([true, given.length]));
  });

  it('resumes after an app restart from the anchored entries, with or without the last note', async () => {
    const before = given.length;
    const note = coordinator.lastNote!;
    const previousBody = note.slice(0, note.lastIndexOf('\n\n') + 1);
    for (const keepNote of [true, false]) {
      // With its note the frontier of every final leaf is enough; without, the app hands every leaf again.
      const restored = keepNote ? { frontier: coordinator.finalFrontier(), note: coordinator.lastNote } : undefined;
      coordinator = createCoordinator({ nodes: ledger.urls, token: TOKEN, origin: ORIGIN, anchored: restored });
      if (!keepNote) expect(await coordinator.anchor(given, 0)).toMatchObject({ status: 'final', size: given.length });
      expect(coordinator.size).toBe(given.length);
      await expect(coordinator.anchor([ballotText({ pollId: 'p1', voter: 'late' })], given.length + 1)).rejects.toThrow(RangeError);
      const result = await anchor(openPollEntries(`p-restart-${keepNote}`));
      expect(result).toMatchObject({ status: 'final', size: given.length });
    }
    // The first checkpoint after the restarts chains onto the last one before them.
    const after = (await (await fetch(`${ledger.urls[0]}/v1/checkpoint/${before + 3}`)).text()).split('\n');
    expect(after[3]).toBe(`prev ${toBase64(checkpointHash(nodeSha256, previousBody))}`);
  });

  it('refuses entries that would leave a gap or rewrite what it was given', async () => {
    await expect(coordinator.anchor(['x'], given.length + 2)).rejects.toThrow(RangeError);
    expect(await coordinator.anchor(given.slice(-2), given.length - 2)).toMatchObject({ status: 'final', size: given.length });
    // Entries not final yet are held and compared; final ones are the nodes' to keep.
    const cut = createCoordinator({ nodes: ['http://127.0.0.1:9'], token: TOKEN, origin: ORIGIN, timeoutMs: 500 });
    expect(await cut.anchor(given.slice(0, 2), 0)).toMatchObject({ status: 'pending', pendingEntries: 2 });
    await expect(cut.anchor([given[0] + ' '], 0)).rejects.toThrow(/differs/);
  });
});
