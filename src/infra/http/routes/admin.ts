import Router from '@koa/router';
import type { ParameterizedContext } from 'koa';
import { DomainError } from '../../../domain/errors.ts';
import { ORG_KINDS } from '../../../domain/organisation.ts';
import type { CitizenRoles, Organisation } from '../../readModels/citizens.ts';
import { requireAdmin, type SessionUser } from '../auth.ts';
import { renderPage, type PageGlobals } from '../views.ts';

export interface AdminRouteDeps {
  listOrganisations: () => Promise<Organisation[]>;
  listOfficials: () => Promise<CitizenRoles[]>;
  /** The official's display name and number, decrypted for the administrator; null when forgotten. */
  contactOf: (citizenId: string) => Promise<{ displayName?: string; phone: string } | null>;
  createOrganisation: (input: { name: string; kind: string; by: string }) => Promise<string>;
  issueOfficial: (input: { phone: string; orgId: string; displayName?: string; by: string }) => Promise<string>;
  setOfficialSuspended: (input: { citizenId: string; suspended: boolean; by: string }) => Promise<void>;
  /** Waits until the read models include what was just written (read-your-writes after a POST). */
  settled: () => Promise<void>;
}

const body = (ctx: ParameterizedContext) => (ctx.request.body ?? {}) as Record<string, unknown>;
const str = (value: unknown) => (typeof value === 'string' ? value : '');
const t = (ctx: ParameterizedContext) => (ctx.state.page as PageGlobals).t;
const actor = (ctx: ParameterizedContext) => (ctx.state.user as SessionUser).id;
const messageOf = (ctx: ParameterizedContext, error: unknown): string => {
  if (!(error instanceof DomainError)) throw error;
  const text = t(ctx)(`error.${error.code}`);
  return text === `error.${error.code}` ? error.message : text;
};

/** Administrators: organisations and official accounts. Every action is an event with the actor. */
export const adminRoutes = (deps: AdminRouteDeps): Router => {
  const router = new Router();

  const orgsPage = async (ctx: ParameterizedContext, error: string | null = null, status?: number) => {
    const orgs = await deps.listOrganisations();
    const kinds = ORG_KINDS.map((k) => ({ value: k, label: t(ctx)(`org.kind.${k}`) }));
    const rows = orgs.map((o) => ({ id: o.id, name: o.name, kind: t(ctx)(`org.kind.${o.kind}`), created: o.createdAt.toISOString().slice(0, 10) }));
    renderPage(ctx, 'pages/adminOrgs', { title: t(ctx)('admin.orgs.title'), orgs: rows, kinds, error, form: { name: str(body(ctx).name), kind: str(body(ctx).kind) } }, status ? { status } : {});
  };

  router.get('/admin/orgs', requireAdmin, (ctx) => orgsPage(ctx));

  router.post('/admin/orgs', requireAdmin, async (ctx) => {
    try {
      await deps.createOrganisation({ name: str(body(ctx).name), kind: str(body(ctx).kind), by: actor(ctx) });
    } catch (error) {
      return orgsPage(ctx, messageOf(ctx, error), 422);
    }
    await deps.settled();
    ctx.status = 303;
    ctx.redirect('/admin/orgs');
  });

  const officialsPage = async (ctx: ParameterizedContext, error: string | null = null, status?: number) => {
    const [orgs, officials] = await Promise.all([deps.listOrganisations(), deps.listOfficials()]);
    const orgName = new Map(orgs.map((o) => [o.id, o.name]));
    const rows = await Promise.all(
      officials.map(async (o) => {
        const contact = await deps.contactOf(o.id);
        return { id: o.id, name: contact?.displayName ?? '', phone: contact?.phone ?? '', org: orgName.get(o.orgId ?? '') ?? '', suspended: o.officialStatus === 'suspended' };
      }),
    );
    const form = { phone: str(body(ctx).phone), orgId: str(body(ctx).orgId), displayName: str(body(ctx).displayName) };
    renderPage(ctx, 'pages/adminOfficials', { title: t(ctx)('admin.officials.title'), officials: rows, orgs: orgs.map((o) => ({ id: o.id, name: o.name })), error, form }, status ? { status } : {});
  };

  router.get('/admin/officials', requireAdmin, (ctx) => officialsPage(ctx));

  router.post('/admin/officials', requireAdmin, async (ctx) => {
    const displayName = str(body(ctx).displayName).trim();
    try {
      await deps.issueOfficial({ phone: str(body(ctx).phone), orgId: str(body(ctx).orgId), ...(displayName ? { displayName } : {}), by: actor(ctx) });
    } catch (error) {
      return officialsPage(ctx, messageOf(ctx, error), 422);
    }
    await deps.settled();
    ctx.status = 303;
    ctx.redirect('/admin/officials');
  });

  for (const action of ['suspend', 'reinstate'] as const)
    router.post(`/admin/officials/:citizenId/${action}`, requireAdmin, async (ctx) => {
      await deps.setOfficialSuspended({ citizenId: ctx.params.citizenId!, suspended: action === 'suspend', by: actor(ctx) });
      await deps.settled();
      ctx.status = 303;
      ctx.redirect('/admin/officials');
    });
  return router;
};
