import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/infra/config.ts';
import { startApp, type RunningApp } from '../../src/infra/compositionRoot.ts';
import { createLogger } from '../../src/infra/logger.ts';
import { createTestDb, type TestDb } from './testDb.ts';

/**
 * The real app on a fresh migrated database (PostgreSQL when TEST_DATABASE_URL is set, else PGlite),
 * listening on a random loopback port. stop() stops it and drops the database.
 */
export const startTestApp = async (
  env: Record<string, string> = {},
  /** A migrated database and a data directory made beforehand (bench 'history' seeds them in another process). */
  given: { db?: TestDb; dataDir?: string } = {},
): Promise<RunningApp> => {
  const db = given.db ?? (await createTestDb());
  const dataDir = given.dataDir ?? mkdtempSync(join(tmpdir(), 'civic-vote-test-'));
  const config = loadConfig({ NODE_ENV: 'test', PORT: '0', PORTAL_PORT: '0', LEDGER_BASE_PORT: '0', DATA_DIR: dataDir, LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent', SEED_DEMO_DATA: 'false', ...env });
  const app = await startApp(config, { db, logger: createLogger(config.LOG_LEVEL) });
  return {
    ...app,
    stop: async () => {
      await app.stop();
      await db.close();
    },
  };
};
