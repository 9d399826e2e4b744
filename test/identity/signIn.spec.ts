import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readAllCommitted } from '../../src/app/readAllCommitted.ts';
import type { RunningApp } from '../../src/infra/compositionRoot.ts';
import { lastCodeSentTo, readOutbox } from '../../src/infra/sms/outbox.ts';
import { anonymousClient, signedInClient, type TestClient } from '../support/session.ts';
import { startTestApp } from '../support/testApp.ts';

const csrfFrom = (html: string) => html.match(/name="_csrf" value="([^"]+)"/)![1]!;

/** The no-JavaScript flow: the sign-in form, the code form, then the page we came for. */
const signUpWithForms = async (app: RunningApp, client: TestClient, phone: string, e164: string, displayName = '') => {
  client.csrfToken = csrfFrom(await (await client.fetch('/signin?next=/account')).text());
  const sent = await client.postForm('/signin', { phone, next: '/account' });
  expect(sent.status).toBe(303);
  expect(sent.headers.get('location')).toBe('/signin/code');
  const codePage = await (await client.fetch('/signin/code')).text();
  expect(codePage).toContain('autocomplete="one-time-code"');
  const code = (await lastCodeSentTo(app.db.kysely, e164))!;
  return client.postForm('/signin/code', { code, displayName });
};

