import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningApp } from '../../src/infra/compositionRoot.ts';
import { startTestApp } from '../support/testApp.ts';
import { anonymousClient, signedInClient, type TestClient } from '../support/session.ts';
import { policyPoll } from './siteFixtures.ts';

/**
 * The voter-roll file upload read by busboy, only after the caller is known and allowed,
 * bounded, and the multipart edge cases the hand-written reader got wrong.
 */
describe('voter-roll uploads (multipart)', () => {
  let app: RunningApp;
  let official: TestClient;
  let otherOfficial: TestClient;
  let citizen: TestClient;
  let pollId: string;

  beforeAll(async () => {
    app = await startTestApp({ LEDGER_NODES: 'none' });
    const orgId = await app.identity.createOrganisation({ name: '서울시 교통과', kind: 'department', by: 'test' });
    const otherOrg = await app.identity.createOrganisation({ name: '마포구청', kind: 'district', by: 'test' });
    await app.identity.issueOfficial({ phone: '010-1310-0001', orgId, by: 'test' });
    await app.identity.issueOfficial({ phone: '010-1310-0002', orgId: otherOrg, by: 'test' });
    await app.projections.settled();
    official = await signedInClient(app, '010-1310-0001', '+821013100001');
    otherOfficial = await signedInClient(app, '010-1310-0002', '+821013100002');
    citizen = await signedInClient(app, '010-1310-0003', '+821013100003');
    const user = (await (await official.fetch('/api/session')).json()) as { user: { id: string } };
    pollId = await app.polls.commands.create({ ...policyPoll(), settings: { ...policyPoll().settings, voterRollRequired: true } }, { kind: 'official', id: user.user.id, orgId });
    await app.projections.settled();
  });
  afterAll(async () => app?.stop());

  const rollSize = async () => {
    await app.projections.settled();
    return (await app.polls.get(pollId))?.rollSize ?? 0;
  };

  /** Sends the headers of a 5 MB multipart body and only its first 1 KB: the status, if the server answers before the rest. */
  const answerBeforeBody = (client: TestClient | null) =>
    new Promise<number>((resolve, reject) => {
      const url = new URL(`${app.url}/admin/polls/${pollId}/roll`);
      const headers: Record<string, string> = { 'content-type': 'multipart/form-data; boundary=XyZ', 'content-length': String(5 * 1024 * 1024) };
      if (client) Object.assign(headers, { cookie: client.cookie, 'x-csrf-token': client.csrfToken });
      const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', () => undefined);
      req.write(`--XyZ\r\nContent-Disposition: form-data; name="file"; filename="roll.csv"\r\nContent-Type: text/csv\r\n\r\n${'010-1234-5678\n'.repeat(70)}`);
      setTimeout(() => {
        req.destroy();
        reject(new Error('the server waited for the whole body before answering'));
      }, 8000).unref();
    });

  it('answers the anonymous, a citizen and another organisation’s official before reading the body', async () => {
    const anonymous = await anonymousClient(app);
    expect(await answerBeforeBody(null)).toBe(403);
    expect(await answerBeforeBody(anonymous)).toBe(303); // to /signin
    expect(await answerBeforeBody(citizen)).toBe(403);
    expect(await answerBeforeBody(otherOfficial)).toBe(403);
    expect(await rollSize()).toBe(0);
  });

  const multipart = (boundary: string, parts: string[], end = `--${boundary}--\r\n`) => parts.map((p) => `--${boundary}\r\n${p}\r\n`).join('') + end;
  const field = (name: string, value: string) => `Content-Disposition: form-data; name="${name}"\r\n\r\n${value}`;
  const file = (content: string, name = 'file', filename = 'roll.csv') => `Content-Disposition: form-data; name="${name}"; filename="${filename}"\r\nContent-Type: text/csv\r\n\r\n${content}`;
  const send = (body: string, contentType: string) =>
    fetch(`${app.url}/admin/polls/${pollId}/roll?lang=en`, { method: 'POST', headers: { cookie: official.cookie, 'content-type': contentType }, body, redirect: 'manual' });

  it('reads edge cases: a quoted boundary, boundary-like lines and CRLF inside the file, a BOM, the token after the file', async () => {
    const boundary = 'b0und:ary with space';
    const content = '\uFEFF010-1310-1001\r\n--b0und:ary with spac\r\n010-1310-1002\r\n';
    const body = multipart(boundary, [file(content, 'file', '명부.csv'), field('_csrf', official.csrfToken)]);
    const response = await send(body, `multipart/form-data; boundary="${boundary}"`);
    expect(response.status).toBe(303);
    expect(await rollSize()).toBe(2);
  });

  it('refuses a file over 5 MB (413), two files (413), a cut-off body (400), a NUL (400), each with a code', async () => {
    const before = await rollSize();
    const big = multipart('B', [field('_csrf', official.csrfToken), file('0'.repeat(5 * 1024 * 1024 + 10))]);
    const tooLarge = await send(big, 'multipart/form-data; boundary=B');
    expect(tooLarge.status).toBe(413);
    expect(await tooLarge.text()).toContain('too large');
    const twoFiles = await send(multipart('B', [field('_csrf', official.csrfToken), file('010-1310-1003\n'), file('010-1310-1004\n', 'file2')]), 'multipart/form-data; boundary=B');
    expect(twoFiles.status).toBe(413);
    const cut = await send(`--B\r\n${field('_csrf', official.csrfToken)}\r\n--B\r\n${file('010-1310-1005\n')}`, 'multipart/form-data; boundary=B');
    expect(cut.status).toBe(400);
    const nul = await send(multipart('B', [field('_csrf', official.csrfToken), file('010-1310-1006\u0000\n')]), 'multipart/form-data; boundary=B');
    expect(nul.status).toBe(400);
    const noBoundary = await send('x', 'multipart/form-data');
    expect(noBoundary.status).toBe(400);
    expect(await rollSize()).toBe(before);
  });

  it('a multipart body to any other route is not read: the CSRF token must come as the header', async () => {
    const body = multipart('B', [field('_csrf', official.csrfToken), field('text', 'hello')]);
    const response = await fetch(`${app.url}/admin/polls/${pollId}/reflection`, { method: 'POST', headers: { cookie: official.cookie, 'content-type': 'multipart/form-data; boundary=B' }, body, redirect: 'manual' });
    expect(response.status).toBe(403);
  });
});
