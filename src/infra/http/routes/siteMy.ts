import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type { MyVoteRow, PollRow } from '../../../app/projections/polls.ts';
import { isApiPath, renderPage, type PageGlobals } from '../views.ts';
import { cardOf, formatInstant, globalsOf, userOf, type VerificationLookup } from './siteViews.ts';

export interface SiteMyDeps {
  requireCitizen: Middleware;
  now: () => string;
  myVotes: (citizenId: string) => Promise<Array<MyVoteRow & { poll: PollRow | null }>>;
  createdPolls: (citizenId: string) => Promise<PollRow[]>;
  verifications: VerificationLookup;
}

/** The cookie holding when this browser last opened /my: notifications newer than it are unread. */
const SEEN_COOKIE = 'notes_seen';

/**
 * The header's unread mark: for a signed-in citizen's full pages (not assets, API calls or htmx
 * fragments), whether a reflection of a poll they voted in changed since this browser last opened /my.
 * Kept per browser in a cookie, not in the database: the mark is a hint, and reading /my clears it.
 */
export const notificationMark = (deps: { latestReflection: (citizenId: string) => Promise<string | null> }): Middleware => async (ctx, next) => {
  const page = ctx.state.page as PageGlobals | undefined;
  const user = ctx.state.user as { id: string } | undefined;
  const fragment = ctx.get('HX-Request') === 'true' && ctx.get('HX-Boosted') !== 'true';
  if (page && user && ctx.method === 'GET' && !fragment && !isApiPath(ctx.path) && !ctx.path.startsWith('/static/') && ctx.path !== '/my') {
    const latest = await deps.latestReflection(user.id);
    const seen = ctx.cookies.get(SEEN_COOKIE) ?? '';
    page.unreadNotifications = latest !== null && latest > seen;
  }
  await next();
};

/**
 * GET /my: polls I voted in (tracker code and receipt link each), polls I created, and notifications:
 * the policy reflection updates of polls I voted in, newest first.
 */
export const siteMyRoutes = (deps: SiteMyDeps): Router => {
  const router = new Router();
  router.get('/my', deps.requireCitizen, async (ctx) => {
    const { t, lang, portalUrl } = globalsOf(ctx);
    const user = userOf(ctx)!;
    const now = deps.now();
    const [votes, created] = await Promise.all([deps.myVotes(user.id), deps.createdPolls(user.id)]);
    const polls = [...votes.map((v) => v.poll).filter((p): p is PollRow => p !== null), ...created];
    const verifications = await deps.verifications([...new Set(polls.map((p) => p.pollId))]);
    const c = { now, t, lang, hot: new Set<string>(), recommended: new Set<string>(), voted: new Set(votes.map((v) => v.pollId)), verifications, portalUrl };
    const notifications = votes
      .filter((v): v is typeof v & { poll: PollRow } => v.poll?.reflection != null)
      .sort((a, b) => b.poll.reflection!.updatedAt.localeCompare(a.poll.reflection!.updatedAt))
      .map(({ poll }) => ({
        href: `/polls/${encodeURIComponent(poll.pollId)}#reflection`,
        text: t('site.my.reflectionUpdate', { title: poll.title, at: formatInstant(poll.reflection!.updatedAt, lang), status: poll.reflection!.status, percent: poll.reflection!.reflectedPercent }),
      }));
    // Reading the page reads the notifications: the header's unread mark goes until the next update.
    const newest = notifications.length ? votes.map((v) => v.poll?.reflection?.updatedAt ?? '').reduce((a, b) => (b > a ? b : a), '') : '';
    if (newest) ctx.cookies.set(SEEN_COOKIE, newest, { httpOnly: true, sameSite: 'lax', maxAge: 365 * 86_400_000, overwrite: true });
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
        // A sealed ballot is unreadable to everyone, us included, until 3 of 4 ledger nodes open it after the close.
        sealed: v.poll?.definition.settings.resultsVisibility === 'sealed' && !v.poll.result ? t('site.my.sealed') : '',
      })),
      created: created.map((p) => ({ ...cardOf(p, c), status: t(`site.status.${p.status}`) })),
    });
  });
  return router;
};
