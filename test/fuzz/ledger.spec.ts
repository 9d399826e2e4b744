import fc from 'fast-check';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { createCoordinator } from '../../src/ledger/coordinator.ts';
import { NODE_ROUTES } from '../../src/ledger/node/server.ts';
import { ballotText, feeder, nodeEntries, openPollEntries, ORIGIN, startTestLedger, TOKEN } from '../../src/ledger/node/testing.ts';
import type { LocalLedger } from '../../src/ledger/node/localCluster.ts';
import { PORTAL_PATHS, startPortal, type RunningPortal } from '../../verify-portal/server.ts';
import { bodyOf, FUZZ_RUNS, FUZZ_SEED, FUZZ_TIMEOUT_MS, fuzzParams, pathSegment, queryOf, refusalProblem } from './generators.ts';

/**
 * Every route of a ledger node (from NODE_ROUTES) and of the portal (PORTAL_PATHS), with
 * generated ids, queries, bodies and methods. No 5xx, every refusal with a code (the node's machine
 * API answers `{ code, reason }` in English; the portal `{ error: { code, message } }` in the page's
 * language), and a refused coordinator call leaves the node's log as it was.
 */
describe(`fuzz: ledger node and portal routes (${FUZZ_RUNS} runs per route, seed ${FUZZ_SEED})`, () => {
  let ledger: LocalLedger & { dataDir: string };
  let portal: RunningPortal;
  const node = () => ledger.urls[0]!;
  let requests = 0;
  const started = Date.now();

  beforeAll(async () => {
    ledger = await startTestLedger();
    const coordinator = createCoordinator({ nodes: ledger.urls, token: TOKEN, origin: ORIGIN, timeoutMs: 5000 });
    const { anchor } = feeder(() => coordinator);
    await anchor([...openPollEntries('fuzz'), ballotText({ pollId: 'fuzz', voter: 'v1' })]);
    portal = await startPortal({ port: 0, nodes: ledger.urls, verifierKeys: ledger.verifierKeys, origin: ORIGIN });
  }, 240_000);
  afterAll(async () => {
    await portal?.stop();
    await ledger?.stop();
    console.log(`fuzz ledger+portal: ${requests} requests in ${((Date.now() - started) / 1000).toFixed(1)} s, seed ${FUZZ_SEED}, ${FUZZ_RUNS} runs per route`);
  });

  it('answers every ledger node route without a 5xx; refused coordinator calls change nothing', async () => {
    for (const route of NODE_ROUTES) {
      const segments = route.path.split('/').map((part) => (part.startsWith(':') ? pathSegment(['fuzz', '0', '1', 'AAAA-BBBB-CCCC']) : fc.constant(part)));
      const request = fc.record({
        path: fc.tuple(...segments).map((parts) => parts.join('/')),
        query: queryOf,
        method: fc.constantFrom(route.method, route.method, 'PUT', 'DELETE', 'OPTIONS'),
        body: bodyOf,
        token: fc.constantFrom('right', 'wrong', 'none'),
      });
      await fc.assert(
        fc.asyncProperty(request, async (r) => {
          const headers: Record<string, string> = {};
          if (r.body.contentType) headers['content-type'] = r.body.contentType;
          if (r.token !== 'none') headers.authorization = `Bearer ${r.token === 'right' ? TOKEN : 'wrong'}`;
          const before = route.coordinator ? (await nodeEntries(node())).length : 0;
          const sendsBody = !['GET', 'HEAD', 'OPTIONS'].includes(r.method) && r.body.body !== undefined;
          const response = await fetch(`${node()}${r.path}?${r.query}`, { method: r.method, headers, ...(sendsBody ? { body: r.body.body } : {}) });
          requests++;
          const text = await response.text();
          const problem = refusalProblem(response.status, response.headers.get('content-type') ?? '', text, 'en');
          if (problem) throw new Error(`${r.method} ${r.path}?${r.query} (${r.body.kind}): ${problem}`);
          if (route.coordinator && response.status >= 400 && (await nodeEntries(node())).length !== before) throw new Error(`${r.method} ${r.path} was refused but the log changed`);
        }),
        fuzzParams(`node ${route.method} ${route.path}`),
      );
    }
  }, FUZZ_TIMEOUT_MS);

  it('answers every portal path without a 5xx, refusals in the page language', async () => {
    for (const path of [...PORTAL_PATHS, '/nothing/:x']) {
      const segments = path.split('/').map((part) => (part.startsWith(':') ? pathSegment(['a']) : fc.constant(part)));
      const request = fc.record({
        path: fc.tuple(...segments).map((parts) => parts.join('/') || '/'),
        query: queryOf,
        lang: fc.constantFrom<'ko' | 'en'>('ko', 'en'),
        method: fc.constantFrom('GET', 'GET', 'HEAD', 'POST', 'PUT', 'DELETE'),
        body: bodyOf,
      });
      await fc.assert(
        fc.asyncProperty(request, async (r) => {
          const sendsBody = r.method !== 'GET' && r.method !== 'HEAD' && r.body.body !== undefined;
          const response = await fetch(`${portal.url}${r.path}?lang=${r.lang}&${r.query}`, { method: r.method, ...(sendsBody ? { body: r.body.body, headers: { 'content-type': r.body.contentType ?? 'text/plain' } } : {}) });
          requests++;
          const text = await response.text();
          const problem = r.method === 'HEAD' ? (response.status >= 500 ? `HEAD answered ${response.status}` : null) : refusalProblem(response.status, response.headers.get('content-type') ?? '', text, r.lang);
          if (problem) throw new Error(`${r.method} ${r.path}?lang=${r.lang}&${r.query}: ${problem}`);
        }),
        fuzzParams(`portal ${path}`),
      );
    }
  }, FUZZ_TIMEOUT_MS);
});
