import type { Middleware } from 'koa';

/**
 * Refuses requests without a signed-in user: 401 JSON for the API, a redirect to sign-in for pages.
 * The identity wiring sets ctx.state.user from the session.
 */
export const requireSignedIn: Middleware = async (ctx, next) => {
  if (ctx.state.user) return next();
  if (ctx.path.startsWith('/api/')) {
    ctx.status = 401;
    ctx.body = { error: { code: 'unauthenticated', message: 'Sign in first' } };
    return;
  }
  ctx.redirect(`/signin?next=${encodeURIComponent(ctx.originalUrl)}`);
};
