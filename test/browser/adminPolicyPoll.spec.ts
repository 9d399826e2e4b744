import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningApp } from '../../src/infra/compositionRoot.ts';
import { hasBrowser, launchBrowser } from '../support/browser.ts';
import { signedInClient, type TestClient } from '../support/session.ts';
import { startTestApp } from '../support/testApp.ts';

/**
 * The official's journey in a real browser: a policy poll with a voter roll, a citizen outside the roll
 * refused, one on the roll voting, the official closing, publishing and posting the reflection. Korean
 * on a phone, English on a desktop. axe-core checks every admin page on the way. With SCREENSHOTS=1 the
 * admin pages are written to docs/screenshots/admin-*.png.
 */
const axePath = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
const VIEWPORTS = { phone: { width: 390, height: 844 }, desktop: { width: 1280, height: 900 } } as const;
const toKst = (ms: number) => new Date(ms + 9 * 3_600_000).toISOString().slice(0, 16);

const TEXT = {
  ko: { create: '초안 만들기', addOption: '답변 추가', roll: '선거인 명부', upload: '명부 올리기', schedule: '예약하기', open: '지금 시작', close: '조기 종료', publish: '결과 공개', post: '반영 결과 게시', vote: '투표하기', yes: '찬성', no: '반대', hold: '보류' },
  en: { create: 'Create draft', addOption: 'Add an answer', roll: 'Voter roll', upload: 'Upload', schedule: 'Schedule', open: 'Open now', close: 'Close early', publish: 'Publish the result', post: 'Post the reflection', vote: 'Vote', yes: 'Yes', no: 'No', hold: 'Later' },
} as const;

/** Serious and critical axe violations on the page, as "rule: target" lines (empty is the goal). */
const axeViolations = async (page: Page): Promise<string[]> => {
  await page.addScriptTag({ path: axePath });
  const result = await page.evaluate(async () => (globalThis as any).axe.run(document, { resultTypes: ['violations'] }));
  return (result.violations as Array<{ id: string; impact: string; nodes: Array<{ target: string[] }> }>)
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
};

