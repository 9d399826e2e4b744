import Router from '@koa/router';

/** A part the instance cannot serve without: failing, /readyz answers 503 (take it out of rotation). */
export interface ReadinessCheck {
  name: string;
  check: () => Promise<boolean>;
}

/**
 * A part whose loss degrades the service without stopping it: the reasons it gives (empty: fine) make
 * /readyz answer 200 with status `degraded`, so a balancer keeps the instance while people are told.
 */
export interface DegradationCheck {
  name: string;
  check: () => Promise<string[]> | string[];
}

/** A check that does not answer in time fails: a hung database must not hang the balancer's probe. */
const CHECK_TIMEOUT_MS = 3000;
const withTimeout = <T>(p: Promise<T>, fallback: T): Promise<T> =>
  Promise.race([p.catch(() => fallback), new Promise<T>((r) => setTimeout(() => r(fallback), CHECK_TIMEOUT_MS).unref())]);

/**
 * /healthz: the process answers (liveness: restart it only when this fails).
 * /readyz: 503 `not-ready` when a required part fails (the database, projections not caught up yet);
 * 200 `degraded` with the reasons when a degradation check reports some (the ledger has no quorum and
 * policy polls refuse ballots, anchoring behind by N entries); 200 `ready` otherwise.
 */
export const healthRoutes = (checks: ReadinessCheck[], degradations: DegradationCheck[] = []): Router => {
  const router = new Router();
  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });
  router.get('/readyz', async (ctx) => {
    const results = await Promise.all(checks.map(async ({ name, check }) => [name, await withTimeout(check(), false)] as const));
    const degraded = (
      await Promise.all(degradations.map(async ({ name, check }) => (await withTimeout(Promise.resolve().then(check), [`${name}: no answer`])).map((reason) => ({ part: name, reason }))))
    ).flat();
    const ready = results.every(([, ok]) => ok);
    ctx.set('cache-control', 'no-store');
    ctx.status = ready ? 200 : 503;
    ctx.body = {
      status: !ready ? 'not-ready' : degraded.length > 0 ? 'degraded' : 'ready',
      checks: Object.fromEntries(results),
      ...(degraded.length > 0 ? { degraded } : {}),
    };
  });
  return router;
};
