import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Koa, { type Middleware } from 'koa';
import Router from '@koa/router';
import helmet from 'koa-helmet';
import serve from 'koa-static';
import { DomainError, httpStatusOf } from '../../domain/errors.ts';
import { StreamConflictError } from '../../app/eventStore.ts';
import type { Logger } from '../logger.ts';
import { parseLang, refusalMessage, translator, type Lang } from './i18n/index.ts';
import { isApiPath, renderPage, type PageGlobals, type Views } from './views.ts';
import { InputError } from './pollInput.ts';
import { checkBodyText, checkPathAndQuery, RequestRefused, requestBody, type BodyLimit } from './requestBody.ts';

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
  /** Body size limits by route (requestBody.ts BODY_LIMITS by default). */
  bodyLimits?: readonly BodyLimit[];
  /** Hosts poll images may come from besides this site (IMAGE_HOSTS): the CSP's img-src. */
  imageHosts?: readonly string[];
  /** Trust X-Forwarded-* (behind a load balancer). */
  proxy?: boolean;
}


const httpCodeOf = (status: number) =>
  ({ 400: 'bad-request', 401: 'unauthenticated', 403: 'forbidden', 404: 'not-found', 405: 'method-not-allowed', 409: 'conflict', 413: 'too-large', 415: 'unsupported-media-type', 422: 'invalid-input', 429: 'rate-limited', 503: 'unavailable' })[status] ?? 'bad-request';

interface KnownError {
  status: number;
  code: string;
  message: string;
  details: unknown;
}

/** What a thrown error means for the client; null for a fault of ours (logged, answered 500). */
const knownError = (error: unknown): KnownError | null => {
  if (error instanceof DomainError) return { status: httpStatusOf(error), code: error.code, message: error.message, details: (error as { problems?: unknown }).problems };
  if (error instanceof StreamConflictError) return { status: 409, code: 'conflict', message: 'Someone else changed this at the same time: reload and try again', details: undefined };
  if (error instanceof InputError) return { status: 422, code: 'invalid-input', message: error.message, details: error.problems };
  if (error instanceof RequestRefused) return { status: error.status, code: error.code, message: error.message, details: undefined };
  const { status, expose } = error as { status?: unknown; expose?: unknown };
  // http-errors (ctx.throw, koa, raw-body): a client error is exposed; a 5xx is ours, except an exposed
  // 503 (DatabaseUnavailableError: the database is unreachable, retry soon).
  if (typeof status === 'number' && ((status >= 400 && status < 500 && expose !== false) || (status === 503 && expose === true))) return { status, code: httpCodeOf(status), message: (error as Error).message, details: undefined };
  return null;
};

/** The error response: JSON for the API, a page for people. Every refusal has a stable code and a message in the request's language. */
const errorHandler = (logger: Logger): Middleware => async (ctx, next) => {
  try {
    await next();
    // A route that matched nothing, or a method the route does not have: answer like any other refusal.
    if (ctx.status >= 400 && ctx.status < 500 && (ctx.body === undefined || ctx.body === null)) {
      const status = ctx.status;
      const code = httpCodeOf(status);
      const globals = ctx.state.page as PageGlobals;
      if (isApiPath(ctx.path)) ctx.body = { error: { code, message: refusalMessage(globals.t, code, 'No such resource') } };
      else renderPage(ctx, 'pages/error', { message: status === 404 ? globals.t('error.notFound') : refusalMessage(globals.t, code, 'Not allowed'), code }, { status });
      ctx.status = status;
    }
  } catch (error) {
    const known = knownError(error);
    if (!known) logger.error({ err: error, path: ctx.path, method: ctx.method }, 'request failed');
    const status = known?.status ?? 500;
    const code = known?.code ?? 'internal';
    const globals = ctx.state.page as PageGlobals | undefined;
    const message = globals ? refusalMessage(globals.t, code, known?.message ?? 'Internal error') : (known?.message ?? 'Internal error');
    ctx.status = status;
    // 503 (the database is unreachable: DatabaseUnavailableError): clients and balancers may retry soon.
    if (status === 503) ctx.set('Retry-After', '2');
    // A refused upload may still be arriving: close the connection rather than read what nobody needs.
    if (status === 413) ctx.set('Connection', 'close');
    if (isApiPath(ctx.path) || !globals) ctx.body = { error: { code, message, ...(known?.details ? { details: known.details } : {}) } };
    else renderPage(ctx, 'pages/error', { message, code }, { status });
  }
};

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** A method no route has (PROPFIND, TRACE, ...) is refused with 405, not koa-router's 501. */
const refuseUnknownMethods: Middleware = async (ctx, next) => {
  if (KNOWN_METHODS.has(ctx.method)) return next();
  ctx.set('Allow', [...KNOWN_METHODS].join(', '));
  ctx.status = 405;
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
  // Errors after the answer began (a file stream whose client went away) reach Koa's 'error' event, not
  // the error handler; Koa's own listener would print them to stderr. A client that left is routine.
  const CLIENT_GONE = new Set(['ERR_STREAM_PREMATURE_CLOSE', 'ECONNRESET', 'EPIPE', 'ECONNABORTED']);
  app.on('error', (err: NodeJS.ErrnoException, ctx?: { path?: string; method?: string }) => {
    if (err.code && CLIENT_GONE.has(err.code)) deps.logger.debug({ code: err.code, path: ctx?.path }, 'client went away during the answer');
    else deps.logger.error({ err, path: ctx?.path, method: ctx?.method }, 'answer failed after it began');
  });
  app.use(errorHandler(deps.logger));
  app.use(requestLog(deps.logger));
  app.use(
    helmet({
      contentSecurityPolicy: {
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'"],
          // Answer images: this site, or the hosts IMAGE_HOSTS allows (pollInput.ts refuses the rest).
          imgSrc: ["'self'", 'data:', ...(deps.imageHosts ?? []).map((h) => `https://${h}`)],
          connectSrc: ["'self'"],
          formAction: ["'self'"],
          frameAncestors: ["'none'"],
          // Off: on a plain-HTTP server (npm start, tests) Chromium upgrades every redirect after a POST to
          // https and the request fails. Production runs behind HTTPS with helmet's HSTS header instead.
          upgradeInsecureRequests: null,
        },
      },
      crossOriginEmbedderPolicy: false,
      // The same rule as frame-ancestors 'none' for browsers that only read X-Frame-Options.
      xFrameOptions: { action: 'deny' },
    }),
  );
  app.use(pageGlobals(deps.views, deps.portalUrl));
  app.use(refuseUnknownMethods);
  app.use(checkPathAndQuery);
  const assets = new Router();
  assets.get('/static/vendor/htmx.min.js', (ctx) => {
    ctx.type = 'application/javascript';
    ctx.set('Cache-Control', 'public, max-age=86400');
    ctx.body = htmxSource;
  });
  app.use(assets.routes());
  app.use(mount('/static', serve(publicDir, { maxage: 3_600_000 })));
  app.use(requestBody(deps.bodyLimits));
  app.use(checkBodyText);
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
