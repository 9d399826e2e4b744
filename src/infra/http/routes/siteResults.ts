import Router from '@koa/router';
import type { PollRow } from '../../../app/projections/polls.ts';
import { renderPage } from '../views.ts';
import { badgesOf, formatInstant, portalPollHref, globalsOf, type VerificationLookup } from './siteViews.ts';

export interface SiteResultsDeps {
  listReflections: () => Promise<PollRow[]>;
  verifications: VerificationLookup;
}

/** GET /results: closed policy and budget polls and how each was reflected (text, links, %, status). */
export const siteResultsRoutes = (deps: SiteResultsDeps): Router => {
  const router = new Router();
  router.get('/results', async (ctx) => {
    const { t, lang, portalUrl } = globalsOf(ctx);
    const polls = await deps.listReflections();
    const verifications = await deps.verifications(polls.map((p) => p.pollId));
    renderPage(ctx, 'pages/results', {
      title: t('site.results.title'),
      items: polls.map((p) => ({
        pollId: p.pollId,
        href: `/polls/${encodeURIComponent(p.pollId)}`,
        title: p.title,
        kindLabel: t(`site.kind.${p.kind}`),
        badges: badgesOf(p, { verification: verifications.get(p.pollId)?.status, portalHref: portalPollHref(portalUrl, p.pollId, lang) }, t),
        closedAt: formatInstant(p.closedAt ?? p.closesAt, lang),
        ballots: t('site.votes', { n: p.ballots }),
        status: t(`site.status.${p.status}`),
        reflection: p.reflection && {
          text: p.reflection.text,
          links: p.reflection.links.filter((l) => /^https?:\/\//i.test(l)),
          percent: Math.round(p.reflection.reflectedPercent),
          status: p.reflection.status,
          updated: t('site.results.updated', { at: formatInstant(p.reflection.updatedAt, lang) }),
        },
      })),
    });
  });
  return router;
};
