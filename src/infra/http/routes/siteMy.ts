import Router from '@koa/router';
import type { Middleware } from 'koa';
import type { MyVoteRow, PollRow } from '../../../app/projections/polls.ts';
import { renderPage } from '../views.ts';
import { cardOf, formatInstant, globalsOf, userOf, type VerificationLookup } from './siteViews.ts';

export interface SiteMyDeps {
  requireCitizen: Middleware;
  now: () => string;
  myVotes: (citizenId: string) => Promise<Array<MyVoteRow & { poll: PollRow | null }>>;
  createdPolls: (citizenId: string) => Promise<PollRow[]>;
  verifications: VerificationLookup;
}

/**
 * GET /my: polls I voted in (tracker code and receipt link each), polls I created, and notifications:
 * the policy reflection updates of polls I voted in, newest first.
 */
export const siteMyRoutes = (deps: SiteMyDeps): Router => {
  const router = new Router();
  router.get('/my', deps.requireCitizen, async (ctx) => {
    const { t, lang } = globalsOf(ctx);
    const user = userOf(ctx)!;
    const now = deps.now();
    const [votes, created] = await Promise.all([deps.myVotes(user.id), deps.createdPolls(user.id)]);
    const polls = [...votes.map((v) => v.poll).filter((p): p is PollRow => p !== null), ...created];
    const verifications = await deps.verifications([...new Set(polls.map((p) => p.pollId))]);
    const c = { now, t, lang, hot: new Set<string>(), recommended: new Set<string>(), voted: new Set(votes.map((v) => v.pollId)), verifications };
    const notifications = votes
      .filter((v): v is typeof v & { poll: PollRow } => v.poll?.reflection != null)
      .sort((a, b) => b.poll.reflection!.updatedAt.localeCompare(a.poll.reflection!.updatedAt))
      .map(({ poll }) => ({
        href: `/polls/${encodeURIComponent(poll.pollId)}`,
        text: t('site.my.reflectionUpdate', { title: poll.title, at: formatInstant(poll.reflection!.updatedAt, lang), status: poll.reflection!.status, percent: poll.reflection!.reflectedPercent }),
      }));
    renderPage(ctx, 'pages/my', {
      title: t('site.my.title'),
      notifications,
      votes: votes.map((v) => ({
        title: v.poll?.title ?? v.pollId,
        href: `/polls/${encodeURIComponent(v.pollId)}`,
        tracker: v.tracker,
        receiptHref: `/receipts/${encodeURIComponent(v.tracker)}`,
        castAt: t('site.my.castAt', { at: formatInstant(v.castAt, lang) }),
        status: v.poll ? t(`site.status.${v.poll.status}`) : '',
      })),
      created: created.map((p) => ({ ...cardOf(p, c), status: t(`site.status.${p.status}`) })),
    });
  });
  return router;
};
