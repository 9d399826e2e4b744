import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tallyPoll } from '../../domain/tally.ts';
import { toBase64 } from '../bytes.ts';
import { checkpointHash, formatCheckpoint, parseCheckpoint } from '../checkpoint.ts';
import { createCoordinator, type Coordinator } from '../coordinator.ts';
import { nodeEd25519, nodeSha256 } from '../nodeCrypto.ts';
import { tallyVerdict } from '../tallyNote.ts';
import { pollBallotsFromEntries } from './entryChecker.ts';
import {
  ballotEntry,
  ballotText,
  closePollEntry,
  CLOSES_AT,
  entryText,
  latestFinal,
  nodeEntries,
  openPollEntries,
  ORIGIN,
  post,
  proposeDirect,
  signersOf,
  startTestLedger,
  TOKEN,
  feeder,
} from './testing.ts';
import type { LocalLedger } from './localCluster.ts';

describe('what ledger nodes refuse', () => {
  let ledger: LocalLedger & { dataDir: string };
  let coordinator: Coordinator;
  const { given, anchor } = feeder(() => coordinator);
  const node1 = (): string => ledger.urls[0]!;

  beforeAll(async () => {
    ledger = await startTestLedger();
    coordinator = createCoordinator({ nodes: ledger.urls, token: TOKEN, origin: ORIGIN, timeoutMs: 5000 });
    const result = await anchor([
      ...openPollEntries('cap', { firstComeCap: 2 }),
      ballotText({ pollId: 'cap', voter: 'v1' }),
      ballotText({ pollId: 'cap', voter: 'v2' }),
      ...openPollEntries('re', { allowRevote: true }),
      ballotText({ pollId: 're', voter: 'v1', eventId: 're-v1-1' }),
    ]);
    expect(result.status).toBe('final');
    await coordinator.settled();
  });

  afterAll(async () => {
    await ledger?.stop();
  });

  const refusedWith = async (texts: string[], code: string, index = given.length + texts.length - 1): Promise<void> => {
    const before = (await nodeEntries(node1())).length;
    const answer = await proposeDirect(node1(), texts);
    expect(answer.status).toBe(422);
    expect(answer.body).toMatchObject({ code, index });
    expect(typeof answer.body.reason).toBe('string');
    // Nothing of a refused proposal is kept, not even its valid entries.
    expect((await nodeEntries(node1())).length).toBe(before);
  };

  it('refuses invalid ballots with the reason and keeps nothing of the proposal', async () => {
    await refusedWith([ballotText({ pollId: 're', voter: 'v9', at: '2025-02-25T00:00:00.000Z' })], 'poll.not-open');
    await refusedWith([ballotText({ pollId: 're', voter: 'v9', at: CLOSES_AT })], 'poll.closed');
    await refusedWith([ballotText({ pollId: 're', voter: 'v9', option: 'z' })], 'ballot.unknown-option');
    await refusedWith([ballotText({ pollId: 'cap', voter: 'v1', eventId: 'cap-v1-again' })], 'ballot.already-voted');
    await refusedWith([ballotText({ pollId: 'cap', voter: 'v3' })], 'ballot.first-come-cap-reached');
    await refusedWith([ballotText({ pollId: 're', voter: 'v2', tracker: 'AAAA-BBBB-CCCC' })], 'ballot.tracker');
    await refusedWith([ballotText({ pollId: 'nope', voter: 'v1' })], 'poll.not-found');
    await refusedWith([JSON.stringify(ballotEntry({ pollId: 're', voter: 'v2' }), null, 1)], 'not-canonical');
    // A valid ballot followed by an invalid one: the index names the second, and neither is kept.
    await refusedWith([ballotText({ pollId: 're', voter: 'v2' }), ballotText({ pollId: 're', voter: 'v3', option: 'z' })], 'ballot.unknown-option');
  });

  it('accepts a re-vote only when it names the ballot it replaces', async () => {
    await refusedWith([ballotText({ pollId: 're', voter: 'v1', eventId: 're-v1-2' })], 'ballot.replaces');
    await refusedWith([ballotText({ pollId: 're', voter: 'v1', eventId: 're-v1-2', replaces: 'something-else' })], 'ballot.replaces');
    const revote = ballotText({ pollId: 're', voter: 'v1', eventId: 're-v1-2', option: 'b', replaces: 're-v1-1' });
    expect(await anchor([revote])).toMatchObject({ status: 'final', size: given.length });
  });

  it('never signs a different root at a size it signed, a smaller tree, or a body that does not chain', async () => {
    // The re-vote above became final at 3 signatures; its final note may still be on its way to node 1,
    // whose latest final checkpoint would then be one behind what it signed (a CI flake).
    await coordinator.settled();
    const { body, size } = await latestFinal(node1());
    const signedBefore = ((await (await fetch(`${node1()}/v1/signed`)).json()) as { checkpoints: string[] }).checkpoints;
    const cp = parseCheckpoint(body!);
    const forged = (over: Partial<typeof cp>): string => formatCheckpoint({ ...cp, ...over });
    const otherRoot = nodeSha256(new TextEncoder().encode('another history'));

    // Same size, different root (prev chaining onto the final body as a coordinator would).
    const sameSize = await post(node1(), '/v1/propose', { start: size, entries: [], checkpoint: forged({ rootHash: otherRoot, prev: checkpointHash(nodeSha256, body!) }) });
    expect(sameSize).toMatchObject({ status: 422, body: { code: 'conflicting-root' } });
    // Re-writing history: the same size reached from an earlier start with a different last entry.
    const rewritten = await post(node1(), '/v1/propose', { start: size - 1, entries: [ballotText({ pollId: 're', voter: 'v7' })], checkpoint: body });
    expect(rewritten).toMatchObject({ status: 422, body: { code: 'conflict', index: size - 1 } });
    const smaller = await post(node1(), '/v1/propose', { start: size - 1, entries: [], checkpoint: forged({ size: size - 1 }) });
    expect(smaller.status).toBe(422);
    expect(['smaller', 'bad-size']).toContain(smaller.body.code);
    const unchained = await proposeDirect(node1(), []);
    expect(unchained.status).toBe(200); // the control: the same body with the right prev is fine...
    const badPrev = await post(node1(), '/v1/propose', { start: size, entries: [], checkpoint: forged({ prev: otherRoot }) });
    expect(badPrev).toMatchObject({ status: 422, body: { code: 'bad-prev' } }); // ...a wrong prev is not

    const signedAfter = ((await (await fetch(`${node1()}/v1/signed`)).json()) as { checkpoints: string[] }).checkpoints;
    const roots = new Map<number, string>();
    for (const note of signedAfter) {
      const c = parseCheckpoint(note.slice(0, note.lastIndexOf('\n\n') + 1));
      expect(roots.get(c.size) ?? toBase64(c.rootHash)).toBe(toBase64(c.rootHash));
      roots.set(c.size, toBase64(c.rootHash));
    }
    expect(signedAfter.length).toBeGreaterThanOrEqual(signedBefore.length);
  });

  it('a node whose stored entries were edited signs nothing more; the poll still verifies with the other three', async () => {
    const votes = ['v1', 'v2', 'v3', 'v4'].map((voter) => ballotText({ pollId: 'tp', voter, option: 'a' }));
    expect(await anchor([...openPollEntries('tp'), ...votes, closePollEntry('tp')])).toMatchObject({ status: 'final' });
    await coordinator.settled();
    const closedAt = given.length;

    // Edit one ballot's choice on node 2's disk, behind its back, and restart it.
    await ledger.kill(1);
    const file = join(ledger.dataDir, 'ledger-node-2', 'entries.log');
    const lines = readFileSync(file, 'utf8').split('\n');
    const target = lines.indexOf(votes[0]!);
    expect(target).toBeGreaterThan(0);
    lines[target] = entryText(ballotEntry({ pollId: 'tp', voter: 'v1', option: 'b' }));
    writeFileSync(file, lines.join('\n'));
    await ledger.restart(1);

    const info = (await (await fetch(`${ledger.urls[1]}/v1/info`)).json()) as { storeProblem: string | null };
    expect(info.storeProblem).toMatch(/root/);
    const refused = await proposeDirect(ledger.urls[1]!, [ballotText({ pollId: 'cap', voter: 'v8', at: CLOSES_AT })]);
    expect(refused).toMatchObject({ status: 422, body: { code: 'store-mismatch' } });

    // Anchoring goes on without it.
    const next = await anchor([...openPollEntries('after')]);
    expect(next.status).toBe('final');
    if (next.status === 'final') expect(signersOf(next.note, ledger.verifierKeys)).not.toContain('ledger-node-2');

    // Its tally disagrees; three matching signatures on the published result still complete the poll.
    const { definition, ballots } = pollBallotsFromEntries(given.slice(0, closedAt), 'tp');
    const published = tallyPoll(definition, ballots);
    const tallies = await coordinator.requestTallies('tp', closedAt);
    const notes = tallies.filter((t) => t.ok).map((t) => t.note!);
    const verdict = tallyVerdict(nodeSha256, nodeEd25519, notes, published, { verifierKeys: ledger.verifierKeys, quorum: 3, origin: ORIGIN, pollId: 'tp' });
    expect(verdict.verdict).toBe('completed');
    expect(verdict.agreeing.sort()).toEqual(['ledger-node-1', 'ledger-node-3', 'ledger-node-4']);
    expect(verdict.conflicting).toEqual(['ledger-node-2']);
  });
});
