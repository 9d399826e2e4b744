import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningApp } from '../../src/infra/compositionRoot.ts';
import { imageUrlProblem } from '../../src/infra/http/pollInput.ts';
import { startTestApp } from '../support/testApp.ts';
import { anonymousClient, signedInClient, type TestClient } from '../support/session.ts';
import { budgetPoll, openPoll, official } from './siteFixtures.ts';
import { openGeneralPoll } from '../support/pollFixtures.ts';

/**
 * Inputs that answered 500 (or did the wrong thing) on the way in. Each refusal is a 4xx with
 * a stable code and a message in the request's language, and changes nothing.
 */
const HANGUL = /[\uAC00-\uD7A3]/;

describe('refused input: clear 4xx answers, nothing changed', () => {
  let app: RunningApp;
  let anonymous: TestClient;
  let citizen: TestClient;
  const eventCount = async () => Number((await sql<{ n: string }>`SELECT count(*) AS n FROM events`.execute(app.db.kysely)).rows[0]!.n);
  const raw = (path: string, body: string, client: TestClient, type = 'application/json') =>
    client.fetch(path, { method: 'POST', headers: { 'content-type': type }, body });

  beforeAll(async () => {
    app = await startTestApp({ LEDGER_NODES: 'none' });
    anonymous = await anonymousClient(app);
    citizen = await signedInClient(app, '010-1300-0001', '+821013000001');
  });
  afterAll(async () => app?.stop());

  it('malformed JSON, trailing garbage, null, a string or an array as a body: 400 in the request language', async () => {
    const before = await eventCount();
    for (const [body, code] of [['{', 'request.malformed-json'], ['{"phone":"010-1234-5678"}x', 'request.malformed-json'], ['null', 'request.malformed-json'], ['"x"', 'request.malformed-json'], ['[]', 'request.not-an-object'], ['[{"phone":"010-1234-5678"}]', 'request.not-an-object']] as const) {
      const ko = await raw('/api/session/code?lang=ko', body, anonymous);
      expect(ko.status, body).toBe(400);
      const answer = (await ko.json()) as { error: { code: string; message: string } };
      expect(answer.error.code, body).toBe(code);
      expect(answer.error.message).toMatch(HANGUL);
      const en = await raw('/api/session/code?lang=en', body, anonymous);
      expect(en.status).toBe(400);
      expect(((await en.json()) as { error: { message: string } }).error.message).not.toMatch(HANGUL);
    }
    // Every JSON route parses the same way (a signed-in citizen's ballot, poll creation).
    expect((await raw('/api/polls/x/ballots', '{"selections":', citizen)).status).toBe(400);
    expect((await raw('/api/polls', 'null', citizen)).status).toBe(400);
    expect(await eventCount()).toBe(before);
  });

  it('NUL bytes and lone surrogates in queries, path ids, titles, option labels and comments: 400 request.invalid-text', async () => {
    const pollId = await openPoll(app, openGeneralPoll());
    await app.projections.settled();
    const before = await eventCount();
    const visitor = await anonymousClient(app);
    for (const path of ['/?q=%00', '/?tag=a%00b', '/api/polls?q=%00', '/api/polls?tag=%00', '/polls/%00', '/api/polls/%00', '/api/polls/a%00/results', '/receipts/%00']) {
      const response = await visitor.fetch(path);
      expect(response.status, path).toBe(400);
      if (path.startsWith('/api/')) expect(((await response.json()) as { error: { code: string } }).error.code).toBe('request.invalid-text');
      else expect(await response.text()).toContain('<html lang="ko"');
    }
    const definition = openGeneralPoll();
    for (const bad of [{ ...definition, title: 'a\u0000b' }, { ...definition, title: 'a\ud800b' }]) {
      const response = await raw('/api/polls', JSON.stringify(bad), citizen);
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('request.invalid-text');
    }
    // JSON.stringify keeps a lone surrogate as the escape \udc00, which JSON.parse turns back into one.
    const label = JSON.stringify({ ...definition, questions: [{ ...definition.questions[0]!, options: [{ id: 'a', label: 'x\udc00' }, { id: 'b', label: 'y' }] }] });
    expect((await raw('/api/polls', label, citizen)).status).toBe(400);
    const comment = await citizen.postForm(`/polls/${pollId}/comments?lang=ko`, { text: 'hello\u0000world' });
    expect(comment.status).toBe(400);
    expect(await comment.text()).toContain('<html lang="ko"');
    expect(await eventCount()).toBe(before);
  });

  it('cursors whose date part is not a date: 422 on the API, the first page on the site', async () => {
    for (const text of ['-1|x', '9999-99-99|id', 'x', '2025-01-01T00:00:00.000Z|']) {
      const cursor = Buffer.from(text).toString('base64url');
      const api = await anonymous.fetch(`/api/polls?cursor=${cursor}`);
      expect(api.status, text).toBe(422);
      expect(await api.json()).toMatchObject({ error: { code: 'invalid-input', details: [{ field: 'cursor' }] } });
      expect((await anonymous.fetch(`/?cursor=${cursor}`)).status, text).toBe(200);
    }
  });

  it('a malformed percent-encoding in the path is 400, an unknown method 405, both with a code', async () => {
    const path = await anonymous.fetch('/api/polls/%E0%A4%A');
    expect(path.status).toBe(400);
    expect(await path.json()).toMatchObject({ error: { code: 'request.malformed-url' } });
    const page = await anonymous.fetch('/polls/%E0%A4%A?lang=en');
    expect(page.status).toBe(400);
    expect(await page.text()).toContain('<html lang="en"');
    const method = await fetch(`${app.url}/api/polls`, { method: 'PROPFIND' });
    expect(method.status).toBe(405);
    expect(await method.json()).toMatchObject({ error: { code: 'method-not-allowed' } });
  });

  it('a budget ballot with 25 ticked projects from the site form counts all 25', async () => {
    const options = Array.from({ length: 30 }, (_, i) => ({ id: `p${i + 1}`, label: `사업 ${i + 1}`, cost: 1_000_000, district: '마포구' }));
    const base = budgetPoll();
    const pollId = await openPoll(app, { ...base, questions: [{ ...base.questions[0]!, maxChoices: 30, options }], budget: { total: 100_000_000, currency: 'KRW', rule: 'greedy' } }, official('official-1'));
    const voter = await signedInClient(app, '010-1300-0002', '+821013000002');
    const body = new URLSearchParams({ _csrf: voter.csrfToken });
    for (const o of options.slice(0, 25)) body.append('choice__projects', o.id);
    const cast = await voter.fetch(`/polls/${pollId}/vote`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    expect(cast.status).toBe(303);
    await app.projections.settled();
    const results = (await (await anonymous.fetch(`/api/polls/${pollId}/results`)).json()) as { counts: Record<string, Record<string, number>> };
    expect(Object.values(results.counts.projects!).reduce((a, b) => a + b, 0)).toBe(25);
  });

  it('a draft poll is 404 on the API for anyone but its creator, as on the site', async () => {
    const created = await raw('/api/polls', JSON.stringify(openGeneralPoll()), citizen);
    expect(created.status).toBe(201);
    const { pollId } = (await created.json()) as { pollId: string };
    await app.projections.settled();
    for (const path of [`/api/polls/${pollId}`, `/api/polls/${pollId}/results`]) {
      const hidden = await anonymous.fetch(path);
      expect(hidden.status, path).toBe(404);
      expect(await hidden.json()).toMatchObject({ error: { code: 'poll.not-found' } });
      const other = await signedInClient(app, '010-1300-0003', '+821013000003');
      expect((await other.fetch(path)).status).toBe(404);
      expect((await citizen.fetch(path)).status).toBe(200);
    }
  });

  it('option images: this site or IMAGE_HOSTS only; javascript: and third-party hosts are refused', async () => {
    const withImage = (imageUrl: string) => {
      const d = openGeneralPoll();
      return JSON.stringify({ ...d, questions: [{ ...d.questions[0]!, options: [{ id: 'a', label: 'A', imageUrl }, { id: 'b', label: 'B' }] }] });
    };
    for (const url of ['javascript:alert(1)', 'https://tracker.example.com/pixel.png', 'http://images.example.org/a.png', 'data:image/png;base64,AAAA', '//evil.example/a.png']) {
      const refused = await raw('/api/polls', withImage(url), citizen);
      expect(refused.status, url).toBe(422);
      expect(await refused.json()).toMatchObject({ error: { code: 'invalid-input', details: [{ field: 'questions.0.options.0.imageUrl' }] } });
    }
    expect((await raw('/api/polls', withImage('/static/img/park.png'), citizen)).status).toBe(201);
    expect(imageUrlProblem('https://images.example.org/a.png', ['images.example.org'])).toBeNull();
    expect(imageUrlProblem('https://user@images.example.org/a.png', ['images.example.org'])).not.toBeNull();
    expect(imageUrlProblem('https://other.example.org/a.png', ['images.example.org'])).not.toBeNull();
  });

  it('a citizen cannot upload a voter roll to their own poll through the API (officials only)', async () => {
    const created = await raw('/api/polls', JSON.stringify(openGeneralPoll({}, { voterRollRequired: true })), citizen);
    const { pollId } = (await created.json()) as { pollId: string };
    const before = await eventCount();
    const upload = await raw(`/api/polls/${pollId}/roll`, JSON.stringify({ csv: '010-1300-0009\n' }), citizen);
    expect(upload.status).toBe(403);
    expect(await upload.json()).toMatchObject({ error: { code: 'forbidden' } });
    expect(await eventCount()).toBe(before);
  });

  it('frames: X-Frame-Options DENY agrees with frame-ancestors none', async () => {
    const page = await anonymous.fetch('/');
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(page.headers.get('content-security-policy')).not.toMatch(/img-src[^;]*https:(;|\s|$)/);
  });
});
