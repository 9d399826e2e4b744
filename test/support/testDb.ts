import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { connectPGlite, connectPostgres, type Db } from '../../src/infra/db/connect.ts';
import { migrateToLatest } from '../../src/infra/migrations/index.ts';

/**
 * Test databases. PGlite (in memory) always; real PostgreSQL when TEST_DATABASE_URL points at a server
 * (CI sets it). Each call creates its own database and the returned close() drops it.
 */
export const postgresUrl = process.env.TEST_DATABASE_URL;

export interface TestDb extends Db {
  url?: string;
}

export const createPostgresTestDb = async (poolSize = 10): Promise<TestDb> => {
  if (!postgresUrl) throw new Error('TEST_DATABASE_URL is not set');
  const name = `t_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: postgresUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(postgresUrl);
  url.pathname = `/${name}`;
  const db = connectPostgres(url.toString(), poolSize);
  await migrateToLatest(db.kysely);
  return {
    ...db,
    url: url.toString(),
    close: async () => {
      await db.close();
      const dropper = new pg.Client({ connectionString: postgresUrl });
      await dropper.connect();
      await dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await dropper.end();
    },
  };
};

export const createPGliteTestDb = async (): Promise<TestDb> => {
  const db = await connectPGlite();
  await migrateToLatest(db.kysely);
  return db;
};

/** The database app-level tests use: PostgreSQL when configured, else PGlite. */
export const createTestDb = (): Promise<TestDb> => (postgresUrl ? createPostgresTestDb() : createPGliteTestDb());

/** Every kind of database available here, for contract suites that must pass on both. */
export const testDatabaseKinds = (): Array<{ name: string; create: () => Promise<TestDb> }> => [
  { name: 'PGlite', create: createPGliteTestDb },
  ...(postgresUrl ? [{ name: 'PostgreSQL', create: () => createPostgresTestDb() }] : []),
];
