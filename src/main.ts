import { loadConfigOrExit } from './infra/config.ts';
import { startApp } from './infra/compositionRoot.ts';
import { isConnectionLoss } from './infra/db/connect.ts';

/**
 * `npm start`: the whole system on one machine with embedded defaults. Ctrl-C stops it cleanly; data
 * stays in DATA_DIR (./data) for the next start.
 */
const main = async () => {
  const config = loadConfigOrExit();
  const app = await startApp(config);
  // Last line of defence: a database outage met by background work nobody awaited is logged, and the
  // app keeps serving (the pool reconnects; every loop retries). Anything else is a bug: log it, exit.
  process.on('unhandledRejection', (reason) => {
    if (isConnectionLoss(reason)) return app.logger.warn({ err: reason }, 'database unavailable in background work; it retries');
    app.logger.fatal({ err: reason }, 'unhandled rejection');
    process.exit(1);
  });
  // Ledger nodes: the four local node processes, or the remote ones from LEDGER_NODES.
  const ledgerLines = (app.ledger?.urls ?? []).map((u, i) => `\n  ledger node ${i + 1}           ${u}/v1/checkpoint`).join('');
  const portalLine = app.portalUrl ? `\n  verification portal     ${app.portalUrl}` : '';
  const devLine = config.NODE_ENV !== 'production' && config.SMS_ADAPTER === 'outbox' ? `\n  SMS outbox (dev codes)  ${app.url}/dev/sms` : '';
  console.log(`\nCivic Vote is running:\n  citizen site and admin  ${app.url}/${portalLine}\n  health                  ${app.url}/healthz (liveness), ${app.url}/readyz (readiness)\n  ledger status           ${app.url}/admin/ledger${ledgerLines}${devLine}\n\nFirst administrator: npm run admin:create -- 010-0000-0000 "Name"\nCtrl-C to stop. Data is kept in ${config.DATA_DIR}.\n`);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.logger.info({ signal }, 'stopping');
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
