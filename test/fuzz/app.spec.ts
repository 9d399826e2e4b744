import { sql } from 'kysely';
import fc from 'fast-check';
import type Router from '@koa/router';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningApp } from '../../src/infra/compositionRoot.ts';
import { startTestApp } from '../support/testApp.ts';
import { anonymousClient, signedInClient, type TestClient } from '../support/session.ts';
import { budgetPoll, openPoll, official as officialActor, policyPoll } from '../http/siteFixtures.ts';
import { openGeneralPoll } from '../support/pollFixtures.ts';
import { bodyOf, type FuzzBody, FUZZ_RUNS, FUZZ_SEED, FUZZ_TIMEOUT_MS, fuzzParams, pathSegment, queryOf, refusalProblem } from './generators.ts';

/**
 * Every route of the app, enumerated from its routers (a new route is fuzzed without
 * anyone listing it), driven as anonymous, citizen, official and admin with generated path ids,
 * queries, headers and bodies. Properties: no 5xx; a refusal has a stable code and a message in the
 * request's language; a refused request changes nothing (events and read models as they were).
 */
interface Route {
  method: string;
  path: string;
}

/** Every (method, path) the routers answer; HEAD rides along with GET. */
export const routesOf = (routers: Router[]): Route[] => {
  const seen = new Map<string, Route>();
  for (const router of routers)
    for (const layer of router.stack as Array<{ path: string; methods: string[] }>)
      for (const method of layer.methods) if (method !== 'HEAD') seen.set(`${method} ${layer.path}`, { method, path: layer.path });
  return [...seen.values()];
};

/** Routes that end the caller's session or account: fuzzed on a throwaway anonymous session, so the role sessions live on. */
const ENDS_SESSION = /^(POST \/signout|DELETE \/api\/session|POST \/api\/session|POST \/signin\/code|POST \/account\/delete)$/;

type Role = 'anonymous' | 'citizen' | 'official' | 'admin';