describe.skipIf(!hasBrowser)('an official runs a policy poll with a voter roll, in a browser', () => {
  let app: RunningApp;
  let browser: Browser;
  let orgId: string;
  let phoneSeq = 0;

  beforeAll(async () => {
    app = await startTestApp();
    browser = await launchBrowser();
    orgId = await app.identity.createOrganisation({ name: '서울시 자치행정과', kind: 'department', by: 'test' });
  });
  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });

  /** A browser context signed in as the client's session (the same cookies the sign-in flow sets). */
  const contextFor = async (client: TestClient, lang: 'ko' | 'en', viewport: { width: number; height: number }, javaScriptEnabled = true): Promise<BrowserContext> => {
    const context = await browser.newContext({ viewport, locale: lang === 'ko' ? 'ko-KR' : 'en-US', bypassCSP: true, javaScriptEnabled });
    const cookies = client.cookie.split('; ').map((pair) => {
      const eq = pair.indexOf('=');
      return { name: pair.slice(0, eq), value: pair.slice(eq + 1), url: app.url };
    });
    await context.addCookies([...cookies, { name: 'lang', value: lang, url: app.url }]);
    return context;
  };

  const newPhone = () => {
    phoneSeq++;
    const digits = String(6000_0000 + phoneSeq + Math.floor(Math.random() * 1000) * 100);
    return { phone: `010-${digits.slice(0, 4)}-${digits.slice(4)}`, e164: `+8210${digits}` };
  };

  const journey = async (lang: 'ko' | 'en', viewportName: keyof typeof VIEWPORTS) => {
    const tx = TEXT[lang];
    const officialPhone = newPhone();
    const onRoll = newPhone();
    const offRoll = newPhone();
    await app.identity.issueOfficial({ phone: officialPhone.phone, orgId, by: 'test' });
    await app.projections.settled();
    const official = await contextFor(await signedInClient(app, officialPhone.phone, officialPhone.e164), lang, VIEWPORTS[viewportName]);
    const page = await official.newPage();
    const shots = process.env.SCREENSHOTS === '1';
    const shot = async (name: string) => {
      if (!shots) return;
      mkdirSync('docs/screenshots', { recursive: true });
      await page.screenshot({ path: `docs/screenshots/admin-${name}-${lang}.png`, fullPage: true });
    };
    const check = async (where: string) => expect(await axeViolations(page), `${where} (${lang}, ${viewportName})`).toEqual([]);

    await page.goto(`${app.url}/admin/polls/new?kind=policy`);
    await check('new poll form');
    const title = lang === 'ko' ? `광장 야간 개방 ${viewportName}` : `Open the square at night ${viewportName}`;
    await page.locator('#f-title').fill(title);
    await page.locator('#f-policy-mode').selectOption('reference');
    await page.locator('#f-policy-reflectionPercent').fill('60');
    await page.locator('#f-questions-0-text').fill(lang === 'ko' ? '야간 개방에 찬성하십니까?' : 'Do you agree?');
    await page.locator('#f-questions-0-options-0-label').fill(tx.yes);
    await page.locator('#f-questions-0-options-1-label').fill(tx.no);
    // The form grows in place (htmx) and keeps what was typed.
    await page.getByRole('button', { name: tx.addOption }).click();
    await page.locator('#f-questions-0-options-2-label').waitFor();
    await expect(page.locator('#f-title').inputValue()).resolves.toBe(title);
    await page.locator('#f-questions-0-options-2-label').fill(tx.hold);
    await page.locator('#f-settings-opensAt').fill(toKst(Date.now() + 3_600_000));
    await page.locator('#f-settings-closesAt').fill(toKst(Date.now() + 86_400_000));
    await page.getByLabel(lang === 'ko' ? '선거인 명부에 있는 사람만 투표' : 'Only people on the voter roll may vote').check();
    await shot('poll-form');
    await page.getByRole('button', { name: tx.create }).first().click();
    await page.waitForURL(/\/admin\/polls\/[^/]+\?done=created$/);
    const pollId = /\/admin\/polls\/([^/?]+)/.exec(page.url())![1]!;
    await check('poll page (draft)');

    await page.getByRole('link', { name: tx.roll }).click();
    await page.waitForURL(/\/roll$/);
    await page.locator('#roll-csv').fill(`phone\n${onRoll.phone}\nnot-a-number\n`);
    await page.getByRole('button', { name: tx.upload }).click();
    await page.locator('#roll-report').waitFor();
    await expect(page.locator('#roll-report').textContent()).resolves.toMatch(lang === 'ko' ? /추가: 1명[\s\S]*거부: 1줄/ : /Added: 1[\s\S]*Rejected: 1 line\b/);
    await check('voter roll report');
    await shot('roll-report');

    await page.goto(`${app.url}/admin/polls/${pollId}`);
    await page.getByRole('button', { name: tx.schedule }).click();
    await page.waitForURL(/done=scheduled/);
    await page.getByRole('button', { name: tx.open }).click();
    await page.waitForURL(/done=opened/);

    // Two citizens: one off the roll (refused with a reason), one on it (votes). Their pages are the citizen
    // site's; they vote without JavaScript here, the path every browser has.
    const vote = async (who: { phone: string; e164: string }) => {
      const context = await contextFor(await signedInClient(app, who.phone, who.e164), lang, VIEWPORTS[viewportName], false);
      const citizenPage = await context.newPage();
      await citizenPage.goto(`${app.url}/polls/${pollId}`);
      await citizenPage.getByLabel(tx.yes, { exact: true }).check();
      await citizenPage.getByRole('button', { name: tx.vote }).click();
      await citizenPage.waitForLoadState('load');
      const refusal = (await citizenPage.locator('#vote-error').count()) > 0 ? await citizenPage.locator('#vote-error').textContent() : null;
      const result = { url: citizenPage.url(), refusal, text: (await citizenPage.locator('main').textContent()) ?? '' };
      await context.close();
      return result;
    };
    const refused = await vote(offRoll);
    expect(refused.url).not.toMatch(/\/voted/);
    expect(refused.refusal).toMatch(lang === 'ko' ? /명부/ : /roll/i);
    const accepted = await vote(onRoll);
    expect(accepted.url, accepted.text.replace(/\s+/g, " ").slice(0, 600)).toMatch(/\/voted/);

    await page.reload();
    await expect(page.locator('#turnout').textContent()).resolves.toMatch(lang === 'ko' ? /1명 참여 \/ 1명/ : /1 voted of 1/);
    await check('poll page (open, live turnout)');
    await shot('poll-open');
    await page.getByRole('button', { name: tx.close }).click();
    await page.waitForURL(/done=closed/);
    await page.getByRole('button', { name: tx.publish }).click();
    await page.waitForURL(/done=published/);

    await page.locator('#r-text').fill(lang === 'ko' ? '여름 동안 금요일 야간 개방' : 'Open on Friday nights over the summer');
    await page.locator('#r-links').fill('https://example.org/square');
    await page.locator('#r-reflectedPercent').fill('60');
    await page.locator('#r-status').fill(lang === 'ko' ? '반영 중' : 'In progress');
    await page.getByRole('button', { name: tx.post }).click();
    await page.waitForURL(/done=reflected/);
    await check('poll page (reflected)');
    await shot('poll-reflected');

    await page.goto(`${app.url}/admin`);
    await check('poll list');
    await shot('polls');
    await official.close();

    const row = await app.polls.get(pollId);
    expect(row?.status).toBe('Reflected');
    expect(row?.ballots).toBe(1);
    expect(row?.reflection).toMatchObject({ reflectedPercent: 60, links: ['https://example.org/square'] });
  };

  it('in Korean on a phone', () => journey('ko', 'phone'));
  it('in English on a desktop', () => journey('en', 'desktop'));
});
