import { loadConfigOrExit } from './infra/config.ts';
import { startApp } from './infra/compositionRoot.ts';
import { isConnectionLoss } from './infra/db/connect.ts';
import { startLocalPortal } from '../verify-portal/server.ts';

/**
 * `npm start`: the whole system on one machine with embedded defaults (the app process's composition:
 * the app from compositionRoot.ts, and the verification portal beside it). Ctrl-C stops it cleanly; data
 * stays in DATA_DIR (./data) for the next start.
 */
const main = async () => {
  const config = loadConfigOrExit();
  const app = await startApp(config);
  // The verification portal on its own port, reading only the ledger nodes: started here only for the
  // local nodes, whose keys the app read from their own ready lines; with remote nodes run
  // verify-portal/main.ts with LEDGER_KEYS pinned. Tests start their own portal.
  const local = app.ledger?.local;
  const portal = app.ledger && local && config.NODE_ENV !== 'test'
    ? await startLocalPortal({ dataDir: config.DATA_DIR, host: config.HOST, port: config.PORTAL_PORT, nodes: local.urls, verifierKeys: local.verifierKeys, origin: app.ledger.origin, siteUrl: `http://${config.HOST}:${config.PORT}/` })
    : null;
  // Last line of defence: a database outage met by background work nobody awaited is logged, and the
  // app keeps serving (the pool reconnects; every loop retries). Anything else is a bug: log it, exit.
  process.on('unhandledRejection', (reason) => {
    if (isConnectionLoss(reason)) return app.logger.warn({ err: reason }, 'database unavailable in background work; it retries');
    app.logger.fatal({ err: reason }, 'unhandled rejection');
    process.exit(1);
  });
  // Ledger nodes: the four local node processes, or the remote ones from LEDGER_NODES.
  const ledgerLines = (app.ledger?.urls ?? []).map((u, i) => `\n  ledger node ${i + 1}           ${u}/v1/checkpoint`).join('');
  const portalLine = portal ? `\n  verification portal     ${portal.url}/` : '';
  const devLine = config.NODE_ENV !== 'production' && config.SMS_ADAPTER === 'outbox' ? `\n  SMS outbox (dev codes)  ${app.url}/dev/sms` : '';
  console.log(`\nCivic Vote is running:\n  citizen site and admin  ${app.url}/${portalLine}\n  health                  ${app.url}/healthz (liveness), ${app.url}/readyz (readiness)\n  ledger status           ${app.url}/admin/ledger${ledgerLines}${devLine}\n\nFirst administrator: npm run admin:create -- 010-0000-0000 "Name"\nCtrl-C to stop. Data is kept in ${config.DATA_DIR}.\n`);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.logger.info({ signal }, 'stopping');
    await portal?.stop();
    await app.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
};

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
