import { mkdirSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { resolve } from 'node:path';
import { sql } from 'kysely';
import { Container } from 'inversify';
import type Router from '@koa/router';
import type { Middleware } from 'koa';
import type { EventStore } from '../app/eventStore.ts';
import type { Config } from './config.ts';
import type { Db } from './db/connect.ts';
import { createEventStore, loadServerSecret, openDb, readModels, wirePolls } from './storage.ts';
import { createLogger, type Logger } from './logger.ts';
import { startProjectionRunner, type ProjectionRunner } from './projections/runner.ts';
import { getPlatformStats } from './readModels/platformStats.ts';
import { createHttpApp } from './http/server.ts';
import { keepConnectionsBeyondProxies } from '../shared/keepAlive.ts';
import { createViews } from './http/views.ts';
import { healthRoutes } from './http/routes/health.ts';
import { loadLocalAdminToken, startLocalAdminEndpoint } from './http/localAdmin.ts';
// admin area for officials
import { requireOfficial } from './http/auth.ts';
import { adminPollRoutes, adminRollUpload } from './http/routes/adminPolls.ts';
import { uploadBody } from './http/uploadBody.ts';
// citizen site
import { citizenSiteMiddleware, citizenSiteRouters, pageReads } from './http/routes/siteRoutes.ts';
import { requireCitizen } from './http/auth.ts';
import { withGroupCommit } from './eventStore/groupCommit.ts';
import { runDuePolls } from '../app/polls/pollScheduler.ts';
import * as pollQueries from './readModels/polls.ts';
import { pollsApiRoutes } from './http/routes/pollsApi.ts';
import type { Polls } from './polls/pollServices.ts';
import { eventStoreIsEmpty, seedDemoData } from './seed/demo.ts';
// identity
import { identityHttp, identityUseCases, type IdentityUseCases } from './identity/wiring.ts';
// ledger
import { wireLedger } from './ledger/wiring.ts';
import { listAlerts } from './ledger/ledgerStore.ts';
import { adminLedgerRoutes } from './http/routes/adminLedger.ts';
import { identityRouters } from './http/routes/identityRouters.ts';
import { receiptRoutes } from './http/routes/receipts.ts';
import type { LedgerServices } from './ledger/ledgerServices.ts';

/**
 * The composition root: the only file that knows every adapter and the only one that imports inversify.
 * Everything else receives plain functions.
 */
const TYPES = {
  Db: Symbol.for('Db'),
  EventStore: Symbol.for('EventStore'),
} as const;

export interface RunningApp {
  url: string;
  config: Config;
  db: Db;
  eventStore: EventStore;
  projections: ProjectionRunner;
  logger: Logger;
  /** The poll use cases and queries, for tests, CLIs and benchmarks. */
  polls: Polls;
  /** The identity use cases (sign-in, accounts, admin actions), for tests and CLIs. */
  identity: IdentityUseCases;
  /** Every mounted router, so tests can enumerate routes (role checks on /admin). */
  routers: Router[];
  /** The ledger: node URLs, anchoring, receipts, verification; null with LEDGER_NODES=none. */
  ledger: LedgerServices | null;
  stop(): Promise<void>;
}

export { loadServerSecret, readModels, embeddedDbDir, openInfrastructure, openPollServices, type PollServices } from './storage.ts';

export interface StartOptions {
  /** An already migrated database (tests); otherwise one is opened from the config. */
  db?: Db;
  logger?: Logger;
}

export const startApp = async (config: Config, options: StartOptions = {}): Promise<RunningApp> => {
  mkdirSync(resolve(config.DATA_DIR), { recursive: true });
  // The container holds the adapters that depend on one another (the event store on the database);
  // plain values (config, logger, secret, read models) are passed as they are.
  const container = new Container({ defaultScope: 'Singleton' });
  container.bind<Db>(TYPES.Db).toDynamicValue(async () => options.db ?? (await openDb(config)));
  // Group commit: concurrent appends (ballots above all) share one durable transaction.
  container.bind<EventStore>(TYPES.EventStore).toDynamicValue(async (ctx) => withGroupCommit(await createEventStore(config, await ctx.getAsync<Db>(TYPES.Db))));

  const logger = options.logger ?? createLogger(config.LOG_LEVEL);
  const db = await container.getAsync<Db>(TYPES.Db);
  const eventStore = await container.getAsync<EventStore>(TYPES.EventStore);
  const projections = await startProjectionRunner({
    db: db.kysely,
    eventStore,
    readModels,
    logger,
  });
  let projectionsCaughtUp = false;
  void projections.caughtUp.then(() => (projectionsCaughtUp = true));

  const serverSecret = loadServerSecret(config);
  const now = () => new Date().toISOString();

  // --- identity: citizens, officials, organisations, sessions, CSRF -----------------------
  const identity = identityUseCases({ config, db, eventStore, serverSecret });
  const identityWeb = identityHttp({ config, db, eventStore, serverSecret, useCases: identity, settled: () => projections.settled() });
  // --- end identity -----------------------------------------------------------------------------------

  // --- ledger: four nodes, anchoring, receipts, tallies by the nodes, tamper watch ----------
  const ledger = await wireLedger(config, { db: db.kysely, pool: db.pool ?? null, eventStore, logger });
  // --- end ledger -------------------------------------------------------------------------------------

  // --- polls and ballots ---------------------------------------------------------------------------
  const polls = wirePolls({
    db, eventStore, projections, serverSecret, now,
    phoneHashOfCitizen: identity.phoneHashOfCitizen,
    ledgerAcceptsPolicyBallots: ledger.acceptsPolicyBallots,
    sealingKey: ledger.sealingKey,
  });
  const scheduler = setInterval(() => {
    void runDuePolls({
      duePolls: () => pollQueries.duePolls(db.kysely, now()),
      commands: polls.commands,
      onError: (pollId, error) => logger.debug({ pollId, err: error }, 'scheduled poll change skipped'),
    }).then(
      (n) => n > 0 && logger.info({ changed: n }, 'scheduled poll changes'),
      // The database may be away for a moment: the next tick tries again.
      (err: unknown) => logger.warn({ err }, 'scheduled poll changes skipped'),
    );
  }, 1000);
  scheduler.unref();


  // --- demo data (npm start on an empty store; tests set SEED_DEMO_DATA=false) -------------------------
  if (config.SEED_DEMO_DATA && (await eventStoreIsEmpty(eventStore))) await seedDemoData({ polls, eventStore, now, logger });
  // --- end demo data --------------------------------------------------------------------------------

  const portalUrl = `http://${config.HOST}:${config.PORTAL_PORT}/`;
  const reads = pageReads(db.kysely);
  const routers: Router[] = [
    healthRoutes([
      { name: 'database', check: async () => (await sql`SELECT 1 AS ok`.execute(db.kysely), true) },
      { name: 'projections', check: async () => projectionsCaughtUp },
    ], [{ name: 'ledger', check: ledger.degradation }]),
    // --- citizen site: home, poll pages and voting, my page, results, poll creation ---
    ...citizenSiteRouters({
      db: db.kysely, polls, now, requireCitizen, settled: () => projections.settled(), reads,
      stats: () => getPlatformStats(db.kysely),
    }),
    // --- end citizen site ---
    pollsApiRoutes({
      requireCitizen,
      requireOfficial,
      commands: polls.commands,
      castBallot: polls.cast,
      listPolls: polls.list,
      getPoll: polls.get,
      results: polls.results,
      parseRoll: polls.parseRoll,
      keyRollPhones: polls.keyRollPhones,
      imageHosts: config.IMAGE_HOSTS,
    }),
    // --- admin area for officials: the organisation's polls from draft to reflection ---
    adminPollRoutes({
      requireOfficial, now, commands: polls.commands, getPoll: polls.get,
      listManagedPolls: (orgId) => pollQueries.listManagedPolls(db.kysely, { orgId }),
      liveCounts: (pollId) => pollQueries.liveCounts(db.kysely, pollId),
      listComments: (pollId) => pollQueries.listComments(db.kysely, pollId, true),
      parseRoll: polls.parseRoll, keyRollPhones: polls.keyRollPhones,
      hideComment: polls.comments.hide,
      invalidatePoll: polls.invalidatePoll, settled: () => projections.settled(), imageHosts: config.IMAGE_HOSTS,
    }),
    // --- end admin area ---
    ...identityRouters({ useCases: identityWeb.useCases, db: db.kysely, production: config.NODE_ENV === 'production', settled: () => projections.settled() }),
    receiptRoutes({ receipt: ledger.services ? ledger.services.receipt : async () => ({ status: 'unknown' }) }),
    adminLedgerRoutes({
      status: () => (ledger.services ? { anchoring: ledger.services.anchoring.status(), acceptsPolicyBallots: ledger.services.anchoring.acceptsPolicyBallots() } : null),
      nodeStatus: () => ledger.services?.anchoring.coordinator.nodeStatus() ?? Promise.resolve([]),
      listAlerts: () => listAlerts(db.kysely),
    }),
  ];
  // The voter-roll upload's multipart body is read after the user is known and allowed, before the CSRF check, so its _csrf field counts (uploadBody.ts).
  const middleware: Middleware[] = [uploadBody([adminRollUpload({ getPoll: polls.get })]), ...identityWeb.middleware, citizenSiteMiddleware({ reads })];
  // Templates are read and compiled once, except in development, where an edited view shows on reload.
  const http = createHttpApp({ logger, views: createViews({ cache: config.NODE_ENV !== 'development' }), portalUrl, routers, middleware, proxy: config.TRUST_PROXY, imageHosts: config.IMAGE_HOSTS });

  const server: Server = await new Promise((resolveServer) => {
    const s = http.listen(config.PORT, config.HOST, () => resolveServer(s));
  });
  keepConnectionsBeyondProxies(server);
  // The embedded database admits one process: CLIs that write (admin:create) go through this app instead.
  const localAdmin = db.dataDirLock
    ? await startLocalAdminEndpoint({ token: loadLocalAdminToken(config.DATA_DIR), grantAdmin: identity.grantAdmin, logger })
    : null;
  if (localAdmin) db.dataDirLock!.update({ adminUrl: localAdmin.url });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  const url = `http://${config.HOST}:${port}`;

  return {
    url,
    config,
    db,
    eventStore,
    projections,
    logger,
    polls,
    identity,
    routers,
    ledger: ledger.services,
    stop: async () => {
      // Stop taking requests first, then the workers behind them, the ledger last.
      clearInterval(scheduler);
      await new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      await localAdmin?.stop();
      await projections.stop();
      await ledger.stop();
      await eventStore.close();
      if (!options.db) await db.close();
      await container.unbindAll();
    },
  };
};
