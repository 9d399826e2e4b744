import Router from '@koa/router';
import { z } from 'zod';
import type { PollRow } from '../../../app/projections/polls.ts';
import { decodePollCursor, type PollListFilter, type PollListPage } from '../../readModels/polls.ts';
import { renderPage } from '../views.ts';
import { cardOf, globalsOf, isOpenAt, userOf, wantsFragment, type CardContext, type VerificationLookup } from './siteViews.ts';

export interface SiteHomeDeps {
  now: () => string;
  listPolls: (filter: Omit<PollListFilter, 'now'>) => Promise<PollListPage>;
  getPoll: (pollId: string) => Promise<PollRow | null>;
  /** Today's most-voted polls, most first (the "Hot" badge). */
  hotPollIds: (now: string) => Promise<Set<string>>;
  recommendedPolls: (citizenId: string, now: string) => Promise<PollRow[]>;
  votedPollIds: (citizenId: string, pollIds: string[]) => Promise<Set<string>>;
  verifications: VerificationLookup;
  stats: () => Promise<{ polls: number; ballots: number }>;
}

const query = z.object({
  scope: z.enum(['policy', 'general']).optional().catch(undefined),
  state: z.enum(['open', 'closed']).optional().catch(undefined),
  tag: z.string().trim().max(30).optional().catch(undefined),
  q: z.string().trim().max(100).optional().catch(undefined),
  // A cursor that is not one (edited, truncated) shows the first page.
  cursor: z.string().max(200).refine((c) => decodePollCursor(c) !== null).optional().catch(undefined),
});

type HomeQuery = z.infer<typeof query>;

/** Whether a hot poll passes the filters the list query applies in SQL (same rules, on one row). */
const matches = (poll: PollRow, q: HomeQuery, now: string): boolean => {
  const official = poll.creatorKind === 'official';
  if (q.scope === 'policy' && !official) return false;
  if (q.scope === 'general' && official) return false;
  if (q.state === 'closed') return false; // hot polls are open ones
  if (q.tag && !poll.tags.includes(q.tag)) return false;
  if (q.q) {
    const text = [poll.title, poll.definition.description ?? '', ...poll.tags, ...poll.definition.questions.flatMap((x) => [x.text, ...x.options.map((o) => o.label)])].join(' ').toLowerCase();
    if (!text.includes(q.q.toLowerCase())) return false;
  }
  return isOpenAt(poll, now);
};

const PAGE = 12;

/**
 * GET /: "Hot issues". The first page puts today's hottest open polls on top, then every poll newest
 * first (keyset-paged, so the hundredth page costs what the first does). "More" is a plain link that
 * htmx loads in place: a fragment of cards replaces the link.
 */
export const siteHomeRoutes = (deps: SiteHomeDeps): Router => {
  const router = new Router();
  router.get('/', async (ctx) => {
    const { t, lang, portalUrl } = globalsOf(ctx);
    const q = query.parse(ctx.query);
    const now = deps.now();
    const user = userOf(ctx);
    const hot = await deps.hotPollIds(now);
    const filter = { scope: q.scope, state: q.state, tag: q.tag || undefined, search: q.q || undefined, cursor: q.cursor, limit: PAGE };
    const [page, recommended, hotPolls] = await Promise.all([
      deps.listPolls(filter),
      user && !q.cursor ? deps.recommendedPolls(user.id, now) : Promise.resolve([]),
      q.cursor ? Promise.resolve([]) : Promise.all([...hot].map(deps.getPoll)),
    ]);
    const top = hotPolls.filter((p): p is PollRow => p !== null && matches(p, q, now));
    const rest = page.polls.filter((p) => !top.some((h) => h.pollId === p.pollId));
    const shown = [...top, ...rest];
    const ids = [...new Set([...shown, ...recommended].map((p) => p.pollId))];
    const [voted, verifications] = await Promise.all([user ? deps.votedPollIds(user.id, ids) : Promise.resolve(new Set<string>()), deps.verifications(ids)]);
    const c: CardContext = { now, t, lang, hot, recommended: new Set(recommended.map((p) => p.pollId)), voted, verifications, portalUrl };
    const params = new URLSearchParams(Object.entries({ scope: q.scope, state: q.state, tag: q.tag, q: q.q }).filter((e): e is [string, string] => !!e[1]));
    if (page.nextCursor) params.set('cursor', page.nextCursor);
    const model = {
      title: t('site.home.title'),
      filter: q,
      cards: shown.map((p) => cardOf(p, c)),
      recommended: recommended.map((p) => cardOf(p, c)),
      moreHref: page.nextCursor ? `/?${params}` : null,
      stats: q.cursor ? null : await deps.stats(),
      firstPage: !q.cursor,
    };
    renderPage(ctx, 'pages/home', model, { partial: wantsFragment(ctx, 'more-polls') ? 'partials/pollCards' : undefined });
  });
  return router;
};
