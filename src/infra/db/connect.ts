import { Kysely, PostgresDialect } from 'kysely';
import { PGliteDialect } from 'kysely-pglite-dialect';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import type { Database } from './schema.ts';

/** A database connection: real PostgreSQL (pool) or embedded PGlite (one serialised connection). */
export interface Db {
  kysely: Kysely<Database>;
  kind: 'postgres' | 'pglite';
  /** Real PostgreSQL only: the pool, for LISTEN/NOTIFY and load tests. */
  pool?: pg.Pool;
  close(): Promise<void>;
}

// int8 as string keeps bigint precision; the adapters convert where they need numbers.
pg.types.setTypeParser(20, (v) => v);

export const connectPostgres = (url: string, poolSize = 10): Db => {
  const pool = new pg.Pool({ connectionString: url, max: poolSize });
  // An idle pooled connection can be ended by the server (restart, failover, DROP DATABASE ... FORCE):
  // without a listener that 'error' event would crash the process. The pool replaces the connection.
  pool.on('error', (error) => console.error(JSON.stringify({ level: 40, msg: 'idle PostgreSQL connection lost', code: (error as { code?: string }).code })));
  const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return { kysely, kind: 'postgres', pool, close: () => kysely.destroy() };
};

/** dataDir undefined: in memory (tests). */
export const connectPGlite = async (dataDir?: string): Promise<Db> => {
  const client = dataDir ? await PGlite.create({ dataDir }) : await PGlite.create();
  const kysely = new Kysely<Database>({ dialect: new PGliteDialect(client) });
  return { kysely, kind: 'pglite', close: () => kysely.destroy() };
};
