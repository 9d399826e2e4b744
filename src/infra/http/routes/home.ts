import Router from '@koa/router';
import type { PlatformStats } from '../../../app/projections/platformStats.ts';
import { renderPage } from '../views.ts';

export const homeRoutes = (deps: { getPlatformStats: () => Promise<PlatformStats> }): Router => {
  const router = new Router();
  router.get('/', async (ctx) => {
    const stats = await deps.getPlatformStats();
    renderPage(ctx, 'pages/home', { stats });
  });
  return router;
};
