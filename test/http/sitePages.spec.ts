import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import type { RunningApp } from '../../src/infra/compositionRoot.ts';
import { startTestApp } from '../support/testApp.ts';
import { anonymousClient, signedInClient, type TestClient } from '../support/session.ts';
import { budgetPoll, citizen, closeAndReflect, generalPoll, openPoll, policyPoll, surveyPoll, vsPoll } from './siteFixtures.ts';

const page = async (app: RunningApp, path: string, headers: Record<string, string> = {}) => {
  const response = await fetch(`${app.url}${path}`, { headers, redirect: 'manual' });
  return { status: response.status, html: await response.text(), headers: response.headers };
};

describe('citizen site pages over HTTP', () => {
  let app: RunningApp;
  let voter: TestClient & { citizenId: string };
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    app = await startTestApp();
    ids.general = await openPoll(app, generalPoll({ title: '벤치를 놓을 공원', tags: ['parks'] }));
    ids.vs = await openPoll(app, vsPoll());
    ids.survey = await openPoll(app, surveyPoll());
    ids.budget = await openPoll(app, budgetPoll());
    ids.policy = await openPoll(app, policyPoll());
    ids.sealed = await openPoll(app, generalPoll({ title: '봉인된 투표', tags: ['parks'] }, { resultsVisibility: 'sealed' }));
    voter = await signedInClient(app, '010-5100-0001', '+821051000001');
  });
  afterAll(async () => app?.stop());

  describe('home', () => {
    it('lists policy and citizen polls with kind, badges, time left and votes, in Korean and in English', async () => {
      const ko = await page(app, '/');
      expect(ko.status).toBe(200);
      expect(ko.html).toContain('벤치를 놓을 공원');
      expect(ko.html).toContain('공공자전거 요금 인하');
      expect(ko.html).toContain('정책 참고 30%');
      expect(ko.html).toContain('블록체인 검증 대기');
      expect(ko.html).toMatch(/분 남음|시간 남음/);
      expect(ko.html).toContain('0명 참여');
      const en = await page(app, '/?lang=en');
      expect(en.html).toContain('Policy reference 30%');
      expect(en.html).toContain('Blockchain verification pending');
    });

    it('shows the ledger verdict as a badge: completed, failed, or pending when the ledger has not spoken', async () => {
      await sql`INSERT INTO poll_verification (poll_id, status, detail, updated_at) VALUES (${ids.survey}, 'completed', '', now()), (${ids.budget}, 'failed', '', now())`.execute(app.db.kysely);
      const { html } = await page(app, '/?scope=policy');
      const card = (title: string) => html.slice(html.lastIndexOf('<article', html.indexOf(title)), html.indexOf('</article>', html.indexOf(title)));
      expect(card('도서관 이용 설문')).toContain('badge verified');
      expect(card('2027 주민참여예산')).toContain('블록체인 검증 실패');
      expect(card('공공자전거 요금 인하')).toContain('블록체인 검증 대기');
      await sql`DELETE FROM poll_verification`.execute(app.db.kysely);
    });

    it('puts the polls with votes today first with the Hot badge', async () => {
      const other = await signedInClient(app, '010-5100-0002', '+821051000002');
      const cast = await other.postForm(`/polls/${ids.vs}/vote`, { choice__q1: 'left' });
      expect(cast.status).toBe(303);
      const { html } = await page(app, '/');
      const list = html.slice(html.indexOf('id="poll-list"'));
      expect(list.indexOf('짜장면 vs 짬뽕')).toBeLessThan(list.indexOf('벤치를 놓을 공원'));
      const vsCard = list.slice(0, list.indexOf('벤치를 놓을 공원'));
      expect(vsCard).toContain('badge hot');
    });

    it('filters by kind, state, tag and search text', async () => {
      const policy = await page(app, '/?scope=policy');
      expect(policy.html).toContain('공공자전거 요금 인하');
      expect(policy.html).not.toContain('벤치를 놓을 공원');
      const general = await page(app, '/?scope=general');
      expect(general.html).not.toContain('공공자전거 요금 인하');
      expect(general.html).toContain('벤치를 놓을 공원');
      const tagged = await page(app, '/?tag=library');
      expect(tagged.html).toContain('도서관 이용 설문');
      expect(tagged.html).not.toContain('벤치를 놓을 공원');
      const searched = await page(app, '/?q=' + encodeURIComponent('주민참여'));
      expect(searched.html).toContain('2027 주민참여예산');
      expect(searched.html).not.toContain('도서관 이용 설문');
      const closed = await page(app, '/?state=closed');
      expect(closed.html).toContain('조건에 맞는 투표가 없습니다');
      expect(closed.html).toContain('<option value="closed" selected>');
    });

    it('pages with a cursor: a plain "more" link, and a fragment of cards for htmx', async () => {
      for (let i = 0; i < 14; i++) await openPoll(app, generalPoll({ title: `페이지 투표 ${i}`, tags: ['paging'] }));
      const first = await page(app, '/?tag=paging');
      const more = first.html.match(/href="(\/\?tag=paging&amp;cursor=[^"]+)"/);
      expect(more).not.toBeNull();
      expect(first.html).toContain('hx-get="/?tag=paging&amp;cursor=');
      const href = more![1]!.replaceAll('&amp;', '&');
      const plain = await page(app, href);
      expect(plain.html).toContain('<html');
      expect(plain.html).toContain('페이지 투표 0');
      expect(plain.html).not.toContain('페이지 투표 13');
      const fragment = await page(app, href, { 'HX-Request': 'true', 'HX-Target': 'more-polls' });
      expect(fragment.html).not.toContain('<html');
      expect(fragment.html).toContain('페이지 투표 0');
      expect(fragment.headers.get('vary')).toMatch(/HX-Request/i);
      const boosted = await page(app, href, { 'HX-Request': 'true', 'HX-Boosted': 'true' });
      expect(boosted.html).toContain('<html');
    });

    it('shows a Recommended section to a signed-in citizen from the tags of polls they voted in', async () => {
      const fan = await signedInClient(app, '010-5100-0003', '+821051000003');
      expect((await fan.postForm(`/polls/${ids.general}/vote`, { choice__q1: 'a' })).status).toBe(303);
      const html = await (await fan.fetch('/')).text();
      const section = html.slice(html.indexOf('id="h-recommended"'), html.indexOf('id="h-all"'));
      expect(section).toContain('봉인된 투표');
      expect(section).toContain('badge recommended');
      expect(section).not.toContain('벤치를 놓을 공원');
    });
  });

  describe('poll page', () => {
    it('renders a general poll as radio buttons in a fieldset with a legend, and a sign-in link for visitors', async () => {
      const { status, html } = await page(app, `/polls/${ids.general}`);
      expect(status).toBe(200);
      expect(html).toMatch(/<fieldset class="question"[^>]*>\s*<legend>/);
      expect(html).toContain('type="radio"');
      expect(html).toContain('name="choice__q1"');
      expect(html).toContain(`/signin?next=${encodeURIComponent(`/polls/${ids.general}`)}`);
    });

    it('renders VS side by side, a survey with several questions and free text, a budget poll with costs and districts', async () => {
      const vs = await page(app, `/polls/${ids.vs}`);
      expect(vs.html).toContain('class="vs"');
      expect(vs.html).toContain('달콤한 춘장');
      const survey = await page(app, `/polls/${ids.survey}`);
      expect(survey.html).toContain('질문 2.');
      expect(survey.html).toContain('type="checkbox"');
      expect(survey.html).toContain('name="text__wants"');
      const budget = await page(app, `/polls/${ids.budget}`);
      expect(budget.html).toContain('data-budget-total="100000000"');
      expect(budget.html).toContain('data-cost="40000000"');
      expect(budget.html).toContain('<option value="성동구"');
      expect(budget.html).toContain('최대 3개 사업에 찬성할 수 있습니다');
      const filtered = await page(app, `/polls/${ids.budget}?district=${encodeURIComponent('성동구')}`);
      expect(filtered.html).toMatch(/data-district="마포구" hidden/);
      expect(filtered.html).not.toMatch(/data-district="성동구" hidden/);
    });

    it('asks for the location on on-site polls and says it can be spoofed', async () => {
      const id = await openPoll(app, generalPoll({ title: '현장 투표' }, { onSite: { latitude: 37.5665, longitude: 126.978, radiusMeters: 300, label: '서울광장' } }));
      const { html } = await page(app, `/polls/${id}`);
      expect(html).toContain('서울광장 반경 300m');
      expect(html).toContain('조작될 수 있으므로');
      expect(html).toContain('name="latitude"');
      expect(html).toContain('src="/static/js/poll.js"');
    });

    it('shows live results with htmx polling, and a sealed poll says when results appear', async () => {
      const live = await page(app, `/polls/${ids.general}`);
      expect(live.html).toContain('hx-trigger="every 4s"');
      const fragment = await page(app, `/polls/${ids.general}/results`, { 'HX-Request': 'true', 'HX-Target': `results-${ids.general}` });
      expect(fragment.status).toBe(200);
      expect(fragment.html).not.toContain('<html');
      expect(fragment.html).toContain('실시간 결과');
      expect(fragment.html).toMatch(/Namsan[\s\S]*1표 \(100%\)/);
      const plain = await page(app, `/polls/${ids.general}/results`);
      expect([302, 303]).toContain(plain.status);
      const sealed = await page(app, `/polls/${ids.sealed}`);
      expect(sealed.html).toContain('결과는 투표가 끝난 뒤');
      expect(sealed.html).not.toContain('hx-trigger="every 4s"');
    });

    it('answers 404 for an unknown poll', async () => {
      expect((await page(app, '/polls/no-such-poll')).status).toBe(404);
    });
  });

  describe('voting', () => {
    it('casts a ballot from a form, 303 to a confirmation with the tracker, receipt and portal links', async () => {
      const response = await voter.postForm(`/polls/${ids.survey}/vote`, { choice__visits: 'few', choice__wants: 'hours', text__wants: '주차장도 필요해요' });
      expect(response.status).toBe(303);
      const location = response.headers.get('location')!;
      expect(location).toMatch(new RegExp(`^/polls/${ids.survey}/voted\\?tracker=[0-9A-Z-]+$`));
      const tracker = new URL(location, app.url).searchParams.get('tracker')!;
      const html = await (await voter.fetch(location)).text();
      expect(html).toContain(tracker);
      expect(html).toContain(`href="/receipts/${tracker}"`);
      expect(html).toContain(`?tracker=${tracker}`);
    });

    it('votes in a VS poll and a budget poll (several projects)', async () => {
      expect((await voter.postForm(`/polls/${ids.vs}/vote`, { choice__q1: 'right' })).status).toBe(303);
      const body = new URLSearchParams({ _csrf: voter.csrfToken });
      body.append('choice__projects', 'p1');
      body.append('choice__projects', 'p3');
      const response = await voter.fetch(`/polls/${ids.budget}/vote`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
      expect(response.status).toBe(303);
      const results = await page(app, `/polls/${ids.budget}/results`, { 'HX-Request': 'true', 'HX-Target': `results-${ids.budget}` });
      expect(results.html).toMatch(/놀이터 그늘막[\s\S]*1표 \(100%\)/);
    });

    it('refuses a second ballot with 409 and the reason in the voter\'s language', async () => {
      const again = await voter.postForm(`/polls/${ids.vs}/vote`, { choice__q1: 'left' });
      expect(again.status).toBe(409);
      const html = await again.text();
      expect(html).toContain('이미 이 투표에 참여하셨습니다');
      expect(html).toContain('role="alert"');
      await voter.fetch('/?lang=en');
      const english = await voter.postForm(`/polls/${ids.vs}/vote`, { choice__q1: 'left' });
      expect(await english.text()).toContain('You have already voted in this poll');
      await voter.fetch('/?lang=ko');
    });

    it('refuses too many choices with 422 keeping the choices checked, outside the area with 403, and a closed poll with 409', async () => {
      const body = new URLSearchParams({ _csrf: voter.csrfToken });
      body.append('choice__q1', 'a');
      body.append('choice__q1', 'b');
      const id = await openPoll(app, generalPoll({ title: '하나만' }));
      const tooMany = await voter.fetch(`/polls/${id}/vote`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
      expect(tooMany.status).toBe(422);
      const tooManyHtml = await tooMany.text();
      expect(tooManyHtml).toContain('고를 수 있는 수보다 많이');
      expect(tooManyHtml).toMatch(/value="a" checked/);
      expect(tooManyHtml).toMatch(/value="b" checked/);
      const onSite = await openPoll(app, generalPoll({ title: '광장 투표' }, { onSite: { latitude: 37.5665, longitude: 126.978, radiusMeters: 300 } }));
      const far = await voter.postForm(`/polls/${onSite}/vote`, { choice__q1: 'a', latitude: '35.1796', longitude: '129.0756' });
      expect(far.status).toBe(403);
      expect(await far.text()).toContain('반경 밖');
      const near = await voter.postForm(`/polls/${onSite}/vote`, { choice__q1: 'a', latitude: '37.5668', longitude: '126.9782' });
      expect(near.status).toBe(303);
      const closing = await openPoll(app, generalPoll({ title: '곧 마감' }), citizen('closer'));
      await app.polls.commands.close(closing, citizen('closer'));
      await app.projections.settled();
      const late = await voter.postForm(`/polls/${closing}/vote`, { choice__q1: 'a' });
      expect(late.status).toBe(409);
      expect(await late.text()).toContain('투표가 마감되었습니다');
    });

    it('leaves no session behind for a visitor who only reads pages; the sign-in form makes one', async () => {
      const count = async () => Number((await sql<{ n: string }>`SELECT count(*)::text AS n FROM sessions`.execute(app.db.kysely)).rows[0]!.n);
      const before = await count();
      for (const path of ['/', `/polls/${ids.general}`, `/polls/${ids.budget}`, '/results']) {
        const visit = await page(app, path);
        expect(visit.status, path).toBe(200);
        expect(visit.headers.get('set-cookie'), path).toBeNull();
        expect(visit.html, path).not.toContain('name="_csrf"');
      }
      expect(await count()).toBe(before);
      const signIn = await page(app, '/signin');
      expect(signIn.html).toContain('name="_csrf"');
      expect(signIn.headers.get('set-cookie')).toContain('sid=');
    });

    it("shares the rendered question form among voters but never a voter's CSRF token or refused choices", async () => {
      const id = await openPoll(app, generalPoll({ title: '공유 조각' }));
      const other = await signedInClient(app, '010-5100-0002', '+821051000002');
      const body = new URLSearchParams({ _csrf: voter.csrfToken });
      body.append('choice__q1', 'a');
      body.append('choice__q1', 'c');
      const refused = await voter.fetch(`/polls/${id}/vote`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
      expect(refused.status).toBe(422);
      expect(await refused.text()).toMatch(/value="c" checked/);
      const [mine, theirs] = await Promise.all([voter.fetch(`/polls/${id}`), other.fetch(`/polls/${id}`)]);
      const [mineHtml, theirsHtml] = await Promise.all([mine.text(), theirs.text()]);
      expect(mineHtml).toContain(voter.csrfToken);
      expect(theirsHtml).toContain(other.csrfToken);
      expect(theirsHtml).not.toContain(voter.csrfToken);
      expect(mineHtml).not.toContain(other.csrfToken);
      expect(theirsHtml).not.toMatch(/ checked/);
      // The same form markup for both (the shared fragment), apart from their own tokens.
      const form = (html: string, token: string) => html.slice(html.indexOf('<form method="post"'), html.indexOf('</form>', html.indexOf('<form method="post"'))).replace(token, 'TOKEN');
      expect(form(mineHtml, voter.csrfToken)).toBe(form(theirsHtml, other.csrfToken));
    });

    it('sends visitors to sign in and refuses a form without the CSRF token', async () => {
      const visitor = await anonymousClient(app);
      const anonymous = await visitor.postForm(`/polls/${ids.general}/vote`, { choice__q1: 'a' });
      expect(anonymous.status).toBe(303);
      expect(anonymous.headers.get('location')).toMatch(/^\/signin/);
      const forged = await fetch(`${app.url}/polls/${ids.general}/vote`, { method: 'POST', headers: { cookie: voter.cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: 'choice__q1=a', redirect: 'manual' });
      expect(forged.status).toBe(403);
    });
  });

  describe('comments', () => {
    it('posts a comment (303), shows it, refuses an empty one with 422 and never shows hidden ones', async () => {
      const posted = await voter.postForm(`/polls/${ids.general}/comments`, { text: '벤치가 꼭 필요해요' });
      expect(posted.status).toBe(303);
      expect((await page(app, `/polls/${ids.general}`)).html).toContain('벤치가 꼭 필요해요');
      const empty = await voter.postForm(`/polls/${ids.general}/comments`, { text: '   ' });
      expect(empty.status).toBe(422);
      expect(await empty.text()).toContain('의견 내용을 확인해 주세요');
      const [comment] = await app.polls.queries.listComments(app.db.kysely, ids.general!);
      await app.eventStore.append(`comment-${comment!.commentId}`, [{ type: 'CommentHidden', data: { commentId: comment!.commentId, pollId: ids.general, hiddenBy: 'creator-1', hiddenAt: new Date().toISOString() } }], 'exists');
      await app.projections.settled();
      expect((await page(app, `/polls/${ids.general}`)).html).not.toContain('벤치가 꼭 필요해요');
    });
  });

  describe('my page and policy results', () => {
    it('lists my ballots with trackers and receipt links, polls I created, and reflection updates', async () => {
      const created = await voter.postForm('/polls/new', { kind: 'vs', title: '산 vs 바다', answers: '산\n바다', closesAt: kstLocal(2 * 86_400_000), results: 'live' });
      expect(created.status).toBe(303);
      const policyVoted = await voter.postForm(`/polls/${ids.policy}/vote`, { choice__q1: 'yes' });
      expect(policyVoted.status).toBe(303);
      await closeAndReflect(app, ids.policy!);
      const response = await voter.fetch('/my');
      expect(response.status).toBe(200);
      const html = await response.text();
      expect(html).toContain('도서관 이용 설문');
      expect(html).toMatch(/class="tracker small">[0-9A-Z-]+</);
      expect(html).toMatch(/href="\/receipts\/[0-9A-Z-]+"/);
      expect(html).toContain('산 vs 바다');
      expect(html).toContain('&quot;공공자전거 요금 인하&quot; 결과의 정책 반영 현황이');
      expect(html).toContain('시행 중 (80%)');
    });

    it('sends visitors from /my to sign in', async () => {
      const response = await page(app, '/my');
      expect([302, 303]).toContain(response.status);
      expect(response.headers.get('location')).toMatch(/^\/signin\?next=%2Fmy/);
    });

    it('shows closed policy polls with their reflection on /results', async () => {
      const { html } = await page(app, '/results');
      expect(html).toContain('공공자전거 요금 인하');
      expect(html).toContain('반영률 80%');
      expect(html).toContain('요금을 20% 내렸습니다.');
      expect(html).toContain('href="https://example.org/notice"');
      const en = await page(app, '/results?lang=en');
      expect(en.html).toContain('80% reflected');
    });
  });

  describe('creating a poll', () => {
    it('creates a general poll that opens at once, or only schedules one that starts later', async () => {
      const now = await voter.postForm('/polls/new', { kind: 'general', title: '축제 날짜', answers: '5월\n10월\n', maxChoices: '1', tags: '축제, 행사', closesAt: kstLocal(86_400_000), results: 'sealed', revote: 'on' });
      expect(now.status).toBe(303);
      const pollId = now.headers.get('location')!.split('/').pop()!;
      const poll = await app.polls.get(pollId);
      expect(poll).toMatchObject({ status: 'Open', kind: 'general', tags: ['축제', '행사'] });
      expect(poll!.definition.settings).toMatchObject({ resultsVisibility: 'sealed', allowRevote: true });
      const later = await voter.postForm('/polls/new', { kind: 'general', title: '나중에 시작', answers: 'a\nb', opensAt: kstLocal(3_600_000), closesAt: kstLocal(86_400_000), results: 'live' });
      expect(later.status).toBe(303);
      expect((await app.polls.get(later.headers.get('location')!.split('/').pop()!))?.status).toBe('Scheduled');
    });

    it('re-renders the form with 422 and the problems, keeping what was typed', async () => {
      const bad = await voter.postForm('/polls/new', { kind: 'vs', title: '셋 중 하나?', answers: '가\n나\n다', closesAt: kstLocal(86_400_000), results: 'live' });
      expect(bad.status).toBe(422);
      const html = await bad.text();
      expect(html).toContain('role="alert"');
      expect(html).toContain('value="셋 중 하나?"');
      expect((await voter.fetch('/polls/new')).status).toBe(200);
      expect((await page(app, '/polls/new')).status).toBe(303);
    });

    it('names each problem with its reason next to its field, and never flags an empty start time', async () => {
      const bad = await voter.postForm('/polls/new', { kind: 'vs', title: '', answers: '가\n나\n다', opensAt: '', closesAt: kstLocal(-3_600_000), results: 'live' });
      expect(bad.status).toBe(422);
      const html = await bad.text();
      expect(html).toContain('<a href="#c-title">질문</a>: 질문을 1~200자로 입력하세요.');
      expect(html).toContain('<p class="error-text" id="c-answers-error">VS 투표는 답이 정확히 2개입니다. 한 줄에 하나씩 입력하세요.</p>');
      expect(html).toContain('<p class="error-text" id="c-closes-error">마감 시각은 지금보다 뒤여야 합니다.</p>');
      expect(html).toMatch(/id="c-closes"[^>]*aria-invalid="true" aria-describedby="time-hint c-closes-error"/);
      expect(html).not.toContain('c-opens-error');
      expect(html).not.toMatch(/id="c-opens"[^>]*aria-invalid/);
      const en = await voter.postForm('/polls/new?lang=en', { kind: 'general', title: 'Q', answers: 'a\nb', maxChoices: '5', closesAt: kstLocal(86_400_000), results: 'live' });
      expect(await en.text()).toContain('<p class="error-text" id="c-max-error">Enter a whole number from 1 to the number of answers (2).</p>');
      await voter.fetch('/?lang=ko');
    });
  });
});

/** A `datetime-local` value in Korea's time, `ms` from now. */
const kstLocal = (ms: number) => new Date(Date.now() + ms + 9 * 3_600_000).toISOString().slice(0, 16);
