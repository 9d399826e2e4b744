import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateSignerKey, nobleEd25519, nobleSha256, parseNote, parseSignerKey, signatureLine, signNote, formatCheckpoint, parseCheckpoint, type Receipt } from '../../src/ledger/index.ts';
import { createNodeClient, NodeClientError } from '../../src/ledger/nodeClient.ts';
import { nodeEd25519, nodeSha256 } from '../../src/ledger/nodeCrypto.ts';
import { checkBallot, parseBallotInput } from '../../verify-portal/lib/checkBallot.ts';
import { auditPoll } from '../../verify-portal/lib/auditPoll.ts';
import { nodeStatus } from '../../verify-portal/lib/nodeStatus.ts';
import { auditSignedHistory } from '../../verify-portal/lib/signedHistory.ts';
import { anchorClosedPoll, startLedgerWithCoordinator, type ClosedPoll, type TestLedger } from './fixture.ts';
import { tamperings } from './tamper.ts';

let ledger: TestLedger;
let poll: ClosedPoll;

beforeAll(async () => {
  ledger = await startLedgerWithCoordinator();
  poll = await anchorClosedPoll(ledger, 'poll-portal', 40);
});
afterAll(async () => {
  await ledger?.stop();
});

const failed = (lines: { code: string; ok: boolean }[]): string[] => lines.filter((l) => !l.ok).map((l) => l.code);

describe('nodeClient against a real node', () => {
  it('reads info, checkpoints, entries across pages, proofs, receipts, poll entries and tallies', async () => {
    const c = createNodeClient(ledger.urls[1]!);
    const info = await c.info();
    expect(info.verifierKey).toBe(ledger.verifierKeys[1]);
    const note = await c.checkpoint();
    const size = parseCheckpoint(parseNote(note!).text).size;
    expect(size).toBe(ledger.coordinator.finalSize);
    expect(await c.checkpointAt(size)).toBe(note);
    const signed = await c.signed();
    expect(signed.checkpoints.length).toBeGreaterThan(0);
    expect(signed).toMatchObject({ start: 0, next: null, count: signed.checkpoints.length });
    expect((await c.signed(signed.count - 1)).checkpoints).toEqual(signed.checkpoints.slice(-1));
    const entries = await c.entries(0, size);
    expect(entries.map((e) => e.index)).toEqual([...Array(size).keys()]);
    expect((await c.inclusionProof(3, size)).length).toBeGreaterThan(0);
    expect(await c.consistencyProof(size, size)).toEqual([]);
    const receipt = await c.tracker(poll.trackers[0]!.toLowerCase());
    expect(receipt?.tracker).toBe(poll.trackers[0]);
    expect(await c.tracker('0000-0000-0000')).toBeNull();
    expect((await c.pollEntries('poll-portal'))!.length).toBe(40 + 5);
    expect(await c.pollTally('no-such-poll')).toBeNull();
    expect((await c.pollTally('poll-portal'))!.pollId).toBe('poll-portal');
  });

  it('reports an unreachable node as a NodeClientError with status 0', async () => {
    const c = createNodeClient('http://127.0.0.1:9', { timeoutMs: 2000 });
    const error = await c.info().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NodeClientError);
    expect((error as NodeClientError).status).toBe(0);
  });
});

describe('check a ballot', () => {
  it('verifies a real ballot from its tracker code, typed carelessly, with every check passing', async () => {
    const typed = poll.trackers[5]!.toLowerCase().replace(/-/g, ' ').replace(/0/g, 'o').replace(/1/g, 'l');
    const result = await checkBallot({ tracker: typed }, ledger.context({ h: nobleSha256, ed: nobleEd25519 }));
    expect(result.lines.map((l) => [l.code, l.ok])).toEqual([
      ['found', true],
      ['tracker', true],
      ['entry-hash', true],
      ['signatures', true],
      ['origin', true],
      ['inclusion', true],
      ['consistency', true],
    ]);
    expect(result.ok).toBe(true);
  });

  it('verifies an older receipt file against a newer checkpoint (consistency across growth)', async () => {
    const receipt = (await createNodeClient(ledger.urls[0]!).tracker(poll.trackers[1]!))!;
    await anchorClosedPoll(ledger, 'poll-later', 3);
    const result = await checkBallot({ receipt: JSON.parse(JSON.stringify(receipt)) }, ledger.context());
    expect(failed(result.lines)).toEqual([]);
    expect(result.latestSize).toBeGreaterThan(parseCheckpoint(parseNote(receipt.checkpoint).text).size);
  });

  it.each(Object.keys(tamperings))('a receipt with %s fails with the right reason', async (name) => {
    const receipt = (await createNodeClient(ledger.urls[2]!).tracker(poll.trackers[7]!))!;
    const { tampered, expectFailed } = tamperings[name]!(receipt);
    const result = await checkBallot(parseBallotInput(tampered) as { receipt: unknown }, ledger.context());
    expect(result.ok).toBe(false);
    for (const code of expectFailed) expect(failed(result.lines)).toContain(code);
  });

  it('says a tracker is unknown or malformed', async () => {
    const unknown = await checkBallot({ tracker: 'ZZZZ-ZZZZ-ZZZZ' }, ledger.context());
    expect(unknown.lines).toEqual([expect.objectContaining({ code: 'found', ok: false })]);
    const malformed = await checkBallot({ tracker: 'hello' }, ledger.context());
    expect(malformed.ok).toBe(false);
    expect(parseBallotInput('{not json')).toEqual({ error: 'the receipt is not valid JSON' });
  });
});