describe('sign-up and sign-in by phone', () => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => app?.stop());
  beforeEach(async () => {
    await app.db.kysely.deleteFrom('rate_limiter').execute();
  });

  it('signs a new citizen up with the forms, with a secure session cookie, and shows their data', async () => {
    const client = await anonymousClient(app);
    const verified = await signUpWithForms(app, client, '010-2000-0001', '+821020000001', '김시민');
    expect(verified.status).toBe(303);
    expect(verified.headers.get('location')).toBe('/account');
    const cookie = verified.headers.getSetCookie().find((c) => c.startsWith('sid='))!;
    expect(cookie).toMatch(/httponly/i);
    expect(cookie).toMatch(/samesite=lax/i);
    expect(verified.headers.getSetCookie().some((c) => c.startsWith('sid.sig='))).toBe(true);
    const account = await (await client.fetch('/account')).text();
    expect(account).toContain('010-2000-0001');
    expect(account).toContain('김시민');
    // The number and the name appear nowhere in the event store in clear.
    const events = await readAllCommitted(app.eventStore);
    const all = JSON.stringify(events.map((e) => e.data));
    expect(all).not.toContain('2000-0001');
    expect(all).not.toContain('20000001');
    expect(all).not.toContain('김시민');
  });

  it('signs a second sign-up with the same number into the same account', async () => {
    const first = await signedInClient(app, '010-2000-0002', '+821020000002');
    const second = await signedInClient(app, '+82 10 2000 0002', '+821020000002');
    expect(second.citizenId).toBe(first.citizenId);
  });

  it('makes one account when many sign-ups with one number race', async () => {
    const results = await Promise.all(Array.from({ length: 8 }, () => app.identity.ensureCitizen('+821020000003')));
    expect(new Set(results.map((r) => r.citizenId)).size).toBe(1);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    const registered = (await readAllCommitted(app.eventStore)).filter((e) => e.type === 'CitizenRegistered' && e.data.citizenId === results[0]!.citizenId);
    expect(registered).toHaveLength(1);
  });

  it('refuses a wrong code, then an expired one, then after 5 attempts any code', async () => {
    const client = await anonymousClient(app);
    client.csrfToken = csrfFrom(await (await client.fetch('/signin')).text());
    await client.postForm('/signin', { phone: '010-2000-0004' });
    const code = (await lastCodeSentTo(app.db.kysely, '+821020000004'))!;
    const wrongCode = code === '000000' ? '111111' : '000000';

    const wrong = await client.postForm('/signin/code', { code: wrongCode });
    expect(wrong.status).toBe(422);
    const wrongHtml = await wrong.text();
    expect(wrongHtml).toContain('role="alert"');
    expect(wrongHtml).toContain('인증번호가 맞지 않습니다');

    // Expire the challenge in the database: no waiting, no clock tricks.
    await app.db.kysely.updateTable('otp_challenges').set({ expires_at: new Date(Date.now() - 1000) }).execute();
    const expired = await client.postForm('/signin/code', { code });
    expect(expired.status).toBe(422);
    expect(await expired.text()).toContain('만료');

    await client.postForm('/signin', { phone: '010-2000-0004' });
    const fresh = (await lastCodeSentTo(app.db.kysely, '+821020000004'))!;
    const other = fresh === '000000' ? '111111' : '000000';
    for (let i = 0; i < 5; i++) expect((await client.postForm('/signin/code', { code: other })).status).toBe(422);
    const tooMany = await client.postForm('/signin/code', { code: fresh });
    expect(tooMany.status).toBe(422);
    expect(await tooMany.text()).toContain('틀린 횟수가 너무 많습니다');
  });

  it('stores only a keyed hash of the code and accepts a code once', async () => {
    const client = await anonymousClient(app);
    await client.fetch('/api/session/code', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ phone: '010-2000-0005' }) });
    const code = (await lastCodeSentTo(app.db.kysely, '+821020000005'))!;
    const rows = await app.db.kysely.selectFrom('otp_challenges').selectAll().execute();
    expect(JSON.stringify(rows)).not.toContain(code);
    const body = JSON.stringify({ phone: '010-2000-0005', code });
    const init = { method: 'POST', headers: { 'content-type': 'application/json' }, body };
    const first = await client.fetch('/api/session', init);
    expect(first.status).toBe(201);
    client.csrfToken = ((await first.json()) as { csrfToken: string }).csrfToken;
    const again = await client.fetch('/api/session', init);
    expect(again.status).toBe(422);
    expect(((await again.json()) as { error: { code: string } }).error.code).toBe('otp.none');
  });

  it('refuses invalid and landline numbers with a clear message', async () => {
    const client = await anonymousClient(app);
    client.csrfToken = csrfFrom(await (await client.fetch('/signin')).text());
    const invalid = await client.postForm('/signin', { phone: '12345' });
    expect(invalid.status).toBe(422);
    const html = await invalid.text();
    expect(html).toContain('role="alert"');
    expect(html).toContain('올바른 휴대전화 번호가 아닙니다');
    expect((await client.postForm('/signin', { phone: '02-2133-1234' })).status).toBe(422);
  });

  it('rate-limits code requests per number (5 per window)', async () => {
    const client = await anonymousClient(app);
    const ask = () => client.fetch('/api/session/code', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ phone: '010-2000-0006' }) });
    for (let i = 0; i < 5; i++) expect((await ask()).status).toBe(202);
    const refused = await ask();
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('otp.rate-limited');
    expect(await readOutbox(app.db.kysely, { to: '+821020000006' })).toHaveLength(5);
  });

  it('rate-limits code requests per address (20 per window) across numbers', async () => {
    const client = await anonymousClient(app);
    const ask = (n: number) =>
      client.fetch('/api/session/code', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ phone: `010-3000-${String(n).padStart(4, '0')}` }) });
    for (let i = 0; i < 20; i++) expect((await ask(i)).status).toBe(202);
    expect((await ask(20)).status).toBe(429);
    // The form answers 429 too, with the message next to the field.
    client.csrfToken = csrfFrom(await (await client.fetch('/signin')).text());
    const form = await client.postForm('/signin', { phone: '010-3000-0099' });
    expect(form.status).toBe(429);
    expect(await form.text()).toContain('인증번호 요청이 너무 많습니다');
  });

  it('shows codes on /dev/sms outside production', async () => {
    const page = await fetch(`${app.url}/dev/sms`);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/인증번호 \d{6}/);
  });

  it('signs out by destroying the session row', async () => {
    const client = await signedInClient(app, '010-2000-0007', '+821020000007');
    const before = await app.db.kysely.selectFrom('sessions').select('id').where('citizen_id', '=', client.citizenId).execute();
    expect(before).toHaveLength(1);
    const out = await client.postForm('/signout', {});
    expect(out.status).toBe(303);
    expect(await app.db.kysely.selectFrom('sessions').select('id').where('citizen_id', '=', client.citizenId).execute()).toHaveLength(0);
    expect((await client.fetch('/account')).headers.get('location')).toMatch(/^\/signin/);
  });
});
