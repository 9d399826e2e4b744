import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCoordinator, type Coordinator } from '../coordinator.ts';
import { nodeEd25519, nodeSha256 } from '../nodeCrypto.ts';
import { fromBase64 } from '../bytes.ts';
import { followsCheckpoint, parseCheckpoint } from '../checkpoint.ts';
import { verifyConsistency } from '../merkle.ts';
import { verifyReceipt, type Receipt } from '../receipt.ts';
import type { LocalLedger } from './localCluster.ts';
import {
  ballotText,
  eventually,
  latestFinal,
  nodeEntries,
  openPollEntries,
  ORIGIN,
  signersOf,
  startTestLedger,
  TOKEN,
  feeder,
} from './testing.ts';

const noteBody = (note: string): string => note.slice(0, note.lastIndexOf('\n\n') + 1);
const info = async (url: string): Promise<{ size: number; finalSize: number }> => (await fetch(`${url}/v1/info`)).json() as never;

describe('ledger faults with real node processes', () => {
  let ledger: LocalLedger & { dataDir: string };
  let coordinator: Coordinator;
  const { given, anchor } = feeder(() => coordinator);
  let voters = 0;
  const ballots = (n: number): string[] =>
    Array.from({ length: n }, () => ballotText({ pollId: 'f1', voter: `v${++voters}`, option: ['a', 'b', 'c'][voters % 3] }));
  /** Every node serves the same final checkpoint over every entry given, and every entry itself. */
  const allCaughtUp = async (): Promise<void> => {
    for (const url of ledger.urls) {
      await eventually(`${url} final at ${given.length}`, async () => (await info(url)).finalSize === given.length);
      expect(await nodeEntries(url)).toEqual(given);
    }
  };

  beforeAll(async () => {
    ledger = await startTestLedger();
    coordinator = createCoordinator({ nodes: ledger.urls, token: TOKEN, origin: ORIGIN, timeoutMs: 5000 });
  });

  afterAll(async () => {
    await ledger?.stop();
  });

  it('goes on with three nodes when one is killed mid-run, and the fourth catches up when back', async () => {
    expect(await anchor([...openPollEntries('f1'), ...ballots(10)])).toMatchObject({ status: 'final', size: 13 });
    // Killed while a round is in flight: whatever it answered, the round still finalises.
    const inFlight = anchor(ballots(5));
    await ledger.kill(3);
    expect(await inFlight).toMatchObject({ status: 'final', size: given.length });
    for (let k = 0; k < 3; k++) {
      const result = await anchor(ballots(5));
      expect(result).toMatchObject({ status: 'final', size: given.length });
      if (result.status === 'final') expect(signersOf(result.note, ledger.verifierKeys)).toEqual(['ledger-node-1', 'ledger-node-2', 'ledger-node-3']);
    }
    await ledger.restart(3);
    expect(await anchor(ballots(5))).toMatchObject({ status: 'final', size: given.length });
    await coordinator.settled();
    await allCaughtUp();
    expect(readFileSync(join(ledger.dataDir, 'ledger-node-4.log'), 'utf8')).toMatch(/caught up from a peer/);
  });

  it('reports pending with two nodes down, then anchors everything with no gap once they return', async () => {
    await ledger.kill(2);
    expect(await anchor(ballots(2))).toMatchObject({ status: 'final', size: given.length });
    await coordinator.settled(); // final notes reach the nodes after anchor returns
    const before = coordinator.finalSize;
    await ledger.kill(3);
    const first = await anchor(ballots(4));
    expect(first).toMatchObject({ status: 'pending', size: before, pendingEntries: 4, signatures: 2 });
    if (first.status === 'pending') {
      expect(Object.keys(first.refusals).sort()).toEqual([ledger.urls[2], ledger.urls[3]].sort());
      expect(Object.values(first.refusals).every((r) => r.kind === 'unreachable' && r.reason.startsWith('unreachable'))).toBe(true);
    }
    expect(await anchor(ballots(3))).toMatchObject({ status: 'pending', size: before, pendingEntries: 7 });
    // Nothing was finalised meanwhile: the nodes that are up still serve the old checkpoint.
    expect((await latestFinal(ledger.urls[0]!)).size).toBe(before);

    await ledger.restart(2);
    await ledger.restart(3);
    const resumed = await coordinator.anchor([], given.length);
    expect(resumed).toMatchObject({ status: 'final', size: given.length });
    await coordinator.settled();
    await allCaughtUp();
    // Node 3 missed a final checkpoint while down: it took it from its peers, not from the coordinator.
    expect(readFileSync(join(ledger.dataDir, 'ledger-node-3.log'), 'utf8')).toMatch(/caught up from a peer/);

    // No gap: every ballot of the paused stretch has a receipt from a restarted node that verifies,
    // and the checkpoint after the pause chains onto, and is consistent with, the one before it.
    for (let i = before; i < given.length; i++) {
      const tracker = (JSON.parse(given[i]!) as { data: { tracker: string } }).data.tracker;
      const receipt = (await (await fetch(`${ledger.urls[3]}/v1/tracker/${tracker}`)).json()) as Receipt;
      expect(receipt.leafIndex).toBe(i);
      expect(verifyReceipt(nodeSha256, nodeEd25519, receipt, { verifierKeys: ledger.verifierKeys, quorum: 3, origin: ORIGIN }).ok).toBe(true);
    }
    const oldBody = noteBody(await (await fetch(`${ledger.urls[0]}/v1/checkpoint/${before}`)).text());
    const newBody = noteBody((await latestFinal(ledger.urls[2]!)).note!);
    expect(followsCheckpoint(nodeSha256, oldBody, parseCheckpoint(newBody))).toBe(true);
    const { proof } = (await (await fetch(`${ledger.urls[3]}/v1/proof/consistency?from=${before}&to=${given.length}`)).json()) as { proof: string[] };
    expect(() =>
      verifyConsistency(nodeSha256, before, given.length, proof.map((p) => fromBase64(p)!), parseCheckpoint(oldBody).rootHash, parseCheckpoint(newBody).rootHash),
    ).not.toThrow();
  });

  it('drops a truncated last line left by a crash and goes on', async () => {
    await ledger.kill(1);
    const log = join(ledger.dataDir, 'ledger-node-2', 'entries.log');
    appendFileSync(log, '{"at":"2025-03-04T12:00:00.000Z","data":{"sal');
    await ledger.restart(1);
    expect((await info(ledger.urls[1]!)).size).toBe(given.length);
    expect(readFileSync(join(ledger.dataDir, 'ledger-node-2.log'), 'utf8')).toMatch(/truncated last line/);
    expect(readFileSync(log, 'utf8').endsWith('\n')).toBe(true);
    const result = await anchor(ballots(3));
    expect(result).toMatchObject({ status: 'final', size: given.length });
    await coordinator.settled();
    await allCaughtUp();
  });

  it('does not wait for a node that hangs without answering', async () => {
    // A coordinator that would wait two minutes for an answer: only the quorum rule lets it finish.
    const patient = createCoordinator({ nodes: ledger.urls, token: TOKEN, origin: ORIGIN, timeoutMs: 120_000, anchored: { frontier: coordinator.finalFrontier(), note: coordinator.lastNote } });
    const pid = ledger.pid(0)!;
    process.kill(pid, 'SIGSTOP');
    try {
      const texts = ballots(3);
      const result = await patient.anchor(texts, given.length);
      given.push(...texts);
      expect(result).toMatchObject({ status: 'final', size: given.length });
      if (result.status === 'final') expect(signersOf(result.note, ledger.verifierKeys)).not.toContain('ledger-node-1');
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await patient.settled();
    await allCaughtUp();
  });
});