describe(`fuzz: every app route (${FUZZ_RUNS} runs per route, seed ${FUZZ_SEED})`, () => {
  let app: RunningApp;
  const clients = {} as Record<Role, TestClient>;
  const known: Record<string, string[]> = {};
  const started = Date.now();
  let requests = 0;
  let stateBefore: string | undefined;

  /**
   * The event log and the read models, as a fingerprint a refused request must leave as it was. Events
   * the clock makes (the scheduler opening, closing or publishing a poll whose time came, which a
   * schedule accepted earlier in the run can set a few seconds ahead) are not the request's doing and
   * are left out (a 3,000-run app fuzz saw one land between a snapshot and a refusal).
   */
  const fingerprint = async () => {
    const { rows } = await sql<Record<string, string>>`
      SELECT (SELECT count(*) FROM events
               WHERE coalesce(data->'openedBy'->>'kind', data->'closedBy'->>'kind', data->'publishedBy'->>'kind', '') <> 'system') AS events, (SELECT count(*) FROM polls) AS polls,
             (SELECT count(*) FROM current_ballots) AS ballots, (SELECT count(*) FROM comments) AS comments,
             (SELECT count(*) FROM citizens) AS citizens, (SELECT count(*) FROM organisations) AS orgs,
             (SELECT count(*) FROM voter_roll_chunks) AS rolls, (SELECT count(*) FROM my_votes) AS votes`.execute(app.db.kysely);
    return JSON.stringify(rows[0]);
  };

  beforeAll(async () => {
    app = await startTestApp({ LEDGER_NODES: 'none' });
    const orgId = await app.identity.createOrganisation({ name: '퍼즈 기관', kind: 'department', by: 'test' });
    await app.identity.issueOfficial({ phone: '010-1313-0002', orgId, by: 'test' });
    await app.identity.grantAdmin({ phone: '010-1313-0003', by: 'test' });
    await app.projections.settled();
    clients.anonymous = await anonymousClient(app);
    clients.citizen = await signedInClient(app, '010-1313-0001', '+821013130001');
    clients.official = await signedInClient(app, '010-1313-0002', '+821013130002');
    clients.admin = await signedInClient(app, '010-1313-0003', '+821013130003');
    const officialId = ((await (await clients.official.fetch('/api/session')).json()) as { user: { id: string } }).user.id;
    const asOfficial = { ...officialActor(officialId), orgId };
    const polls = [
      await openPoll(app, openGeneralPoll()),
      await openPoll(app, budgetPoll(), asOfficial),
      await openPoll(app, policyPoll(), asOfficial),
      await app.polls.commands.create(openGeneralPoll({ title: 'draft' }), asOfficial),
    ];
    await app.projections.settled();
    known.pollId = polls;
    known.commentId = ['c1'];
    known.citizenId = [officialId];
    known.tracker = ['AAAA-BBBB-CCCC'];
  }, 240_000);
  afterAll(async () => {
    await app?.stop();
    // What the run cost, for the record (npm run fuzz prints it with the seed).
    console.log(`fuzz app: ${requests} requests in ${((Date.now() - started) / 1000).toFixed(1)} s, seed ${FUZZ_SEED}, ${FUZZ_RUNS} runs per route`);
  });

  it('enumerates the routes from the routers', () => {
    const routes = routesOf(app.routers);
    expect(routes.length).toBeGreaterThan(40);
    expect(routes.map((r) => `${r.method} ${r.path}`)).toEqual(expect.arrayContaining(['POST /api/session/code', 'GET /api/polls/:pollId', 'POST /admin/polls/:pollId/roll']));
  });

  it('answers every route without a 5xx, with clear refusals that change nothing', async () => {
    const routes = routesOf(app.routers);
    for (const route of routes) {
      const key = `${route.method} ${route.path}`;
      const segments = route.path.split('/').map((part) => (part.startsWith(':') ? pathSegment(known[part.slice(1)] ?? []) : fc.constant(part)));
      const request = fc.record({
        role: ENDS_SESSION.test(key) ? fc.constant<Role>('anonymous') : fc.constantFrom<Role>('anonymous', 'citizen', 'official', 'admin'),
        lang: fc.constantFrom<'ko' | 'en'>('ko', 'en'),
        path: fc.tuple(...segments).map((parts) => parts.join('/') || '/'),
        query: queryOf,
        body: route.method === 'GET' ? fc.constant<FuzzBody>({ kind: 'none' }) : bodyOf,
        csrf: fc.constantFrom('header', 'header', 'header', 'none', 'wrong'),
        htmx: fc.boolean(),
      });
      await fc.assert(
        fc.asyncProperty(request, async (r) => {
          const client = ENDS_SESSION.test(key) ? await anonymousClient(app) : clients[r.role];
          const headers: Record<string, string> = {};
          if (r.body.contentType) headers['content-type'] = r.body.contentType;
          if (r.csrf === 'none') headers['x-csrf-token'] = '';
          if (r.csrf === 'wrong') headers['x-csrf-token'] = 'wrong';
          if (r.htmx) headers['hx-request'] = 'true';
          const url = `${r.path}?lang=${r.lang}${r.query ? `&${r.query}` : ''}`;
          // The state before: unchanged since the last refusal unless the last request was accepted.
          if (stateBefore === undefined) {
            await app.projections.settled();
            stateBefore = await fingerprint();
          }
          const before = stateBefore;
          const response = await client.fetch(url, { method: route.method, headers, ...(r.body.body !== undefined ? { body: r.body.body } : {}) });
          requests++;
          const text = await response.text();
          const problem = refusalProblem(response.status, response.headers.get('content-type') ?? '', text, r.lang);
          if (problem) throw new Error(`${route.method} ${url} as ${r.role} (${r.body.kind}): ${problem}`);
          if (response.status >= 400) {
            await app.projections.settled();
            const after = await fingerprint();
            if (after !== before) throw new Error(`${route.method} ${url} as ${r.role} was refused (${response.status}) but changed ${before} -> ${after}`);
          } else stateBefore = undefined;
        }),
        fuzzParams(key),
      );
    }
  }, FUZZ_TIMEOUT_MS);
});
