import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Koa, { type Middleware } from 'koa';
import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import helmet from 'koa-helmet';
import serve from 'koa-static';
import { DomainError, httpStatusOf } from '../../domain/errors.ts';
import { StreamConflictError } from '../../app/eventStore.ts';
import type { Logger } from '../logger.ts';
import { parseLang, translator, type Lang } from './i18n/index.ts';
import { isApiPath, renderPage, type PageGlobals, type Views } from './views.ts';
import { InputError } from './pollInput.ts';

const publicDir = fileURLToPath(new URL('../../../public/', import.meta.url));
const require = createRequire(import.meta.url);
const htmxSource = readFileSync(require.resolve('htmx.org/dist/htmx.min.js'));

export interface HttpAppDeps {
  logger: Logger;
  views: Views;
  portalUrl: string;
  /** Feature routers, mounted in order. */
  routers: Router[];
  /** Middleware that runs after body parsing and page globals, before routes (sessions, CSRF, ...). */
  middleware?: Middleware[];
  /** Trust X-Forwarded-* (behind a load balancer). */
  proxy?: boolean;
}


const httpCodeOf = (status: number) =>
  ({ 400: 'bad-request', 401: 'unauthenticated', 403: 'forbidden', 404: 'not-found', 409: 'conflict', 413: 'too-large', 422: 'invalid-input', 429: 'rate-limited', 503: 'unavailable' })[status] ?? 'http';

/** The error response: JSON for the API, a page for people. Domain errors keep their stable code. */
const errorHandler = (logger: Logger): Middleware => async (ctx, next) => {
  try {
    await next();
    if (ctx.status === 404 && ctx.body === undefined) {
      if (isApiPath(ctx.path)) ctx.body = { error: { code: 'not-found', message: 'No such resource' } };
      else renderPage(ctx, 'pages/error', { message: (ctx.state.page as PageGlobals).t('error.notFound') }, { status: 404 });
      ctx.status = 404;
    }
  } catch (error) {
    const known =
      error instanceof DomainError
        ? { status: httpStatusOf(error), code: error.code, message: error.message, details: (error as { problems?: unknown }).problems }
        : error instanceof StreamConflictError
          ? { status: 409, code: 'conflict', message: 'Someone else changed this at the same time: reload and try again', details: undefined }
          : error instanceof InputError
            ? { status: 422, code: 'invalid-input', message: error.message, details: error.problems }
            : typeof (error as { status?: number }).status === 'number' && (error as { expose?: boolean }).expose
              ? { status: (error as { status: number }).status, code: httpCodeOf((error as { status: number }).status), message: (error as Error).message, details: undefined }
              : null;
    if (!known) logger.error({ err: error, path: ctx.path, method: ctx.method }, 'request failed');
    const status = known?.status ?? 500;
    const code = known?.code ?? 'internal';
    const globals = ctx.state.page as PageGlobals | undefined;
    const message = known?.message ?? (globals ? globals.t('error.internal') : 'Internal error');
    ctx.status = status;
    // 503 (the database is unreachable: DatabaseUnavailableError): clients and balancers may retry soon.
    if (status === 503) ctx.set('Retry-After', '2');
    if (isApiPath(ctx.path) || !globals) ctx.body = { error: { code, message, ...(known?.details ? { details: known.details } : {}) } };
    else renderPage(ctx, 'pages/error', { message: globals.t(`error.${code}`) === `error.${code}` ? message : globals.t(`error.${code}`), code }, { status });
  }
};

const requestLog = (logger: Logger): Middleware => async (ctx, next) => {
  const started = performance.now();
  await next();
  // Path only: query strings and bodies may carry personal data.
  logger.debug({ method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(performance.now() - started) }, 'request');
};

const buildPageGlobals = (ctx: Parameters<Middleware>[0], portalUrl: string): PageGlobals => {
  const requested = parseLang(ctx.query.lang);
  if (requested) ctx.cookies.set('lang', requested, { httpOnly: true, sameSite: 'lax', maxAge: 365 * 86_400_000, overwrite: true });
  const lang: Lang = requested ?? parseLang(ctx.cookies.get('lang')) ?? 'ko';
  const text = ctx.query.text === 'large' || ctx.query.text === 'normal' ? ctx.query.text : undefined;
  if (text) ctx.cookies.set('text', text, { httpOnly: true, sameSite: 'lax', maxAge: 365 * 86_400_000, overwrite: true });
  return {
    lang,
    t: translator(lang),
    largeText: (text ?? ctx.cookies.get('text')) === 'large',
    path: ctx.path,
    csrf: () => '',
    csrfIfAny: () => '',
    user: null,
    portalUrl,
    isHtmx: ctx.get('HX-Request') === 'true',
    withQuery: (key, value) => {
      // The current page with one preference changed: switching language keeps e.g. a tracker code.
      const params = new URLSearchParams(ctx.querystring);
      params.set(key, value);
      return `${ctx.path}?${params.toString()}`;
    },
  };
};

/**
 * Page globals (language, translator, text size, views) for pages. The JSON API renders no page: there
 * they are built only if a route asks (an error message in the caller's language), so a ballot pays for
 * no cookie parsing or translator.
 */
const pageGlobals = (views: Views, portalUrl: string): Middleware => async (ctx, next) => {
  ctx.state.views = views;
  if (isApiPath(ctx.path)) {
    let page: PageGlobals | undefined;
    Object.defineProperty(ctx.state, 'page', {
      enumerable: true,
      configurable: true,
      get: () => (page ??= buildPageGlobals(ctx, portalUrl)),
      set: (value: PageGlobals) => void (page = value),
    });
  } else ctx.state.page = buildPageGlobals(ctx, portalUrl);
  await next();
};

export const createHttpApp = (deps: HttpAppDeps): Koa => {
  const app = new Koa({ proxy: deps.proxy ?? false });
  app.use(errorHandler(deps.logger));
  app.use(requestLog(deps.logger));
  app.use(
    helmet({
      contentSecurityPolicy: {
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'"],
          imgSrc: ["'self'", 'data:', 'https:'],
          connectSrc: ["'self'"],
          formAction: ["'self'"],
          frameAncestors: ["'none'"],
          // Off: on a plain-HTTP server (npm start, tests) Chromium upgrades every redirect after a POST to
          // https and the request fails. Production runs behind HTTPS with helmet's HSTS header instead.
          upgradeInsecureRequests: null,
        },
      },
      crossOriginEmbedderPolicy: false,
    }),
  );
  app.use(pageGlobals(deps.views, deps.portalUrl));
  const assets = new Router();
  assets.get('/static/vendor/htmx.min.js', (ctx) => {
    ctx.type = 'application/javascript';
    ctx.set('Cache-Control', 'public, max-age=86400');
    ctx.body = htmxSource;
  });
  app.use(assets.routes());
  app.use(mount('/static', serve(publicDir, { maxage: 3_600_000 })));
  app.use(bodyParser({ enableTypes: ['json', 'form'], jsonLimit: '2mb', formLimit: '2mb' }));
  for (const middleware of deps.middleware ?? []) app.use(middleware);
  for (const router of deps.routers) app.use(router.routes()).use(router.allowedMethods());
  return app;
};

/** Serves a middleware under a path prefix (koa-static serves from the root). */
const mount = (prefix: string, middleware: Middleware): Middleware => async (ctx, next) => {
  if (!ctx.path.startsWith(`${prefix}/`)) return next();
  const original = ctx.path;
  ctx.path = ctx.path.slice(prefix.length);
  try {
    await middleware(ctx, async () => {
      ctx.path = original;
      await next();
    });
  } finally {
    ctx.path = original;
  }
};
