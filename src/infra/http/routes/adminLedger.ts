import Router from '@koa/router';
import type { NodeStatus } from '../../../ledger/coordinator.ts';
import type { AnchoringStatus } from '../../ledger/anchoringService.ts';
import type { LedgerAlert } from '../../ledger/ledgerStore.ts';
import { requireOfficial } from '../auth.ts';
import { renderPage, type PageGlobals } from '../views.ts';

export interface AdminLedgerDeps {
  /** Null when the ledger is off in this run. */
  status: () => { anchoring: AnchoringStatus; acceptsPolicyBallots: boolean } | null;
  nodeStatus: () => Promise<NodeStatus[]>;
  listAlerts: () => Promise<LedgerAlert[]>;
}

const iso = (d: Date | null) => (d ? d.toISOString().replace('T', ' ').slice(0, 19) : '-');

/** /admin/ledger: the four nodes, anchoring progress and lag, and tamper-watch alerts (officials and admins). */
export const adminLedgerRoutes = (deps: AdminLedgerDeps): Router => {
  const router = new Router();
  router.get('/admin/ledger', requireOfficial, async (ctx) => {
    const { t } = ctx.state.page as PageGlobals;
    const current = deps.status();
    const [nodes, alerts] = current ? await Promise.all([deps.nodeStatus(), deps.listAlerts()]) : [[], []];
    renderPage(ctx, 'pages/admin/ledger', {
      title: t('ledger.admin.title'),
      enabled: current !== null,
      nodes: nodes.map((n, i) => ({
        name: n.name ?? `ledger-node-${i + 1}`, url: n.url, reachable: n.reachable, size: n.size ?? '-', finalSize: n.finalSize ?? '-',
        problem: n.storeProblem ?? n.error ?? '',
      })),
      anchoring: current && {
        role: current.anchoring.role,
        size: current.anchoring.size,
        finalSize: current.anchoring.finalSize,
        pending: current.anchoring.pendingEntries,
        lag: current.anchoring.lastLagMs === null ? '-' : `${current.anchoring.lastLagMs} ms`,
        lastFinalAt: iso(current.anchoring.lastFinalAt),
        quorumLostSince: current.anchoring.quorumLostSince ? iso(current.anchoring.quorumLostSince) : null,
        policyRefused: !current.acceptsPolicyBallots,
      },
      alerts: alerts.map((a) => ({ at: iso(a.raisedAt), kind: a.kind, pollId: a.pollId ?? '', leafIndex: a.leafIndex ?? '', eventId: a.eventId ?? '', message: a.message })),
    });
  });
  return router;
};
