/**
 * `npm run audit-signed`'s check (verify-portal/lib/signedHistory.ts) across many pages of /v1/signed:
 * four real node servers over in-process nodes that answer 3 signed bodies a page, so the audit pages
 * through every list and merges the four by size while it hashes the log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createNodeClient } from '../../src/ledger/nodeClient.ts';
import { nodeEd25519, nodeSha256 } from '../../src/ledger/nodeCrypto.ts';
import { createNodeServer } from '../../src/ledger/node/server.ts';
import { ballotText, inProcessCluster, inProcessRound, openPollEntries, ORIGIN, TOKEN } from '../../src/ledger/node/testing.ts';
import type { LedgerNode } from '../../src/ledger/node/ledgerNode.ts';
import { QUORUM } from '../../verify-portal/lib/common.ts';
import { auditSignedHistory } from '../../verify-portal/lib/signedHistory.ts';

const ROUNDS = 10;
let nodes: LedgerNode[] = [];
const servers: Server[] = [];
let urls: string[] = [];

beforeAll(async () => {
  nodes = inProcessCluster(undefined, { signedPage: 3 }).nodes;
  const opening = openPollEntries('sh');
  let prev = await inProcessRound(nodes, [], opening, null);
  const held = [...opening];
  for (let r = 0; r < ROUNDS; r++) {
    const t = ballotText({ pollId: 'sh', voter: `v${r}` });
    prev = await inProcessRound(nodes, held, [t], prev);
    held.push(t);
  }
  urls = await Promise.all(
    nodes.map(async (node) => {
      const server = createNodeServer(node, TOKEN, () => undefined);
      servers.push(server);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    }),
  );
});
afterAll(async () => {
  for (const s of servers) await new Promise((r) => s.close(r));
  for (const n of nodes) n.close();
});

describe('the signed-history audit', () => {
  it('pages through every node\'s signed bodies and compares each with the log\'s root at its size', async () => {
    const clients = urls.map((u) => createNodeClient(u));
    expect((await clients[0]!.signed(0)).checkpoints).toHaveLength(3);
    const ctx = { clients, verifierKeys: nodes.map((n) => n.info().verifierKey), origin: ORIGIN, quorum: QUORUM, h: nodeSha256, ed: nodeEd25519 };
    const report = await auditSignedHistory(ctx);
    expect(report.lines.filter((l) => !l.ok)).toEqual([]);
    expect(report.ok).toBe(true);
    // Every round's body from each of the four nodes, none of them beyond the final checkpoint.
    expect(report.compared).toBe(4 * (ROUNDS + 1));
    expect(report.beyond).toBe(0);
    expect(report.lines.filter((l) => l.code === 'signed-history').map((l) => l.detail)).toEqual(urls.map((u) => `${u}: ${ROUNDS + 1} of ${ROUNDS + 1} signed bodies read, each with the ledger's root at its size`));
  });
});
