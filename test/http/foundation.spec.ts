import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningApp } from '../../src/infra/compositionRoot.ts';
import { startTestApp } from '../support/testApp.ts';

describe('the app over HTTP', () => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(async () => app?.stop());

  it('answers /healthz and becomes ready once projections caught up', async () => {
    expect(await (await fetch(`${app.url}/healthz`)).json()).toEqual({ status: 'ok' });
    await app.projections.caughtUp;
    const ready = await fetch(`${app.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', checks: { database: true, projections: true } });
  });

  it('keeps an idle keep-alive connection open past Node\'s 5 s default, longer than a proxy keeps its own', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const get = () =>
      new Promise<{ reused: boolean; keepAlive: string | undefined }>((resolve, reject) => {
        const req = http.get(`${app.url}/healthz`, { agent }, (res) => {
          res.resume();
          res.on('end', () => resolve({ reused: req.reusedSocket, keepAlive: res.headers['keep-alive'] as string | undefined }));
        });
        req.on('error', reject);
      });
    try {
      expect(await get()).toEqual({ reused: false, keepAlive: 'timeout=65' });
      await new Promise((r) => setTimeout(r, 6000));
      // With the default the server would have closed the socket at 5 s and the agent dropped it.
      expect((await get()).reused).toBe(true);
    } finally {
      agent.destroy();
    }
  });

  it('renders the home page in Korean by default and in English on request, from the read model', async () => {
    await app.eventStore.append('poll-x', [{ type: 'PollCreated', data: {} }], 'no_stream');
    await app.projections.settled();
    const korean = await fetch(`${app.url}/`);
    expect(korean.status).toBe(200);
    const html = await korean.text();
    expect(html).toContain('<html lang="ko"');
    expect(html).toContain('투표 1개');
    const english = await (await fetch(`${app.url}/?lang=en`)).text();
    expect(english).toContain('<html lang="en"');
    expect(english).toContain('1 poll · ');
  });

  it('serves htmx 2 and security headers', async () => {
    const htmx = await fetch(`${app.url}/static/vendor/htmx.min.js`);
    expect(htmx.status).toBe(200);
    expect(await htmx.text()).toMatch(/version:"2\.0/);
    const home = await fetch(`${app.url}/`);
    expect(home.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(home.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('answers unknown pages with 404 as a page and unknown API paths as JSON', async () => {
    const page = await fetch(`${app.url}/no-such-page`);
    expect(page.status).toBe(404);
    expect(await page.text()).toContain('페이지를 찾을 수 없습니다');
    const api = await fetch(`${app.url}/api/no-such-thing`);
    expect(api.status).toBe(404);
    expect(await api.json()).toEqual({ error: { code: 'not-found', message: '찾을 수 없습니다.' } });
  });
});

describe('preference links', () => {
  let app: RunningApp;
  beforeAll(async () => {
    app = await startTestApp({ LEDGER_NODES: 'none' });
  });
  afterAll(async () => app?.stop());

  it('keep the rest of the query when switching language or text size', async () => {
    const html = await (await fetch(`${app.url}/?tag=parks&q=bench`)).text();
    expect(html).toContain('href="/?tag=parks&amp;q=bench&amp;lang=en"');
    expect(html).toContain('href="/?tag=parks&amp;q=bench&amp;text=large"');
  });
});
