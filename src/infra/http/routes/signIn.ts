import Router from '@koa/router';
import type { ParameterizedContext } from 'koa';
import { DomainError } from '../../../domain/errors.ts';
import { RateLimited } from '../../../app/identity/errors.ts';
import { displayPhone } from '../../../app/identity/phone.ts';
import { endSession, safeNext, startSession, csrfTokenOf, type SessionUser } from '../auth.ts';
import { renderPage, type PageGlobals } from '../views.ts';

export interface SignInRouteDeps {
  requestCode: (input: { phone: string; ip: string }) => Promise<{ phone: string }>;
  verifyCode: (input: { phone: string; code: string; displayName?: string }) => Promise<{ citizenId: string; created: boolean }>;
}

const field = (ctx: ParameterizedContext, name: string): string => {
  const value = (ctx.request.body as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' ? value : '';
};

/** The message for a refused step, in the page's language; rate limits answer 429. */
const failure = (ctx: ParameterizedContext, error: unknown) => {
  if (!(error instanceof DomainError)) throw error;
  const t = (ctx.state.page as PageGlobals).t;
  const status = error instanceof RateLimited ? 429 : 422;
  const translated = t(`error.${error.code}`);
  return { status, message: translated === `error.${error.code}` ? error.message : translated, code: error.code };
};

/**
 * Sign-up and sign-in are one flow: number, then code. The pending number waits in the session (never
 * in a URL, where logs would keep it); POST answers 303 so reloads never resend a form.
 */
export const signInRoutes = (deps: SignInRouteDeps): Router => {
  const router = new Router();

  router.get('/signin', (ctx) => {
    renderPage(ctx, 'pages/signin', { title: (ctx.state.page as PageGlobals).t('signin.title'), next: safeNext(ctx.query.next), phone: '', error: null });
  });

  router.post('/signin', async (ctx) => {
    const next = safeNext(field(ctx, 'next'));
    try {
      const { phone } = await deps.requestCode({ phone: field(ctx, 'phone'), ip: ctx.ip });
      Object.assign(ctx.session!, { pendingPhone: phone, next });
      ctx.status = 303;
      ctx.redirect('/signin/code');
    } catch (error) {
      const { status, message } = failure(ctx, error);
      renderPage(ctx, 'pages/signin', { title: (ctx.state.page as PageGlobals).t('signin.title'), next, phone: field(ctx, 'phone'), error: message }, { status });
    }
  });

  router.get('/signin/code', (ctx) => {
    const phone = ctx.session?.pendingPhone;
    if (typeof phone !== 'string') return ctx.redirect('/signin');
    renderPage(ctx, 'pages/signinCode', { title: (ctx.state.page as PageGlobals).t('signin.codeTitle'), phone: displayPhone(phone), error: null });
  });

  router.post('/signin/code', async (ctx) => {
    const phone = ctx.session?.pendingPhone;
    if (typeof phone !== 'string') return ctx.redirect('/signin');
    try {
      const displayName = field(ctx, 'displayName');
      const { citizenId } = await deps.verifyCode({ phone, code: field(ctx, 'code'), ...(displayName ? { displayName } : {}) });
      const next = safeNext(ctx.session!.next);
      await startSession(ctx, citizenId);
      ctx.status = 303;
      ctx.redirect(next);
    } catch (error) {
      const { status, message } = failure(ctx, error);
      renderPage(ctx, 'pages/signinCode', { title: (ctx.state.page as PageGlobals).t('signin.codeTitle'), phone: displayPhone(phone), error: message }, { status });
    }
  });

  router.post('/signout', (ctx) => {
    endSession(ctx);
    ctx.status = 303;
    ctx.redirect('/');
  });

  // The JSON API: the same flow for kiosks, integrations and load tests, on the same session cookie.
  router.get('/api/session', (ctx) => {
    const user = ctx.state.user as SessionUser | undefined;
    ctx.body = { csrfToken: csrfTokenOf(ctx), user: user ?? null };
  });

  router.post('/api/session/code', async (ctx) => {
    try {
      await deps.requestCode({ phone: field(ctx, 'phone'), ip: ctx.ip });
      ctx.status = 202;
      ctx.body = { sent: true };
    } catch (error) {
      const { status, code, message } = failure(ctx, error);
      ctx.status = status;
      ctx.body = { error: { code, message } };
    }
  });

  router.post('/api/session', async (ctx) => {
    const { citizenId, created } = await deps.verifyCode({ phone: field(ctx, 'phone'), code: field(ctx, 'code') });
    await startSession(ctx, citizenId);
    ctx.status = created ? 201 : 200;
    ctx.body = { citizenId, created, csrfToken: ctx.session!.csrf };
  });

  router.delete('/api/session', (ctx) => {
    endSession(ctx);
    ctx.status = 204;
  });
  return router;
};
