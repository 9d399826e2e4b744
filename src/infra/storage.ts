/**
 * The storage half of the composition root: the database (PostgreSQL or embedded PGlite, migrated), the
 * event store, the read models, and the poll use cases over them without the web server. Split out of
 * compositionRoot.ts so that the command-line tools that need only storage (pb:import, pb:export,
 * projections:rebuild, admin:create) do not load the web app, the ledger and the portal before their
 * first line (seconds of module loading on a loaded machine). compositionRoot.ts re-exports all of it.
 */
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { randomBytes, randomUUID } from 'node:crypto';
import { join, resolve } from 'node:path';
import type { EventStore } from '../app/eventStore.ts';
import type { Config } from './config.ts';
import { connectPGlite, connectPostgres, type Db } from './db/connect.ts';
import { migrateToLatest } from './migrations/index.ts';
import { createPostgresEventStore } from './eventStore/postgresEventStore.ts';
import { createLogger, type Logger } from './logger.ts';
import { startProjectionRunner, type ProjectionRunner, type AnyReadModel } from './projections/runner.ts';
import { platformStatsReadModel } from './readModels/platformStats.ts';
import { withGroupCommit } from './eventStore/groupCommit.ts';
import { pollCommands } from '../app/polls/pollCommands.ts';
import { countedBallots } from '../app/polls/pollResults.ts';
import * as pollQueries from './readModels/polls.ts';
import { buildPolls, type Polls } from './polls/pollServices.ts';
import { openedBallots } from '../app/polls/sealedOpening.ts';
import { identityReadModels } from './readModels/citizens.ts';

/** The key for voter tags and voter-roll hashes: from SERVER_SECRET, or made once and kept in DATA_DIR. */
export const loadServerSecret = (config: Config): Buffer => {
  if (config.SERVER_SECRET) return Buffer.from(config.SERVER_SECRET, 'hex');
  const file = join(config.DATA_DIR, 'server-secret.hex');
  if (existsSync(file)) return Buffer.from(readFileSync(file, 'utf8').trim(), 'hex');
  const secret = randomBytes(32);
  writeFileSync(file, secret.toString('hex'), { mode: 0o600 });
  return secret;
};

/** Every read model the projection runner maintains. */
export const readModels: AnyReadModel[] = [platformStatsReadModel, ...pollQueries.pollReadModels, ...identityReadModels];

/** Where the embedded PGlite database lives (without DATABASE_URL). */
export const embeddedDbDir = (config: Config): string => join(resolve(config.DATA_DIR), 'app-pglite');

/** The read-model database (and, by default, the event store's): PostgreSQL or PGlite, migrated. */
export const openDb = async (config: Config): Promise<Db> => {
  mkdirSync(resolve(config.DATA_DIR), { recursive: true });
  const db = config.DATABASE_URL
    ? connectPostgres(config.DATABASE_URL, config.DATABASE_POOL_SIZE)
    : await connectPGlite(embeddedDbDir(config));
  await migrateToLatest(db.kysely);
  return db;
};

/** The configured event store; the EventStoreDB client (gRPC) is loaded only when it is the one configured. */
export const createEventStore = async (config: Config, db: Db): Promise<EventStore> => {
  if (config.EVENT_STORE !== 'eventstoredb') return createPostgresEventStore(db);
  const { createEventStoreDbEventStore } = await import('./eventStore/eventStoreDbEventStore.ts');
  return createEventStoreDbEventStore(config.EVENTSTORE_CONNECTION_STRING!);
};

/** Database and event store from the config: for CLIs that need no web server. */
export const openInfrastructure = async (config: Config): Promise<{ db: Db; eventStore: EventStore }> => {
  const db = await openDb(config);
  return { db, eventStore: await createEventStore(config, db) };
};

// --- poll services without the web server (Pabulib CLIs) -------------------------------------------
type PollWiring = Pick<Parameters<typeof buildPolls>[0], 'eventStore' | 'projections' | 'serverSecret' | 'now' | 'phoneHashOfCitizen' | 'ledgerAcceptsPolicyBallots' | 'sealingKey'> & { db: Db };

/** The poll commands and services over one event store: shared by startApp and openPollServices. */
export const wirePolls = (deps: PollWiring): Polls => {
  const { db, eventStore, projections, now } = deps;
  const commands = pollCommands({
    readStream: eventStore.readStream,
    append: eventStore.append,
    now,
    newPollId: () => randomUUID(),
    loadBallots: countedBallots({
      currentBallots: async (pollId) => {
        await projections.settled();
        return pollQueries.loadCurrentBallots(db.kysely, pollId);
      },
      hasBallots: async (pollId) => {
        await projections.settled();
        return pollQueries.hasCurrentBallots(db.kysely, pollId);
      },
      openedBallots: openedBallots(eventStore.readStream),
    }),
  });
  return buildPolls({ ...deps, db: db.kysely, commands });
};

export interface PollServices {
  db: Db;
  eventStore: EventStore;
  projections: ProjectionRunner;
  polls: Polls;
  close(): Promise<void>;
}

/**
 * The poll use cases on the configured storage, with group commit and the projection runner but no web
 * server and no scheduler: for CLIs that cast and close through the real paths. No voter rolls (no
 * identity wiring) and no ledger gate.
 */
export const openPollServices = async (config: Config, logger: Logger = createLogger(config.LOG_LEVEL)): Promise<PollServices> => {
  const { db, eventStore: store } = await openInfrastructure(config);
  const eventStore = withGroupCommit(store);
  const projections = await startProjectionRunner({ db: db.kysely, eventStore, readModels, logger });
  const polls = wirePolls({
    db, eventStore, projections, serverSecret: loadServerSecret(config), now: () => new Date().toISOString(),
    phoneHashOfCitizen: async () => null,
    ledgerAcceptsPolicyBallots: () => true,
    // No ledger here, so no nodes' key: sealed polls take no ballots through these CLIs.
    sealingKey: () => null,
  });
  const close = async () => {
    await projections.stop();
    await eventStore.close();
    await db.close();
  };
  return { db, eventStore, projections, polls, close };
};
// --- end poll services without the web server ---------------------------------------------------------
