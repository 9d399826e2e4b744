import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNodeClient } from '../../src/ledger/nodeClient.ts';
import { startPortal, type RunningPortal } from '../../verify-portal/server.ts';
import { anchorClosedPoll, ORIGIN, startLedgerWithCoordinator, type ClosedPoll, type TestLedger } from './fixture.ts';
import { tamperings } from './tamper.ts';

let ledger: TestLedger;
let poll: ClosedPoll;
let portal: RunningPortal;
const dir = mkdtempSync(join(tmpdir(), 'portal-cli-'));

beforeAll(async () => {
  ledger = await startLedgerWithCoordinator();
  poll = await anchorClosedPoll(ledger, 'poll-cli', 30);
  portal = await startPortal({ port: 0, nodes: ledger.urls, verifierKeys: ledger.verifierKeys, origin: ORIGIN });
});
afterAll(async () => {
  await portal?.stop();
  await ledger?.stop();
});

/** Runs a CLI as `npm run` would (tsx), with the ledger target in the environment. */
function cli(script: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  const target = { LEDGER_NODES: ledger.urls.join(','), LEDGER_KEYS: ledger.verifierKeys.join(','), LEDGER_ORIGIN: ORIGIN, DATA_DIR: dir };
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', `verify-portal/cli/${script}.ts`, ...args], { env: { ...process.env, ...target, ...env } }, (error, out, err) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, out, err }),
    );
  });
}

describe('npm run verify', () => {
  it('exits 0 for a real tracker, one ✓ line per check', async () => {
    const r = await cli('verify', [poll.trackers[2]!]);
    expect(r.code).toBe(0);
    expect(r.out.split('\n').filter((l) => l.startsWith('✓'))).toHaveLength(7);
    expect(r.out).toContain('VERIFIED');
  });

  it('exits 1 for an altered receipt file and prints why', async () => {
    const receipt = (await createNodeClient(ledger.urls[0]!).tracker(poll.trackers[4]!))!;
    const file = join(dir, 'wrong-proof.json');
    writeFileSync(file, tamperings['a wrong proof']!(receipt).tampered);
    const r = await cli('verify', [file]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^✗ inclusion .*inclusion proof does not lead to the root/m);
    expect(r.out).toContain('NOT VERIFIED');
  });

  it('exits 2 without a ledger target, and reads --nodes/--keys/--origin flags', async () => {
    const none = await cli('verify', [poll.trackers[0]!], { LEDGER_NODES: '', LEDGER_KEYS: '', LEDGER_ORIGIN: '' });
    expect(none.code).toBe(2);
    expect(none.err).toContain('no ledger target');
    const flags = await cli('verify', [poll.trackers[0]!, '--nodes', ledger.urls.join(','), '--keys', ledger.verifierKeys.join(','), '--origin', ORIGIN], { LEDGER_NODES: '', LEDGER_KEYS: '', LEDGER_ORIGIN: '' });
    expect(flags.code).toBe(0);
  });

  it('reads DATA_DIR/ledger.json when nothing else names the ledger', async () => {
    writeFileSync(join(dir, 'ledger.json'), JSON.stringify({ nodes: ledger.urls, verifierKeys: ledger.verifierKeys, origin: ORIGIN }));
    const r = await cli('verify', [poll.trackers[1]!], { LEDGER_NODES: '', LEDGER_KEYS: '', LEDGER_ORIGIN: '' });
    expect(r.code).toBe(0);
  });
});

describe('npm run audit', () => {
  it('exits 0 for a closed, published poll, prints the recount and writes the open data', async () => {
    const out = join(dir, 'audit.json');
    const r = await cli('audit', ['poll-cli', '--out', out]);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`q1: ${poll.published.questions[0]!.options.map((o) => `${o.optionId}=${o.count}`).join(' ')}`);
    const data = JSON.parse(readFileSync(out, 'utf8')) as { entries: unknown[]; recount: unknown };
    expect(data.entries).toHaveLength(3 + 30 + 2);
    expect(data.recount).toEqual(poll.published);
  });

  it('exits 1 for a poll that is not in the ledger', async () => {
    const r = await cli('audit', ['nope']);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^✗ poll-found/m);
  });
});

describe('npm run audit-signed', () => {
  it('exits 0 when every body each node signed has the ledger\'s root at its size', async () => {
    const r = await cli('auditSigned', []);
    expect(r.code).toBe(0);
    expect(r.out.split('\n').filter((l) => l.startsWith('✓ signed-history'))).toHaveLength(4);
    expect(r.out).toContain('VERIFIED');
  });

  it('exits 1 when no node serves a quorum-signed checkpoint', async () => {
    const r = await cli('auditSigned', ['--nodes', 'http://127.0.0.1:9', '--keys', ledger.verifierKeys.join(','), '--origin', ORIGIN]);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^✗ checkpoint/m);
  });
});

describe('the portal server', () => {
  it('serves pages with a strict CSP that lets the browser reach only the nodes, and the bundle without node:* modules', async () => {
    const res = await fetch(`${portal.url}/poll?lang=en`);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    for (const u of ledger.urls) expect(csp).toContain(new URL(u).origin);
    const html = await res.text();
    expect(html).toContain('<html lang="en">');
    expect(html).not.toMatch(/<script>(?!<)/);
    const js = await (await fetch(`${portal.url}/app.js`)).text();
    expect(js.length).toBeGreaterThan(10_000);
    expect(js).not.toMatch(/["']node:/);
    expect((await fetch(`${portal.url}/nope`)).status).toBe(404);
    expect((await fetch(`${portal.url}/`, { method: 'POST' })).status).toBe(405);
  });

  it('refuses to start with a key that does not parse', async () => {
    await expect(startPortal({ port: 0, nodes: ledger.urls, verifierKeys: ['not-a-key'], origin: ORIGIN })).rejects.toThrow(/verifier key/);
  });
});
