import { createServer, type IncomingMessage } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Router from '@koa/router';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/infra/config.ts';
import { startApp, type RunningApp } from '../../src/infra/compositionRoot.ts';
import { identityRouters } from '../../src/infra/http/routes/identityRouters.ts';
import { identityUseCases } from '../../src/infra/identity/wiring.ts';
import { createLogger } from '../../src/infra/logger.ts';
import { httpGatewaySms, SmsGatewayError } from '../../src/infra/sms/httpGateway.ts';
import { openPoll } from '../support/pollFixtures.ts';
import { anonymousClient, signedInClient } from '../support/session.ts';
import { startTestApp } from '../support/testApp.ts';
import { createTestDb } from '../support/testDb.ts';

/** Every route of the mounted routers, with its methods, from the routers themselves. */
const routesOf = (routers: Router[]) =>
  routers.flatMap((router) =>
    router.stack.flatMap((layer) => (typeof layer.path === 'string' ? layer.methods.filter((m) => m !== 'HEAD').map((method) => ({ method, path: layer.path as string })) : [])),
  );

const json = { 'content-type': 'application/json' };

describe('sessions, CSRF and roles', () => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => app?.stop());

  it('refuses a state-changing form without the CSRF token, and an htmx request with a wrong header', async () => {
    const client = await signedInClient(app, '010-4000-0001', '+821040000001');
    const noToken = await fetch(`${app.url}/account/name`, {
      method: 'POST',
      headers: { cookie: client.cookie, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'displayName=x',
      redirect: 'manual',
    });
    expect(noToken.status).toBe(403);
    expect(await noToken.text()).toContain('페이지가 만료되었거나 이 사이트에서 보낸 요청이 아닙니다');
    const htmx = await fetch(`${app.url}/account/name`, {
      method: 'POST',
      headers: { cookie: client.cookie, 'content-type': 'application/x-www-form-urlencoded', 'hx-request': 'true', 'x-csrf-token': 'forged' },
      body: 'displayName=x',
      redirect: 'manual',
    });
    expect(htmx.status).toBe(403);
    const api = await fetch(`${app.url}/api/session`, { method: 'DELETE', headers: { cookie: client.cookie } });
    expect(api.status).toBe(403);
    expect(((await api.json()) as { error: { code: string } }).error.code).toBe('security.csrf');
    // The same requests with the token pass.
    expect((await client.fetch('/account/name', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'hx-request': 'true' }, body: 'displayName=x' })).status).toBe(303);
    expect((await client.postForm('/account/name', { displayName: 'y' })).status).toBe(303);
  });

  it('puts the token in the page for htmx and forms', async () => {
    const html = await (await fetch(`${app.url}/signin`)).text();
    const token = html.match(/<meta name="csrf-token" content="([^"]+)">/)?.[1];
    expect(token).toBeTruthy();
    expect(html).toContain(`hx-headers='{"x-csrf-token":"${token}"}'`);
    expect(html).toContain(`name="_csrf" value="${token}"`);
  });

  it('gives a signed-in citizen 403 on every route under /admin and /api/admin, and an anonymous user a redirect or 401', async () => {
    const routes = routesOf(app.routers).filter((r) => /^\/(api\/)?admin(\/|$)/.test(r.path));
    expect(routes.length).toBeGreaterThanOrEqual(6);
    const citizen = await signedInClient(app, '010-4000-0002', '+821040000002');
    const anonymous = await anonymousClient(app);
    for (const { method, path } of routes) {
      const url = path.replace(/:(\w+)/g, 'x');
      const init = method === 'GET' ? { method } : { method, headers: json, body: '{}' };
      const asCitizen = await citizen.fetch(url, init);
      expect(asCitizen.status, `${method} ${path} as a citizen`).toBe(403);
      const body = await asCitizen.text();
      expect(body, `${method} ${path}: refused by role, not CSRF`).not.toContain('security.csrf');
      const asAnonymous = await anonymous.fetch(url, init);
      if (path.startsWith('/api/')) expect(asAnonymous.status, `${method} ${path} anonymous`).toBe(401);
      else {
        expect(asAnonymous.status, `${method} ${path} anonymous`).toBe(303);
        expect(asAnonymous.headers.get('location')).toMatch(/^\/signin\?next=/);
      }
    }
  });

  it('lets an administrator create organisations and issue, suspend and reinstate officials, each event with the actor', async () => {
    const adminId = await app.identity.grantAdmin({ phone: '010-4000-0003', by: 'cli' });
    await app.projections.settled();
    const admin = await signedInClient(app, '010-4000-0003', '+821040000003');
    expect(admin.citizenId).toBe(adminId);
    expect((await admin.fetch('/admin/orgs')).status).toBe(200);
    expect((await admin.postForm('/admin/orgs', { name: '서울도서관', kind: 'library' })).status).toBe(303);
    const orgsPage = await (await admin.fetch('/admin/orgs')).text();
    expect(orgsPage).toContain('서울도서관');
    const org = (await app.db.kysely.selectFrom('organisations').selectAll().executeTakeFirstOrThrow());
    expect(org.created_by).toBe(adminId);

    expect((await admin.postForm('/admin/officials', { phone: '010-4000-0004', orgId: org.id, displayName: '이담당' })).status).toBe(303);
    const official = await signedInClient(app, '010-4000-0004', '+821040000004');
    const session = (await (await official.fetch('/api/session')).json()) as { user: { roles: string[]; orgId: string } };
    expect(session.user).toMatchObject({ roles: ['citizen', 'official'], orgId: org.id });
    expect(await (await admin.fetch('/admin/officials')).text()).toContain('이담당');
    // An official is no administrator.
    expect((await official.fetch('/admin/orgs')).status).toBe(403);

    expect((await admin.postForm(`/admin/officials/${official.citizenId}/suspend`, {})).status).toBe(303);
    const suspended = (await (await official.fetch('/api/session')).json()) as { user: { roles: string[] } };
    expect(suspended.user.roles).toEqual(['citizen']);
    expect((await admin.postForm(`/admin/officials/${official.citizenId}/reinstate`, {})).status).toBe(303);
    const events = (await app.eventStore.readStream(`citizen-${official.citizenId}`)).map((e) => [e.type, e.data.grantedBy ?? e.data.by ?? null]);
    expect(events).toEqual([
      ['CitizenRegistered', null],
      ['OfficialRoleGranted', adminId],
      ['OfficialSuspended', adminId],
      ['OfficialReinstated', adminId],
    ]);
  });

  /** An open general poll, already in the read models the site reads. */
  const openSitePoll = async (): Promise<string> => {
    const pollId = await openPoll(app);
    await app.projections.settled();
    return pollId;
  };

  it('deletes an account: key gone, profile unreadable, sessions revoked, ballots still counted', async () => {
    const client = await signedInClient(app, '010-4000-0005', '+821040000005');
    const pollId = await openSitePoll();
    const ballot = await app.polls.cast({ pollId, citizenId: client.citizenId, selections: { selections: { q1: ['a'] } } });
    const profile = (await app.eventStore.readStream(`citizen-${client.citizenId}`))[0]!.data.profile as string;
    expect(await app.identity.contactOf(client.citizenId)).toMatchObject({ phone: '+821040000005' });

    expect((await client.fetch('/account/delete')).status).toBe(200);
    expect((await client.postForm('/account/delete', {})).status).toBe(422);
    const deleted = await client.postForm('/account/delete', { confirm: 'yes' });
    expect(deleted.status).toBe(303);

    expect(await app.db.kysely.selectFrom('citizen_keys').selectAll().where('citizen_id', '=', client.citizenId).execute()).toHaveLength(0);
    expect(await app.db.kysely.selectFrom('sessions').selectAll().where('citizen_id', '=', client.citizenId).execute()).toHaveLength(0);
    expect((await app.eventStore.readStream(`citizen-${client.citizenId}`)).map((e) => e.type)).toEqual(['CitizenRegistered', 'CitizenDeleted']);
    expect(profile).not.toContain('4000');
    expect(await app.identity.contactOf(client.citizenId)).toBeNull();
    expect(await app.identity.phoneHashOfCitizen(client.citizenId)).toBeNull();
    expect((await client.fetch('/account')).status).toBe(303);

    await app.projections.settled();
    const poll = await app.polls.get(pollId);
    expect(poll?.ballots).toBe(1);
    expect(await app.polls.results(poll!)).toMatchObject({ ballots: 1, counts: { q1: { a: 1 } } });
    expect((await app.polls.queries.loadCurrentBallots(app.db.kysely, pollId)).map((b) => b.voterTag)).toHaveLength(1);
    expect(ballot.voterTag).not.toContain(client.citizenId);
  });

  it('gives a deleted account back, empty, when its number signs in again: it cannot vote twice in a poll', async () => {
    const client = await signedInClient(app, '010-4000-0006', '+821040000006');
    const pollId = await openSitePoll();
    const first = await client.postForm(`/polls/${pollId}/vote`, { choice__q1: 'a' });
    expect(first.status).toBe(303);
    await app.projections.settled();
    const tracker = new URL(first.headers.get('location')!, app.url).searchParams.get('tracker')!;
    expect(await (await client.fetch('/my')).text()).toContain(tracker);
    expect((await client.postForm('/account/delete', { confirm: 'yes' })).status).toBe(303);

    const again = await signedInClient(app, '010-4000-0006', '+821040000006');
    expect(again.citizenId).toBe(client.citizenId);
    expect(await app.identity.contactOf(again.citizenId)).toMatchObject({ phone: '+821040000006' });
    expect(await app.identity.contactOf(again.citizenId)).not.toHaveProperty('displayName');
    const events = await app.eventStore.readStream(`citizen-${again.citizenId}`);
    expect(events.map((e) => e.type)).toEqual(['CitizenRegistered', 'CitizenDeleted', 'CitizenRegistered']);
    expect(events[2]!.data.profile).not.toBe(events[0]!.data.profile);

    const second = await again.postForm(`/polls/${pollId}/vote`, { choice__q1: 'b' });
    expect(second.status).toBe(409);
    expect(await second.text()).toContain('이미 이 투표에 참여하셨습니다');
    await app.projections.settled();
    expect((await app.polls.get(pollId))?.ballots).toBe(1);
    // The trackers of ballots cast before the deletion are not listed to whoever holds the number now.
    expect(await (await again.fetch('/my')).text()).not.toContain(tracker);
  });

  it('has no /dev/sms in production', async () => {
    const config = loadConfig({
      NODE_ENV: 'production',
      SERVER_SECRET: 'a'.repeat(64),
      DATABASE_URL: 'postgres://unused/unused',
      SMS_ADAPTER: 'http',
      SMS_HTTP_URL: 'http://127.0.0.1:1/sms',
      SMS_HTTP_TOKEN: 't',
    });
    const deps = { config, db: app.db, eventStore: app.eventStore, serverSecret: Buffer.alloc(32) };
    const routers = identityRouters({ useCases: identityUseCases(deps), db: app.db.kysely, production: config.NODE_ENV === 'production', settled: async () => {} });
    const paths = routesOf(routers).map((r) => r.path);
    expect(paths).toContain('/signin');
    expect(paths).not.toContain('/dev/sms');
  });
});

