import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Middleware, ParameterizedContext } from 'koa';
import session from 'koa-session';
import type { Role } from '../../domain/citizen.ts';
import { DomainError } from '../../domain/errors.ts';
import { refusalMessage } from './i18n/index.ts';
import { isApiPath, renderPage, type PageGlobals } from './views.ts';

/**
 * Sessions, CSRF and authorisation for every route. Other features use `requireCitizen`,
 * `requireOfficial` and `requireAdmin`, and read the signed-in user from `ctx.state.user`.
 */
export interface SessionUser {
  id: string;
  displayName?: string;
  roles: Role[];
  /** The official's organisation, while the official role is in force. */
  orgId?: string;
}

export const SESSION_COOKIE = 'sid';
export const SESSION_MAX_AGE_MS = 7 * 86_400_000;

export interface SessionStore {
  get(key: string): Promise<Record<string, unknown> | undefined>;
  set(key: string, session: Record<string, unknown>, maxAge: number): Promise<void>;
  destroy(key: string): Promise<void>;
}

/**
 * koa-session with an external store: the cookie `sid` holds only a random id, signed with `keys`
 * (HttpOnly, SameSite=Lax, Secure when `secure`). koa-session needs the app, which createHttpApp owns,
 * so the middleware is built on the first request from `ctx.app`.
 */
export const sessionMiddleware = (options: { store: SessionStore; keys: string[]; secure: boolean }): Middleware => {
  let inner: Middleware | undefined;
  return (ctx, next) => {
    if (!inner) {
      ctx.app.keys = options.keys;
      // This request's cookie jar may predate the keys (page globals read `lang`): let koa make it anew.
      ctx.cookies = undefined as unknown as typeof ctx.cookies;
      inner = session(
        {
          key: SESSION_COOKIE,
          maxAge: SESSION_MAX_AGE_MS,
          httpOnly: true,
          sameSite: 'lax',
          secure: options.secure,
          signed: true,
          renew: true,
          store: { get: (key) => options.store.get(key), set: (key, sess, maxAge) => options.store.set(key, sess, maxAge), destroy: (key) => options.store.destroy(key) },
          // Reading is on every request: checked here with one HMAC; writing (sign-in, renewal) stays koa's.
          externalKey: {
            get: (ctx) => signedSessionId(ctx, options.keys) ?? '', // '' is koa-session's "no session"
            set: (ctx, value) => ctx.cookies.set(SESSION_COOKIE, value, { signed: true, httpOnly: true, sameSite: 'lax', secure: options.secure, maxAge: SESSION_MAX_AGE_MS }),
          },
        },
        ctx.app,
      ) as unknown as Middleware;
    }
    return inner(ctx, next);
  };
};

/**
 * The session id from `sid` if `sid.sig` is its signature under one of `keys`, as koa's cookies
 * (keygrip) write it: HMAC-SHA1 over `sid=<id>`, base64url without padding. One HMAC and one
 * timingSafeEqual per key instead of keygrip's sign-and-compare plus tsscmp's two extra HMACs: the
 * same signature, the same constant-time comparison, a quarter of the cost on every request.
 */
export const signedSessionId = (ctx: ParameterizedContext, keys: readonly string[]): string | undefined => {
  const id = ctx.cookies.get(SESSION_COOKIE);
  const sig = ctx.cookies.get(`${SESSION_COOKIE}.sig`);
  if (!id || !sig) return undefined;
  const given = Buffer.from(sig);
  for (const key of keys) {
    const expected = Buffer.from(createHmac('sha1', key).update(`${SESSION_COOKIE}=${id}`).digest('base64url'));
    if (expected.length === given.length && timingSafeEqual(expected, given)) return id;
  }
  return undefined;
};

