import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type { CastBallotInput, CastBallotResult } from '../../../app/polls/castBallot.ts';
import type { CommentRow, PollRow } from '../../../app/projections/polls.ts';
import type { BallotSelections } from '../../../domain/pollDefinition.ts';
import { renderFragment, renderPage } from '../views.ts';
import type { PollResultsView } from '../../../app/polls/pollResults.ts';
import { budgetView, reflectionView, choiceField, commentsView, freeTextField, onSiteView, pollHeadView, questionsView, resultsView, type Env } from './sitePollView.ts';
import { portalHref, formField, formFields, globalsOf, isClosedAt, isOpenAt, refusalOf, userOf, wantsFragment, type VerificationLookup } from './siteViews.ts';

export interface SitePollDeps {
  requireCitizen: Middleware;
  now: () => string;
  getPoll: (pollId: string) => Promise<PollRow | null>;
  results: (poll: PollRow) => Promise<PollResultsView>;
  castBallot: (input: CastBallotInput) => Promise<CastBallotResult>;
  hotPollIds: (now: string) => Promise<Set<string>>;
  votedPollIds: (citizenId: string, pollIds: string[]) => Promise<Set<string>>;
  /** The tracker of the citizen's counted ballot in the poll (for "already voted: see your receipt"). */
  myTracker: (citizenId: string, pollId: string) => Promise<string | null>;
  listComments: (pollId: string) => Promise<CommentRow[]>;
  postComment: (input: { pollId: string; authorId: string; text: string }) => Promise<void>;
  verifications: VerificationLookup;
}

interface Attempt {
  selections?: BallotSelections;
  error?: string;
  commentError?: string;
  commentText?: string;
  status?: number;
}

/** The running total a refused budget voter's kept choices add up to (0 on a fresh form). */
const budgetSumOf = (poll: PollRow, selected: BallotSelections | null): number => {
  const question = poll.definition.questions[0];
  const chosen = new Set(question ? selected?.selections[question.id] ?? [] : []);
  return question ? question.options.filter((o) => chosen.has(o.id)).reduce((sum, o) => sum + (o.cost ?? 0), 0) : 0;
};

/** Tracker codes are Crockford base32 groups (XXXX-XXXX-XXXX); anything else is not echoed back. */
const TRACKER = /^[0-9A-Z]{4}(-[0-9A-Z]{4}){2,3}$/;

const selectionsFrom = (ctx: Context, poll: PollRow): BallotSelections => {
  const selections: Record<string, string[]> = {};
  const freeText: Record<string, string> = {};
  for (const q of poll.definition.questions) {
    selections[q.id] = formFields(ctx, choiceField(q.id));
    const text = formField(ctx, freeTextField(q.id)).trim();
    if (text && q.allowFreeText) freeText[q.id] = text;
  }
  return Object.keys(freeText).length ? { selections, freeText } : { selections };
};

const locationFrom = (ctx: Context): { latitude: number; longitude: number } | undefined => {
  const latitude = Number.parseFloat(formField(ctx, 'latitude'));
  const longitude = Number.parseFloat(formField(ctx, 'longitude'));
  return Number.isFinite(latitude) && Number.isFinite(longitude) ? { latitude, longitude } : undefined;
};

