import Router from '@koa/router';
import type { ParameterizedContext } from 'koa';
import type { MyData } from '../../../app/identity/account.ts';
import { displayPhone } from '../../../app/identity/phone.ts';
import { DomainError } from '../../../domain/errors.ts';
import { endSession, requireCitizen, type SessionUser } from '../auth.ts';
import { renderPage, type PageGlobals } from '../views.ts';

export interface AccountRouteDeps {
  myData: (citizenId: string) => Promise<MyData>;
  changeDisplayName: (citizenId: string, name: string) => Promise<void>;
  deleteAccount: (citizenId: string) => Promise<void>;
}

const userOf = (ctx: ParameterizedContext) => ctx.state.user as SessionUser;
const t = (ctx: ParameterizedContext) => (ctx.state.page as PageGlobals).t;

/** The view model of the account page: what we hold, as the citizen reads it. */
const accountView = (ctx: ParameterizedContext, data: MyData, extra: { saved?: boolean; error?: string | null } = {}) => ({
  title: t(ctx)('account.title'),
  phone: displayPhone(data.phone),
  displayName: data.displayName ?? '',
  roles: data.roles.map((r) => t(ctx)(`role.${r}`)),
  officialSuspended: data.officialSuspended,
  registeredAt: data.registeredAt.slice(0, 10),
  saved: extra.saved ?? false,
  error: extra.error ?? null,
});

/** My account: see my data, change my display name, delete my account. */
export const accountRoutes = (deps: AccountRouteDeps): Router => {
  const router = new Router();

  router.get('/account', requireCitizen, async (ctx) => {
    renderPage(ctx, 'pages/account', accountView(ctx, await deps.myData(userOf(ctx).id), { saved: ctx.query.saved === '1' }));
  });

  router.post('/account/name', requireCitizen, async (ctx) => {
    const name = String((ctx.request.body as Record<string, unknown>)?.displayName ?? '');
    try {
      await deps.changeDisplayName(userOf(ctx).id, name);
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      const data = await deps.myData(userOf(ctx).id);
      return renderPage(ctx, 'pages/account', accountView(ctx, data, { error: t(ctx)(`error.${error.code}`) }), { status: 422 });
    }
    ctx.status = 303;
    ctx.redirect('/account?saved=1');
  });

  router.get('/account/delete', requireCitizen, (ctx) => {
    renderPage(ctx, 'pages/accountDelete', { title: t(ctx)('account.deleteTitle'), error: null });
  });

  router.post('/account/delete', requireCitizen, async (ctx) => {
    if ((ctx.request.body as Record<string, unknown>)?.confirm !== 'yes')
      return renderPage(ctx, 'pages/accountDelete', { title: t(ctx)('account.deleteTitle'), error: t(ctx)('account.deleteConfirmMissing') }, { status: 422 });
    await deps.deleteAccount(userOf(ctx).id);
    endSession(ctx);
    ctx.status = 303;
    ctx.redirect('/?deleted=1');
  });
  return router;
};