export class CsrfRefused extends DomainError {
  readonly code = 'security.csrf';
  readonly kind = 'forbidden';
  constructor() {
    super('This form has expired or did not come from this site (CSRF token missing or wrong): reload the page and try again');
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The session's synchronizer token, made when first needed. */
export const csrfTokenOf = (ctx: ParameterizedContext): string => {
  const sess = ctx.session!;
  if (typeof sess.csrf !== 'string') sess.csrf = randomBytes(32).toString('base64url');
  return sess.csrf as string;
};

const sameToken = (a: string, b: string): boolean => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/**
 * After the session: loads the signed-in user (roles from the citizens read model, so a suspension
 * takes effect on the next request), sets `ctx.state.user` and the page globals, and refuses every
 * state-changing request without the session's CSRF token (form field `_csrf` or header
 * `x-csrf-token`). Only GET, HEAD and OPTIONS are exempt.
 */
export const identityMiddleware = (deps: { loadUser: (citizenId: string) => Promise<SessionUser | null> }): Middleware => async (ctx, next) => {
  const sess = ctx.session!;
  let user: SessionUser | null = null;
  if (typeof sess.citizenId === 'string') {
    user = await deps.loadUser(sess.citizenId);
    if (!user) ctx.session = null;
  }
  ctx.state.user = user ?? undefined;
  // API routes read ctx.state.user; their page globals are built only when asked (server.ts).
  const page = isApiPath(ctx.path) ? undefined : (ctx.state.page as PageGlobals | undefined);
  if (page) {
    page.user = user;
    // Functions, not values: the token (and so a session row) is made only when a template calls csrf()
    // for a form, not for API calls, assets or a visitor who only reads pages. (A getter would not do:
    // spreading the globals into the template data calls every getter.)
    page.csrf = () => (ctx.session ? csrfTokenOf(ctx) : '');
    page.csrfIfAny = () => (typeof ctx.session?.csrf === 'string' ? ctx.session.csrf : '');
  }
  // A file upload's body is read now, once the user is known (uploadBody.ts), so its _csrf field counts.
  const readUploadBody = ctx.state.readUploadBody as (() => Promise<void>) | undefined;
  if (readUploadBody) await readUploadBody();
  if (!SAFE_METHODS.has(ctx.method)) {
    const expected = ctx.session?.csrf;
    const body = ctx.request.body as Record<string, unknown> | undefined;
    const sent = ctx.get('x-csrf-token') || (typeof body?._csrf === 'string' ? body._csrf : '');
    if (typeof expected !== 'string' || !sent || !sameToken(sent, expected)) throw new CsrfRefused();
  }
  await next();
};

/** Signs a citizen in: a new session id (no fixation), a new CSRF token. */
export const startSession = async (ctx: ParameterizedContext, citizenId: string): Promise<void> => {
  await ctx.session!.regenerate();
  ctx.session!.citizenId = citizenId;
  ctx.session!.csrf = randomBytes(32).toString('base64url');
};

/** Signs out: the session row is deleted, the cookie cleared. */
export const endSession = (ctx: ParameterizedContext): void => {
  ctx.session = null;
};

const refuse = (ctx: ParameterizedContext, status: 401 | 403) => {
  if (isApiPath(ctx.path)) {
    ctx.status = status;
    const code = status === 401 ? 'unauthenticated' : 'forbidden';
    ctx.body = { error: { code, message: refusalMessage((ctx.state.page as PageGlobals).t, code, status === 401 ? 'Sign in first' : 'You do not have the role this needs') } };
  } else if (status === 401) {
    ctx.status = 303;
    ctx.redirect(`/signin?next=${encodeURIComponent(ctx.method === 'GET' ? ctx.originalUrl : '/')}`);
  } else {
    renderPage(ctx, 'pages/error', { message: (ctx.state.page as PageGlobals).t('auth.forbidden'), code: 'forbidden' }, { status: 403 });
  }
};

const requireRole = (accepts: (roles: Role[]) => boolean): Middleware => async (ctx, next) => {
  const user = ctx.state.user as SessionUser | undefined;
  if (!user) return refuse(ctx, 401);
  if (!accepts(user.roles)) return refuse(ctx, 403);
  await next();
};

/** Any signed-in citizen; anonymous: a redirect to /signin (pages) or 401 (API). */
export const requireCitizen: Middleware = requireRole((roles) => roles.includes('citizen'));
/** An official in force (not suspended) or an administrator; others get 403. */
export const requireOfficial: Middleware = requireRole((roles) => roles.includes('official') || roles.includes('admin'));
/** An administrator; others get 403. */
export const requireAdmin: Middleware = requireRole((roles) => roles.includes('admin'));

/**
 * Defence in depth: everything under /admin and /api/admin needs an official or an administrator,
 * even a route that forgot its own check. Routes still check the precise role they need.
 */
export const guardAdminArea: Middleware = async (ctx, next) => {
  if (/^\/(api\/)?admin(\/|$)/.test(ctx.path)) return requireOfficial(ctx, next);
  await next();
};

/** A local path to return to after sign-in; anything else (other hosts, `//evil`) becomes `/account`. */
export const safeNext = (value: unknown): string =>
  typeof value === 'string' && value.startsWith('/') && !value.startsWith('//') && !value.startsWith('/\\') ? value : '/account';
