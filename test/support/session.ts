import type { RunningApp } from '../../src/infra/compositionRoot.ts';
import { lastCodeSentTo } from '../../src/infra/sms/outbox.ts';

/**
 * An HTTP client with a cookie jar of one session, for tests: `client.fetch(path, init)` sends the
 * session cookie and, on state-changing requests, the CSRF header.
 */
export interface TestClient {
  cookie: string;
  csrfToken: string;
  citizenId?: string;
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** A form POST with the `_csrf` field, as a browser without JavaScript sends it. */
  postForm(path: string, fields: Record<string, string>): Promise<Response>;
}

const cookiesOf = (response: Response, jar: Map<string, string>) => {
  for (const line of response.headers.getSetCookie()) {
    const [pair] = line.split(';');
    const eq = pair!.indexOf('=');
    const name = pair!.slice(0, eq);
    const value = pair!.slice(eq + 1);
    if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) jar.delete(name);
    else jar.set(name, value);
  }
};

/** An anonymous client holding a session (made by GET /api/session) and its CSRF token. */
export const anonymousClient = async (app: RunningApp): Promise<TestClient> => {
  const jar = new Map<string, string>();
  const client: TestClient = {
    get cookie() {
      return [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    },
    csrfToken: '',
    async fetch(path, init = {}) {
      const headers = new Headers(init.headers);
      if (jar.size > 0) headers.set('cookie', client.cookie);
      const method = (init.method ?? 'GET').toUpperCase();
      if (!['GET', 'HEAD', 'OPTIONS'].includes(method) && client.csrfToken && !headers.has('x-csrf-token')) headers.set('x-csrf-token', client.csrfToken);
      const response = await fetch(`${app.url}${path}`, { ...init, headers, redirect: 'manual' });
      cookiesOf(response, jar);
      return response;
    },
    async postForm(path, fields) {
      const jarHeaders = new Headers({ 'content-type': 'application/x-www-form-urlencoded' });
      if (jar.size > 0) jarHeaders.set('cookie', client.cookie);
      const response = await fetch(`${app.url}${path}`, { method: 'POST', headers: jarHeaders, body: new URLSearchParams({ _csrf: client.csrfToken, ...fields }), redirect: 'manual' });
      cookiesOf(response, jar);
      return response;
    },
  };
  const session = await client.fetch('/api/session');
  client.csrfToken = ((await session.json()) as { csrfToken: string }).csrfToken;
  return client;
};

/**
 * Signs a citizen in through the real flow (code request, the outbox, verification) over the JSON API.
 * `phone` in any form libphonenumber accepts; the E.164 form is what the outbox records.
 */
export const signedInClient = async (app: RunningApp, phone: string, e164: string): Promise<TestClient & { citizenId: string }> => {
  const client = await anonymousClient(app);
  const sent = await client.fetch('/api/session/code', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ phone }) });
  if (sent.status !== 202) throw new Error(`code request failed: ${sent.status} ${await sent.text()}`);
  const code = await lastCodeSentTo(app.db.kysely, e164);
  const verified = await client.fetch('/api/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ phone, code }) });
  if (verified.status !== 200 && verified.status !== 201) throw new Error(`sign-in failed: ${verified.status} ${await verified.text()}`);
  const body = (await verified.json()) as { citizenId: string; csrfToken: string };
  client.csrfToken = body.csrfToken;
  return Object.assign(client, { citizenId: body.citizenId });
};