/** The poll page: question(s), the form for its kind, live results, comments; votes and comments POST here. */
export const sitePollRoutes = (deps: SitePollDeps): Router => {
  const router = new Router();
  const mustFind = async (ctx: Context): Promise<PollRow> => {
    const poll = await deps.getPoll(String(ctx.params.pollId));
    if (!poll || poll.status === 'Draft') ctx.throw(404, globalsOf(ctx).t('site.error.poll.not-found'));
    return poll;
  };

  // Fragments every voter sees alike (the question form, the results chart) are rendered once per poll
  // row and language: getPoll hands out one row object per projection checkpoint, so the next batch
  // brings a new row and new fragments. Rendered without page globals (renderFragment), they cannot
  // carry anyone's session; a refused voter's form keeps their choices and is never shared.
  const fragments = new WeakMap<PollRow, Map<string, string>>();
  const shared = (poll: PollRow, key: string, render: () => string): string => {
    let byKey = fragments.get(poll);
    if (!byKey) fragments.set(poll, (byKey = new Map()));
    let html = byKey.get(key);
    if (html === undefined) {
      html = render();
      byKey.set(key, html);
      if (byKey.size > 64) byKey.delete(byKey.keys().next().value!);
    }
    return html;
  };
  const questionsHtml = (ctx: Context, poll: PollRow, selected: BallotSelections | null, district: string | null, env: Env) => {
    const render = () => renderFragment(ctx, 'partials/pollQuestions', { questions: questionsView(poll, selected, district, env), kind: poll.kind, t: env.t });
    return selected ? render() : shared(poll, `questions|${env.lang}|${district ?? ''}`, render);
  };
  const resultsHtml = (ctx: Context, poll: PollRow, results: PollResultsView, env: Env) => {
    const clock = `${isOpenAt(poll, env.now)}|${isClosedAt(poll, env.now)}`;
    const key = `results|${env.lang}|${clock}|${results.visible}|${results.final}|${results.ballots}|${JSON.stringify(results.counts)}|${results.funded ?? ''}`;
    return shared(poll, key, () => renderFragment(ctx, 'partials/results', { results: resultsView(poll, results, env), t: env.t }));
  };

  const showPoll = async (ctx: Context, poll: PollRow, attempt: Attempt = {}) => {
    const { t, lang, portalUrl } = globalsOf(ctx);
    const now = deps.now();
    const env = { now, t, lang };
    const user = userOf(ctx);
    const district = typeof ctx.query.district === 'string' ? ctx.query.district : null;
    const [hot, voted, tracker, verifications, results, comments] = await Promise.all([
      deps.hotPollIds(now),
      user ? deps.votedPollIds(user.id, [poll.pollId]) : Promise.resolve(new Set<string>()),
      user ? deps.myTracker(user.id, poll.pollId) : Promise.resolve(null),
      deps.verifications([poll.pollId]),
      deps.results(poll),
      deps.listComments(poll.pollId),
    ]);
    const head = pollHeadView(poll, { hot: hot.has(poll.pollId), voted: voted.has(poll.pollId), verification: verifications.get(poll.pollId)?.status }, { ...env, portalUrl });
    const selected = attempt.selections ?? null;
    renderPage(ctx, 'pages/poll', {
      title: poll.title,
      poll: head,
      questionsHtml: head.state === 'open' ? questionsHtml(ctx, poll, selected, district, env) : '',
      questions: head.state === 'notOpen' ? questionsView(poll, null, district, env) : [],
      budgetSum: budgetSumOf(poll, selected),
      budget: budgetView(poll, district, env),
      onSite: onSiteView(poll, env),
      resultsHtml: resultsHtml(ctx, poll, results, env),
      comments: commentsView(comments, env),
      signedIn: user !== null,
      voted: voted.has(poll.pollId),
      receiptHref: tracker ? `/receipts/${encodeURIComponent(tracker)}` : null,
      reflection: reflectionView(poll, env),
      error: attempt.error ?? null,
      commentError: attempt.commentError ?? null,
      commentText: attempt.commentText ?? '',
      signInHref: `/signin?next=${encodeURIComponent(`/polls/${poll.pollId}`)}`,
    }, { status: attempt.status });
  };

  router.get('/polls/:pollId', async (ctx) => showPoll(ctx, await mustFind(ctx)));

  router.get('/polls/:pollId/results', async (ctx) => {
    const poll = await mustFind(ctx);
    if (!wantsFragment(ctx, `results-${poll.pollId}`)) return ctx.redirect(`/polls/${encodeURIComponent(poll.pollId)}#results`);
    const { t, lang } = globalsOf(ctx);
    const html = resultsHtml(ctx, poll, await deps.results(poll), { now: deps.now(), t, lang });
    ctx.vary('HX-Request');
    ctx.type = 'html';
    ctx.body = html;
  });

  router.post('/polls/:pollId/vote', deps.requireCitizen, async (ctx) => {
    const poll = await mustFind(ctx);
    const selections = selectionsFrom(ctx, poll);
    const location = locationFrom(ctx);
    try {
      const cast = await deps.castBallot({ pollId: poll.pollId, citizenId: userOf(ctx)!.id, selections, ...(location ? { location } : {}) });
      ctx.status = 303;
      ctx.redirect(`/polls/${encodeURIComponent(poll.pollId)}/voted?tracker=${encodeURIComponent(cast.tracker)}`);
    } catch (error) {
      const refusal = refusalOf(error, globalsOf(ctx).t);
      if (!refusal) throw error;
      await showPoll(ctx, poll, { selections, error: refusal.message, status: refusal.status });
    }
  });

  router.get('/polls/:pollId/voted', async (ctx) => {
    const poll = await mustFind(ctx);
    const tracker = typeof ctx.query.tracker === 'string' && TRACKER.test(ctx.query.tracker) ? ctx.query.tracker : null;
    const { t, lang, portalUrl } = globalsOf(ctx);
    renderPage(ctx, 'pages/voted', {
      title: t('site.voted.title'),
      poll: { pollId: poll.pollId, title: poll.title, href: `/polls/${encodeURIComponent(poll.pollId)}` },
      tracker,
      receiptHref: tracker ? `/receipts/${encodeURIComponent(tracker)}` : null,
      portalHref: tracker ? portalHref(portalUrl, lang, { tracker }) : null,
    });
  });

  router.post('/polls/:pollId/comments', deps.requireCitizen, async (ctx) => {
    const poll = await mustFind(ctx);
    const text = formField(ctx, 'text');
    try {
      await deps.postComment({ pollId: poll.pollId, authorId: userOf(ctx)!.id, text });
      ctx.status = 303;
      ctx.redirect(`/polls/${encodeURIComponent(poll.pollId)}#comments`);
    } catch (error) {
      const refusal = refusalOf(error, globalsOf(ctx).t);
      if (!refusal) throw error;
      await showPoll(ctx, poll, { commentError: refusal.message, commentText: text, status: refusal.status });
    }
  });

  return router;
};
