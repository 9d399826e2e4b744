/**
 * Screenshots of the citizen site's main pages, Korean and English, phone and desktop, into
 * docs/screenshots/. Run by hand: `npx tsx test/browser/screenshots.ts`. Uses the real app on a fresh
 * database with a few polls of every kind, a signed-in citizen and a reflected policy poll.
 */
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { lastCodeSentTo } from '../../src/infra/sms/outbox.ts';
import { launchBrowser } from '../support/browser.ts';
import { signedInClient } from '../support/session.ts';
import { startTestApp } from '../support/testApp.ts';
import { budgetPoll, closeAndReflect, generalPoll, official, openPoll, policyPoll, surveyPoll, vsPoll } from '../http/siteFixtures.ts';

const out = fileURLToPath(new URL('../../docs/screenshots/', import.meta.url));
mkdirSync(out, { recursive: true });

const app = await startTestApp();
const browser = await launchBrowser();
try {
  const ids = {
    general: await openPoll(app, generalPoll({ title: '새 벤치를 놓을 공원은?', description: '구청이 올해 벤치 40개를 새로 놓습니다. 어디가 가장 필요할까요?', tags: ['parks'] })),
    vs: await openPoll(app, vsPoll()),
    survey: await openPoll(app, surveyPoll()),
    budget: await openPoll(app, budgetPoll()),
    policy: await openPoll(app, policyPoll()),
  };
  // Some votes so the cards, the hot badge and the charts have something to show.
  for (let i = 0; i < 6; i++) {
    const voter = await signedInClient(app, `010-5300-00${String(i).padStart(2, '0')}`, `+82105300${String(i).padStart(4, '0')}`);
    await voter.postForm(`/polls/${ids.vs}/vote`, { choice__q1: i % 3 === 0 ? 'left' : 'right' });
    await voter.postForm(`/polls/${ids.general}/vote`, { choice__q1: ['a', 'b', 'c'][i % 3]! });
    await voter.postForm(`/polls/${ids.policy}/vote`, { choice__q1: i % 4 === 0 ? 'no' : 'yes' });
  }
  await closeAndReflect(app, ids.policy);
  // A closed Equal Shares budget where the most approved project was not funded, to show the explanation.
  const budgetResults = await openPoll(app, {
    ...budgetPoll(), title: '2027 주민참여예산 결과',
    questions: [{ id: 'projects', text: '찬성하는 사업을 고르세요', minChoices: 0, maxChoices: 3, options: [
      { id: 'big', label: '구민 체육관 리모델링', cost: 80_000_000 }, { id: 'small', label: '놀이터 그늘막', cost: 30_000_000 }, { id: 'light', label: '산책로 조명', cost: 20_000_000 },
    ] }],
    budget: { total: 100_000_000, currency: 'KRW', rule: 'equal-shares' },
  });
  for (let i = 0; i < 5; i++) {
    const voter = await signedInClient(app, `010-5300-02${String(i).padStart(2, '0')}`, `+82105300${String(200 + i).padStart(4, '0')}`);
    await voter.postForm(`/polls/${budgetResults}/vote`, { choice__projects: i < 3 ? 'big' : 'small' });
  }
  await app.polls.commands.close(budgetResults, official('official-1'));
  await app.polls.commands.publishResult(budgetResults, official('official-1'));
  await app.projections.settled();

  const shots: Array<{ name: string; path: string }> = [
    { name: 'home', path: '/' },
    { name: 'poll-general', path: `/polls/${ids.general}` },
    { name: 'poll-vs', path: `/polls/${ids.vs}` },
    { name: 'poll-survey', path: `/polls/${ids.survey}` },
    { name: 'poll-budget', path: `/polls/${ids.budget}` },
    { name: 'results', path: '/results' },
    { name: 'poll-budget-results', path: `/polls/${budgetResults}` },
    { name: 'poll-reflected', path: `/polls/${ids.policy}#reflection` },
    { name: 'my', path: '/my' },
    { name: 'create', path: '/polls/new' },
  ];
  const viewports = { phone: { width: 390, height: 844 }, desktop: { width: 1280, height: 900 } };
  for (const lang of ['ko', 'en'] as const) {
    for (const [device, viewport] of Object.entries(viewports)) {
      const context = await browser.newContext({ viewport, deviceScaleFactor: 1, locale: lang === 'ko' ? 'ko-KR' : 'en-GB' });
      const page = await context.newPage();
      await page.goto(`${app.url}/signin?next=%2F&lang=${lang}`);
      const phone = `010-5300-01${lang === 'ko' ? '1' : '2'}${device === 'phone' ? '1' : '2'}`;
      await page.locator('input[name="phone"]').fill(phone);
      await page.locator('form button[type="submit"]').click();
      await page.waitForURL(/\/signin\/code$/);
      await page.locator('input[name="code"]').fill((await lastCodeSentTo(app.db.kysely, `+82${phone.replaceAll('-', '').slice(1)}`))!);
      await page.locator('form button[type="submit"]').click();
      await page.waitForURL(`${app.url}/`);
      for (const shot of shots) {
        await page.goto(`${app.url}${shot.path}`);
        if (shot.name === 'poll-budget') await page.locator('input[value="p1"]').check();
        await page.screenshot({ path: `${out}${shot.name}-${lang}-${device}.png`, fullPage: true });
      }
      // The confirmation after voting, with the tracker.
      await page.goto(`${app.url}/polls/${ids.survey}`);
      await page.locator('input[value="few"]').check();
      await page.locator('input[value="hours"]').check();
      await page.locator('form.vote-form button[type="submit"]').click();
      await page.waitForURL(/\/voted\?tracker=/);
      await page.screenshot({ path: `${out}voted-${lang}-${device}.png`, fullPage: true });
      await context.close();
    }
  }
  console.log(`screenshots written to ${out}`);
} finally {
  await browser.close();
  await app.stop();
}