describe('check a poll', () => {
  it('recounts a closed, published poll and agrees with the published result and the signed tallies', async () => {
    const progress: number[] = [];
    const audit = await auditPoll('poll-portal', ledger.context({ h: nobleSha256, ed: nobleEd25519 }), (p) => progress.push(p.done));
    expect(failed(audit.lines)).toEqual([]);
    expect(audit.verdict).toBe('verified');
    expect(audit.recount).toEqual(poll.published);
    expect(audit.openData!.entries.length).toBe(3 + 40 + 2);
    expect(audit.openData!.tallies.filter((t) => t.tally !== null).length).toBe(4);
    expect(progress.at(-1)).toBe(ledger.coordinator.finalSize);
  });

  it('is pending for a poll closed but not yet published, and fails for an unknown poll', async () => {
    await anchorClosedPoll(ledger, 'poll-unpublished', 5, { publish: false });
    const audit = await auditPoll('poll-unpublished', ledger.context());
    expect(audit.verdict).toBe('pending');
    expect(failed(audit.lines)).toEqual(['published']);
    const missing = await auditPoll('no-such-poll', ledger.context());
    expect(missing.verdict).toBe('failed');
    expect(failed(missing.lines)).toContain('poll-found');
  });
});

describe('node status', () => {
  it('shows four agreeing nodes and nobody misbehaving', async () => {
    const report = await nodeStatus(ledger.context());
    expect(report.agree).toBe(true);
    expect(report.misbehaving).toEqual([]);
    expect(report.nodes.every((n) => n.reachable && (n.latest?.signers.length ?? 0) >= 3)).toBe(true);
  });

  it('audits every body each node signed against the log, a page at a time', async () => {
    const audit = await auditSignedHistory(ledger.context());
    expect(failed(audit.lines)).toEqual([]);
    expect(audit.ok).toBe(true);
    expect(audit.misbehaving).toEqual([]);
    const counts = await Promise.all(ledger.context().clients.map(async (c) => (await c.signed()).count));
    expect(audit.compared + audit.beyond).toBe(counts.reduce((a, b) => a + b, 0));
    expect(audit.lines.filter((l) => l.code === 'signed-history')).toHaveLength(4);
  });

  it('names a node that signed a second root for a size it already signed, with both notes as evidence', async () => {
    // Node 4 turns rogue: with its own key (from its data directory) it signs a different root for the
    // latest size, and serves that note among what it signed.
    const seed = new Uint8Array(readFileSync(join(ledger.dataDir, 'ledger-node-4', 'seed')));
    const signer = parseSignerKey(nodeSha256, nodeEd25519, generateSignerKey(nodeSha256, nodeEd25519, 'ledger-node-4', seed).signerKey);
    const honest = (await createNodeClient(ledger.urls[3]!).checkpoint())!;
    const cp = parseCheckpoint(parseNote(honest).text);
    const forgedBody = formatCheckpoint({ ...cp, rootHash: new Uint8Array(32).fill(7) });
    const forged = signNote(nodeEd25519, forgedBody, [signer]);
    expect(signatureLine(nodeEd25519, forgedBody, signer)).toContain('ledger-node-4');
    const rogue = await proxyWithExtraSigned(ledger.urls[3]!, forged);
    try {
      const ctx = ledger.context();
      const report = await nodeStatus({ ...ctx, clients: [...ctx.clients.slice(0, 3), createNodeClient(rogue.url)] });
      expect(report.misbehaving).toHaveLength(1);
      expect(report.misbehaving[0]!.signer).toBe('ledger-node-4');
      expect(report.misbehaving[0]!.evidence).toContain(forged);
      expect(report.agree).toBe(true); // its final checkpoint still lies on the one history
      // The full-history audit finds it too, by the root the log has at that size.
      const audit = await auditSignedHistory({ ...ctx, clients: [...ctx.clients.slice(0, 3), createNodeClient(rogue.url)] });
      expect(audit.ok).toBe(false);
      expect(audit.misbehaving.map((m) => m.signer)).toEqual(['ledger-node-4']);
      expect(audit.misbehaving[0]!.evidence).toContain(forged);
      expect(failed(audit.lines)).toEqual(['signed-history']);
    } finally {
      rogue.server.close();
    }
  });
});

/** A proxy for a node that adds one note to its /v1/signed: a node that signed something it hides. */
async function proxyWithExtraSigned(target: string, extra: string): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    void (async () => {
      const upstream = await fetch(new URL(req.url!, target));
      let body = await upstream.text();
      const signed = new URL(req.url!, target).pathname === '/v1/signed' ? (JSON.parse(body) as { checkpoints: string[]; count: number; next: number | null }) : null;
      // Added to the last page, whichever page was asked for (the newest, or from a start).
      if (signed && signed.next === null) {
        body = JSON.stringify({ ...signed, checkpoints: [...signed.checkpoints, extra], count: signed.count + 1 });
      }
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
      res.end(body);
    })();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const address = server.address();
  return { url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`, server };
}

export type { Receipt };
