import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kysely, PostgresDialect, type PostgresPool, type PostgresPoolClient } from 'kysely';
import { PGliteDialect } from 'kysely-pglite-dialect';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import type { Database } from './schema.ts';
import { lockDataDir, type DataDirLock } from './dataDirLock.ts';

/** A database connection: real PostgreSQL (pool) or embedded PGlite (one serialised connection). */
export interface Db {
  kysely: Kysely<Database>;
  kind: 'postgres' | 'pglite';
  /** Real PostgreSQL only: the pool, for LISTEN/NOTIFY and load tests. */
  pool?: pg.Pool;
  /** Real PostgreSQL only: whether the last connection attempt failed (the pool is backing off). */
  unavailable?: () => boolean;
  /** Embedded PGlite on a directory only: this process's writer lock on it. */
  dataDirLock?: DataDirLock;
  close(): Promise<void>;
}

// int8 as string keeps bigint precision; the adapters convert where they need numbers.
pg.types.setTypeParser(20, (v) => v);

/**
 * The database cannot be reached, or it ended the connection mid-request (a restart, a failover,
 * pg_terminate_backend). Requests answer 503 with this (the HTTP error handler maps `status`); the
 * work behind them (projections, anchoring, the lease) retries on its own. The original driver error
 * is the `cause`.
 */
export class DatabaseUnavailableError extends Error {
  readonly status = 503;
  readonly expose = true;
  readonly code = 'database-unavailable';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DatabaseUnavailableError';
  }
}

// Server codes: admin/crash shutdown, cannot connect now (starting or stopping), connection exceptions,
// too many connections. Socket codes: the server is gone or unreachable.
const LOST_SQLSTATES = new Set(['57P01', '57P02', '57P03', '08000', '08001', '08003', '08004', '08006', '53300']);
const LOST_SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
// node-postgres says these in words only.
const LOST_MESSAGES = [/Connection terminated/i, /not queryable/i, /timeout exceeded when trying to connect/i, /Connection ended/i];

/** Whether an error means the database connection was lost or could not be made (not a bad query). */
export const isConnectionLoss = (error: unknown): boolean => {
  if (error instanceof DatabaseUnavailableError) return true;
  if (typeof error !== 'object' || error === null) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (LOST_SQLSTATES.has(code) || LOST_SOCKET_CODES.has(code))) return true;
  const message = (error as { message?: unknown }).message;
  if (typeof message === 'string' && LOST_MESSAGES.some((re) => re.test(message))) return true;
  // AggregateError from a dual-stack connect (both addresses refused).
  const errors = (error as { errors?: unknown }).errors;
  return Array.isArray(errors) && errors.some(isConnectionLoss);
};

/** For people and API clients; the driver's own error stays in `cause` (it may name hosts). */
const UNAVAILABLE_MESSAGE = 'The database is unavailable at the moment: try again shortly';

/** The typed error for a lost connection; any other error unchanged. */
const translate = (error: unknown): unknown =>
  isConnectionLoss(error) && !(error instanceof DatabaseUnavailableError)
    ? new DatabaseUnavailableError(UNAVAILABLE_MESSAGE, { cause: error })
    : error;

type Warn = (msg: string, fields: Record<string, unknown>) => void;
const logLine: Warn = (msg, fields) => console.error(JSON.stringify({ level: 40, time: Date.now(), msg, ...fields }));

/**
 * The pool kysely uses, in front of pg's: it turns lost connections into DatabaseUnavailableError and
 * backs off while the server is down. After a failed connect, requests fail at once (503) until the
 * back-off (250 ms doubling to 5 s) has passed; then one request tries again, and a success ends the
 * outage. Without it every request of an outage would wait for its own connection attempt. Broken
 * clients are not reused: pg-pool drops a released client that is no longer queryable. Written here
 * because it is a few lines around pg-pool, which has no back-off of its own; a circuit-breaker
 * library would add a dependency for the same three fields.
 */
export const resilientPool = (pool: pg.Pool, warn: Warn = logLine): PostgresPool & { unavailable(): boolean } => {
  let delayMs = 0;
  let retryAt = 0;
  let probing = false;
  const failed = (error: unknown) => {
    const first = delayMs === 0;
    delayMs = Math.min(first ? 250 : delayMs * 2, 5000);
    retryAt = Date.now() + delayMs;
    if (first) warn('database unavailable: backing off', { code: (error as { code?: string }).code, error: (error as Error).message });
  };
  const wrapClient = (client: pg.PoolClient): PostgresPoolClient => ({
    query: ((...args: unknown[]) => {
      const result = (client.query as (...a: unknown[]) => unknown)(...args);
      // A cursor (streaming) is returned as it is; promises get their connection losses typed.
      return result && typeof (result as Promise<unknown>).then === 'function' ? (result as Promise<unknown>).catch((e: unknown) => Promise.reject(translate(e))) : result;
    }) as PostgresPoolClient['query'],
    release: () => client.release(),
  });
  return {
    unavailable: () => delayMs > 0,
    connect: async () => {
      const backingOff = delayMs > 0;
      if (backingOff && (Date.now() < retryAt || probing)) {
        throw new DatabaseUnavailableError(UNAVAILABLE_MESSAGE);
      }
      probing = backingOff;
      try {
        const client = await pool.connect();
        if (backingOff) warn('database available again', { afterMs: delayMs });
        delayMs = 0;
        return wrapClient(client);
      } catch (error) {
        if (isConnectionLoss(error)) failed(error);
        throw translate(error);
      } finally {
        if (backingOff) probing = false;
      }
    },
    end: () => pool.end(),
  };
};

