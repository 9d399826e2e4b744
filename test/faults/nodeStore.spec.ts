/**
 * Dead or lying ledger nodes. A node whose saved state holds a damaged signature finds it at
 * start, says so in /v1/info and refuses to serve checkpoints, proofs and receipts; a node (here a proxy
 * in front of a real one) that serves a receipt whose proof does not verify is passed over. The ballot
 * check (library, portal and `npm run verify`) goes on to the other nodes, names the ones that failed,
 * and reads VERIFIED; the node status names the store problem.
 */
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningApp } from '../../src/infra/compositionRoot.ts';
import { LEDGER_ORIGIN } from '../../src/infra/ledger/ledgerServices.ts';
import { createNodeClient } from '../../src/ledger/nodeClient.ts';
import { nodeEd25519, nodeSha256 } from '../../src/ledger/nodeCrypto.ts';
import { fromBase64, toBase64 } from '../../src/ledger/index.ts';
import { checkBallot } from '../../verify-portal/lib/checkBallot.ts';
import { nodeStatus } from '../../verify-portal/lib/nodeStatus.ts';
import type { VerifyContext } from '../../verify-portal/lib/common.ts';
import { startTestApp } from '../support/testApp.ts';
import { openPoll, waitFor } from '../ledger/support.ts';

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** A node that lies: forwards to a real node but flips a byte of every inclusion proof in a receipt. */
const lyingProxy = async (target: string): Promise<{ url: string; server: Server }> => {
  const server = createServer((req, res) => {
    void (async () => {
      const upstream = await fetch(`${target}${req.url}`);
      let text = await upstream.text();
      if (req.url?.startsWith('/v1/tracker/') && upstream.ok) {
        const receipt = JSON.parse(text) as { inclusionProof: string[] };
        const first = fromBase64(receipt.inclusionProof[0]!)!;
        first[0] = first[0]! ^ 1;
        receipt.inclusionProof[0] = toBase64(first);
        text = JSON.stringify(receipt);
      }
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
      res.end(text);
    })();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const a = server.address();
  return { url: `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`, server };
};

describe('ledger nodes with a damaged store or a lying answer', () => {
  let app: RunningApp;
  let proxy: { url: string; server: Server };
  beforeAll(async () => {
    app = await startTestApp({ ANCHOR_INTERVAL_MS: '200' });
  });
  afterAll(async () => {
    proxy?.server.close();
    await app?.stop();
  });

  it('a flipped byte in a saved signature: the node says so and serves nothing it cannot stand behind; ballot checks use the other nodes and name the failed ones', async () => {
    const local = app.ledger!.local!;
    const pollId = await openPoll(app);
    const { tracker } = await app.polls.cast({ pollId, citizenId: 'store-voter', selections: { selections: { q1: ['a'] } } });
    await app.ledger!.anchoring.settled(60_000);
    await waitFor('node 1 holding the final checkpoint', async () => (await fetch(`${local.urls[0]}/v1/tracker/${tracker}`)).ok, 60_000);

    // One byte of one signature in node 1's saved state, as a bad disk or an edit would leave it.
    await local.kill(0);
    const statePath = join(app.config.DATA_DIR, 'ledger-node-1', 'state.json');
    const state = JSON.parse(readFileSync(statePath, 'utf8')) as { lastFinalNote: string };
    const lines = state.lastFinalNote.split('\n');
    const sigLine = lines.findLastIndex((l) => l.startsWith('— '));
    const at = lines[sigLine]!.length - 10;
    lines[sigLine] = lines[sigLine]!.slice(0, at) + (lines[sigLine]![at] === 'A' ? 'B' : 'A') + lines[sigLine]!.slice(at + 1);
    writeFileSync(statePath, JSON.stringify({ ...state, lastFinalNote: lines.join('\n') }));
    await local.restart(0);

    const info = (await (await fetch(`${local.urls[0]}/v1/info`)).json()) as { storeProblem: string | null };
    expect(info.storeProblem).toMatch(/state\.json.*signature/);
    for (const path of ['/v1/checkpoint', `/v1/tracker/${tracker}`, '/v1/proof/consistency?from=1&to=2', '/v1/entries?start=0&end=10']) {
      const res = await fetch(`${local.urls[0]}${path}`);
      expect(res.status, path).toBe(503);
      expect(((await res.json()) as { code: string }).code).toBe('store-problem');
    }

    // The check meets the damaged node first, then a lying one, then two honest ones.
    proxy = await lyingProxy(local.urls[1]!);
    const order = [local.urls[0]!, proxy.url, local.urls[2]!, local.urls[3]!];
    const ctx: VerifyContext = { clients: order.map((u) => createNodeClient(u)), verifierKeys: local.verifierKeys, origin: LEDGER_ORIGIN, quorum: 3, h: nodeSha256, ed: nodeEd25519 };
    const result = await checkBallot({ tracker }, ctx);
    expect(result.lines.filter((l) => !l.ok)).toEqual([]);
    expect(result.ok).toBe(true);
    const found = result.lines[0]!.detail;
    expect(found).toContain(`${local.urls[2]} returned a receipt`);
    expect(found).toContain(`${local.urls[0]} failed`);
    expect(found).toContain('store-problem');
    expect(found).toContain(`${proxy.url} answered a receipt that does not verify (inclusion)`);

    // The CLI shares the check: exit 0, and the failed nodes named.
    const cli = await run(process.execPath, ['--import', 'tsx', 'verify-portal/cli/verify.ts', tracker, '--nodes', order.join(','), '--keys', local.verifierKeys.join(','), '--origin', LEDGER_ORIGIN], { cwd: repoRoot, timeout: 120_000 });
    expect(cli.stdout).toContain('VERIFIED: this ballot is in the ledger as recorded.');
    expect(cli.stdout).toContain(`${proxy.url} answered a receipt that does not verify`);

    // The node status shows the store problem instead of calling node 1 correct.
    const status = await nodeStatus({ ...ctx, clients: local.urls.map((u) => createNodeClient(u)) });
    expect(status.storeProblems.map((p) => p.name)).toEqual(['ledger-node-1']);
    expect(status.storeProblems[0]!.problem).toMatch(/signature/);
    expect(status.nodes[0]!.storeProblem).toBeTruthy();
  });
});
