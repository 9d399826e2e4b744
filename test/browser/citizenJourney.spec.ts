import { AxeBuilder } from '@axe-core/playwright';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningApp } from '../../src/infra/compositionRoot.ts';
import { lastCodeSentTo } from '../../src/infra/sms/outbox.ts';
import { hasBrowser, launchBrowser } from '../support/browser.ts';
import { signedInClient } from '../support/session.ts';
import { startTestApp } from '../support/testApp.ts';
import { budgetPoll, closeAndReflect, generalPoll, openPoll, policyPoll, surveyPoll, vsPoll } from '../http/siteFixtures.ts';

const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 900 };
const TRACKER = /^[0-9A-Z]{4}(-[0-9A-Z]{4}){2,3}$/;

/** Serious and critical axe-core violations of the page as it is now (rule id and the first offending node). */
const seriousViolations = async (page: Page) => {
  const { violations } = await new AxeBuilder({ page }).analyze();
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.nodes[0]?.html ?? ''}`);
};

/** Signs in through the real form: number, the code from the SMS outbox, back to `next`. */
const signIn = async (page: Page, app: RunningApp, next: string, phone: string, e164: string) => {
  await page.goto(`${app.url}/signin?next=${encodeURIComponent(next)}`);
  await page.locator('input[name="phone"]').fill(phone);
  await page.locator('form button[type="submit"]').click();
  await page.waitForURL(/\/signin\/code$/);
  await page.locator('input[name="code"]').fill((await lastCodeSentTo(app.db.kysely, e164))!);
  await page.locator('form button[type="submit"]').click();
  await page.waitForURL((url) => url.pathname === next);
};

/** Submits the vote form and returns the tracker shown on the confirmation. */
const submitVote = async (page: Page, label: RegExp) => {
  await page.getByRole('button', { name: label }).click();
  await page.waitForURL(/\/voted\?tracker=/);
  return (await page.locator('#tracker').textContent())?.trim() ?? '';
};

describe.skipIf(!hasBrowser)('a citizen votes in every kind of poll in a browser', () => {
  let app: RunningApp;
  let browser: Browser;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    [app, browser] = await Promise.all([startTestApp(), launchBrowser()]);
    ids.general = await openPoll(app, generalPoll({ title: '벤치를 놓을 공원', tags: ['parks'] }));
    ids.vs = await openPoll(app, vsPoll());
    ids.survey = await openPoll(app, surveyPoll());
    ids.budget = await openPoll(app, budgetPoll());
    ids.policy = await openPoll(app, policyPoll());
    await closeAndReflect(app, ids.policy!);
  });
  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });

  it('on a phone, in Korean: signs in, votes in a general, VS, survey and budget poll, sees trackers and the live result; no serious axe violation', async () => {
    const context = await browser.newContext({ viewport: PHONE, locale: 'ko-KR' });
    const page = await context.newPage();
    const problems: Record<string, string[]> = {};
    const audit = async (name: string) => void (problems[name] = await seriousViolations(page));

    await page.goto(`${app.url}/`);
    await audit('home');
    await page.getByRole('link', { name: '벤치를 놓을 공원' }).click();
    await page.waitForURL(new RegExp(`/polls/${ids.general}$`));
    await audit('poll general (visitor)');
    await page.getByRole('link', { name: '투표하려면 로그인하세요' }).click();
    await page.waitForURL(/\/signin/);
    await signIn(page, app, `/polls/${ids.general}`, '010-5200-0001', '+821052000001');

    // General poll: a radio button per answer.
    await page.getByLabel('Namsan').check();
    await audit('poll general');
    expect(await submitVote(page, /^투표하기$/)).toMatch(TRACKER);
    expect(await page.getByRole('link', { name: '영수증 보기' }).getAttribute('href')).toMatch(/^\/receipts\//);
    await audit('voted');

    // The live result refreshes by itself (htmx every 4 s) when someone else votes.
    await page.goto(`${app.url}/polls/${ids.general}`);
    expect(await page.locator('.results').textContent()).toContain('총 1표');
    const other = await signedInClient(app, '010-5200-0009', '+821052000009');
    expect((await other.postForm(`/polls/${ids.general}/vote`, { choice__q1: 'b' })).status).toBe(303);
    await page.waitForFunction(() => document.querySelector('.results')?.textContent?.includes('총 2표'), null, { timeout: 15_000 });

    // VS poll: two sides; the label is the target.
    await page.goto(`${app.url}/polls/${ids.vs}`);
    await audit('poll vs');
    await page.locator('.vs label', { hasText: '짬뽕' }).click();
    expect(await submitVote(page, /^투표하기$/)).toMatch(TRACKER);

    // Survey: several questions and free text.
    await page.goto(`${app.url}/polls/${ids.survey}`);
    await audit('poll survey');
    await page.getByLabel('1~3번').check();
    await page.getByLabel('야간 개관').check();
    await page.getByLabel('열람석').check();
    await page.getByLabel('직접 입력 (선택)').fill('주차장도 넓혀 주세요');
    expect(await submitVote(page, /^투표하기$/)).toMatch(TRACKER);

    // Budget: a running total against the budget, a district filter that keeps choices.
    await page.goto(`${app.url}/polls/${ids.budget}`);
    await audit('poll budget');
    expect(await page.locator('[data-district-submit]').isHidden()).toBe(true);
    await page.getByLabel(/놀이터 그늘막/).check();
    await page.getByLabel(/하천 산책로 조명/).check();
    expect(await page.locator('#budget-sum').textContent()).toBe('100,000,000');
    expect(await page.locator('#budget-over').isHidden()).toBe(true);
    await page.getByLabel(/자전거 거치대/).check();
    expect(await page.locator('#budget-over').isVisible()).toBe(true);
    await page.getByLabel(/자전거 거치대/).uncheck();
    await page.getByLabel('지역으로 거르기').selectOption('성동구');
    expect(await page.getByLabel(/놀이터 그늘막/).isHidden()).toBe(true);
    expect(await submitVote(page, /^투표하기$/)).toMatch(TRACKER);
    const counts = await app.polls.queries.liveCounts(app.db.kysely, ids.budget!);
    expect(counts.counts['projects']).toEqual({ p1: 1, p3: 1 });

    await page.goto(`${app.url}/my`);
    await audit('my');
    expect(await page.locator('.my-votes .tracker').count()).toBe(4);
    await page.goto(`${app.url}/results`);
    await audit('results');
    expect(await page.locator('.reflection').first().textContent()).toContain('반영률 80%');
    await page.goto(`${app.url}/polls/new`);
    await audit('create');

    expect(problems).toEqual(Object.fromEntries(Object.keys(problems).map((k) => [k, []])));
    await context.close();
  });

  it('on a desktop, in English: creates a VS poll, votes in it with the large-text option, and sees the receipt', async () => {
    const context = await browser.newContext({ viewport: DESKTOP, locale: 'en-GB' });
    const page = await context.newPage();
    await page.goto(`${app.url}/?lang=en&text=large`);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Hot issues');
    expect(await seriousViolations(page)).toEqual([]);
    await signIn(page, app, '/polls/new', '010-5200-0002', '+821052000002');
    await page.getByLabel('VS poll (one of two)').check();
    await page.getByLabel('Question', { exact: true }).fill('Mountains or sea?');
    await page.getByLabel(/^Answers/).fill('Mountains\nSea');
    await page.getByLabel('Closing time').fill(new Date(Date.now() + 86_400_000 + 9 * 3_600_000).toISOString().slice(0, 16));
    expect(await seriousViolations(page)).toEqual([]);
    await page.getByRole('button', { name: 'Create poll' }).click();
    await page.waitForURL(/\/polls\/[0-9a-f-]{36}$/);
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Mountains or sea?');
    await page.locator('.vs label', { hasText: 'Sea' }).click();
    expect(await seriousViolations(page)).toEqual([]);
    const tracker = await submitVote(page, /^Vote$/);
    expect(tracker).toMatch(TRACKER);
    expect(await page.getByRole('link', { name: 'Check on the verification portal' }).getAttribute('href')).toContain(`?tracker=${tracker}`);
    await page.getByRole('link', { name: 'Back to the poll' }).click();
    await page.waitForFunction(() => document.querySelector('.results')?.textContent?.includes('1 ballot in total'));
    await context.close();
  });
});