describe('sessions across restarts and app instances', () => {
  it('keeps a session valid on another instance and after a restart on the same database', async () => {
    const db = await createTestDb();
    const config = loadConfig({ NODE_ENV: 'test', PORT: '0', PORTAL_PORT: '0', LEDGER_BASE_PORT: '0', DATA_DIR: mkdtempSync(join(tmpdir(), 'civic-sessions-')), LOG_LEVEL: 'silent', SEED_DEMO_DATA: 'false' });
    const start = () => startApp(config, { db, logger: createLogger('silent') });
    let first = await start();
    const second = await start();
    try {
      const client = await signedInClient(first, '010-5000-0001', '+821050000001');
      const onSecond = await fetch(`${second.url}/api/session`, { headers: { cookie: client.cookie } });
      expect(((await onSecond.json()) as { user: { id: string } }).user.id).toBe(client.citizenId);
      await first.stop();
      first = await start();
      const afterRestart = await fetch(`${first.url}/account`, { headers: { cookie: client.cookie }, redirect: 'manual' });
      expect(afterRestart.status).toBe(200);
      expect(await afterRestart.text()).toContain('010-5000-0001');
      // A tampered cookie signature is refused.
      const forged = client.cookie.replace(/sid\.sig=[^;]+/, 'sid.sig=forged');
      const refused = await fetch(`${first.url}/api/session`, { headers: { cookie: forged } });
      expect(((await refused.json()) as { user: unknown }).user).toBeNull();
    } finally {
      await first.stop();
      await second.stop();
      await db.close();
    }
  });
});

describe('the SMS HTTP gateway adapter', () => {
  it('posts JSON with the bearer token, and rejects on a non-2xx answer', async () => {
    const received: Array<{ auth?: string; type?: string; body: unknown }> = [];
    let status = 200;
    const server = createServer(async (req: IncomingMessage, res) => {
      let body = '';
      for await (const chunk of req) body += chunk;
      received.push({ auth: req.headers.authorization, type: req.headers['content-type'], body: JSON.parse(body) });
      res.writeHead(status).end('{}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const address = server.address();
    const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/send`;
    try {
      const send = httpGatewaySms({ url, token: 'secret-token', sender: 'CivicVote' });
      await send('+821012345678', 'code 123456');
      expect(received).toEqual([{ auth: 'Bearer secret-token', type: 'application/json', body: { to: '+821012345678', from: 'CivicVote', text: 'code 123456' } }]);
      status = 500;
      await expect(send('+821012345678', 'x')).rejects.toThrow(SmsGatewayError);
      status = 401;
      await expect(send('+821012345678', 'x')).rejects.toMatchObject({ status: 401 });
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
