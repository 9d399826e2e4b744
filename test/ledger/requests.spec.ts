import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestLedger, TOKEN, ORIGIN } from '../../src/ledger/node/testing.ts';
import type { LocalLedger } from '../../src/ledger/node/localCluster.ts';
import { startPortal, type RunningPortal } from '../../verify-portal/server.ts';

/** Malformed requests to a ledger node and to the portal are refused with a 4xx and a code, never 500. */
describe('ledger node and portal: malformed requests', () => {
  let ledger: LocalLedger & { dataDir: string };
  let portal: RunningPortal;
  const node = () => ledger.urls[0]!;

  beforeAll(async () => {
    ledger = await startTestLedger();
    portal = await startPortal({ port: 0, nodes: ledger.urls, verifierKeys: ledger.verifierKeys, origin: ORIGIN });
  });
  afterAll(async () => {
    await portal?.stop();
    await ledger?.stop();
  });

  it('a node answers 400 bad-request to a malformed percent-encoding in a path id', async () => {
    for (const path of ['/v1/tracker/%E0%A4%A', '/v1/polls/%E0%A4%A/entries', '/v1/polls/%/tally']) {
      const response = await fetch(`${node()}${path}`);
      expect(response.status, path).toBe(400);
      expect(await response.json()).toMatchObject({ code: 'bad-request' });
    }
    // A NUL is just an unknown id; an encoded surrogate is not UTF-8.
    expect((await fetch(`${node()}/v1/tracker/%00`)).status).toBe(404);
    expect((await fetch(`${node()}/v1/polls/%ED%A0%80/tally`)).status).toBe(400);
  });

  it('a node pages /v1/entries whatever end asks for', async () => {
    const response = await fetch(`${node()}/v1/entries?start=0&end=99999999999`);
    expect(response.status).toBe(200);
    expect(((await response.json()) as { entries: unknown[] }).entries.length).toBeLessThanOrEqual(1000);
    expect((await fetch(`${node()}/v1/entries?start=0&end=1e3`)).status).toBe(400);
    expect((await fetch(`${node()}/v1/entries?start=0&end=999999999999999999999`)).status).toBe(400);
  });

  it('a node refuses a coordinator call without the token before reading its body, and a non-object body with 400', async () => {
    // Headers promise 5 MB; only 1 KB is sent. The answer must come without the rest.
    const status = await new Promise<number>((resolve, reject) => {
      const url = new URL(`${node()}/v1/propose`);
      const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(5 * 1024 * 1024) } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.write('x'.repeat(1024));
      setTimeout(() => reject(new Error('no answer before the body was complete')), 5000).unref();
    });
    expect(status).toBe(401);
    for (const body of ['null', '"x"', '{', '[]']) {
      const response = await fetch(`${node()}/v1/tally`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body });
      expect(response.status, body).toBe(400);
    }
  });

  it('the portal answers 400, 404 and 405 with a code and a message in the page language', async () => {
    const malformed = await fetch(`${portal.url}/%E0%A4%A`);
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ error: { code: 'malformed-url', message: expect.stringMatching(/[\uAC00-\uD7A3]/) } });
    const missing = await fetch(`${portal.url}/nothing?lang=en`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: 'not-found', message: 'Not found.' } });
    const post = await fetch(`${portal.url}/`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(await post.json()).toMatchObject({ error: { code: 'method-not-allowed' } });
    expect((await fetch(`${portal.url}/?lang=%E0%A4%A&tracker=%00`)).status).toBe(200);
  });
});