export const connectPostgres = (url: string, poolSize = 10): Db => {
  // A connect that hangs (a host gone without a reset) must end as a 503, not hold the request forever.
  const pool = new pg.Pool({ connectionString: url, max: poolSize, connectionTimeoutMillis: 10_000 });
  // An idle pooled connection can be ended by the server (restart, failover, DROP DATABASE ... FORCE):
  // without a listener that 'error' event would crash the process. The pool replaces the connection.
  pool.on('error', (error) => logLine('idle PostgreSQL connection lost', { code: (error as { code?: string }).code }));
  // A checked-out client has no listener of pg-pool's: a server that ends the session between two
  // queries of a request (pg_terminate_backend, a shutdown) makes it emit 'error', which unheard would
  // end the process. Heard, the client is marked unusable, the request's next query fails (503), and
  // pg-pool drops the client when it is released.
  pool.on('connect', (client) => client.on('error', () => undefined));
  const dialectPool = resilientPool(pool);
  const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool: dialectPool }) });
  return { kysely, kind: 'postgres', pool, unavailable: dialectPool.unavailable, close: () => kysely.destroy() };
};

/**
 * A new PGlite data directory starts from a copy of a freshly initialised one, kept per PGlite version in
 * node_modules/.cache/civic-vote/, instead of running PGlite's initdb: initdb runs a second WebAssembly
 * Postgres and took 14-22 s and ~1 GB of memory on a loaded machine (the first `pb:import` on a new
 * DATA_DIR); loading the copy took ~4 s and under half the memory. The copy is the data directory
 * right after initdb, before any migration or data, so it is what initdb would write again (the
 * cluster's system identifier aside, which nothing here reads). Without the cache (read-only, another
 * PGlite version, or PGLITE_INITDB_COPY=0) initdb runs as before.
 */
const initdbTemplate = (): string | undefined => {
  // PGLITE_INITDB_COPY=0: always run initdb (the benchmark's baseline; or to rule the copy out).
  if (process.env.PGLITE_INITDB_COPY === '0') return undefined;
  try {
    const root = fileURLToPath(new URL('../../../', import.meta.url));
    const { version } = JSON.parse(readFileSync(join(root, 'node_modules/@electric-sql/pglite/package.json'), 'utf8')) as { version: string };
    return join(root, 'node_modules/.cache/civic-vote', `pglite-${version}-initdb.tar.gz`);
  } catch {
    return undefined;
  }
};

const readInitdbTemplate = (): Blob | undefined => {
  const file = initdbTemplate();
  try {
    return file && existsSync(file) ? new Blob([readFileSync(file)]) : undefined;
  } catch {
    return undefined;
  }
};

const saveInitdbTemplate = async (client: PGlite): Promise<void> => {
  const file = initdbTemplate();
  if (!file) return;
  try {
    const dump = await client.dumpDataDir('gzip');
    mkdirSync(dirname(file), { recursive: true });
    // Written aside and renamed: a process starting at the same time never reads half a file.
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, Buffer.from(await dump.arrayBuffer()));
    renameSync(tmp, file);
  } catch {
    // Only a cache: the next new data directory runs initdb again.
  }
};

/**
 * dataDir undefined: in memory (tests). With a directory, this process takes the directory's writer
 * lock first (dataDirLock.ts): a second process on a data directory in use would otherwise write into
 * a database the first one holds in memory, and one of them would lose its writes.
 */
export const connectPGlite = async (dataDir?: string): Promise<Db> => {
  const lock = dataDir ? lockDataDir(dataDir) : null;
  try {
    const fresh = dataDir !== undefined && !existsSync(join(dataDir, 'PG_VERSION'));
    const template = fresh ? readInitdbTemplate() : undefined;
    const client = dataDir ? await PGlite.create({ dataDir, ...(template ? { loadDataDir: template } : {}) }) : await PGlite.create();
    if (fresh && !template) await saveInitdbTemplate(client);
    const kysely = new Kysely<Database>({ dialect: new PGliteDialect(client) });
    return {
      kysely,
      kind: 'pglite',
      ...(lock ? { dataDirLock: lock } : {}),
      close: async () => {
        await kysely.destroy();
        lock?.release();
      },
    };
  } catch (error) {
    lock?.release();
    throw error;
  }
};
