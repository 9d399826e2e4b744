import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningApp } from '../../src/infra/compositionRoot.ts';
import { startApp } from '../../src/infra/compositionRoot.ts';
import { loadConfig } from '../../src/infra/config.ts';
import { createLogger } from '../../src/infra/logger.ts';
import type { TestDb } from '../support/testDb.ts';
export { openPoll } from '../support/pollFixtures.ts';
import { IllegalPollTransition } from '../../src/domain/errors.ts';

/** Like startTestApp, on a database the caller picks (the tamper tests run on PGlite and PostgreSQL). */
export const startAppOn = async (createDb: () => Promise<TestDb>, env: Record<string, string> = {}): Promise<RunningApp> => {
  const db = await createDb();
  const dataDir = mkdtempSync(join(tmpdir(), 'civic-vote-ledger-test-'));
  const config = loadConfig({ NODE_ENV: 'test', PORT: '0', PORTAL_PORT: '0', LEDGER_BASE_PORT: '0', DATA_DIR: dataDir, LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent', SEED_DEMO_DATA: 'false', ...env });
  const app = await startApp(config, { db, logger: createLogger(config.LOG_LEVEL) });
  return { ...app, stop: async () => (await app.stop(), await db.close()) };
};

/** Polls until `probe` gives a truthy value; the timeout only ends a test that would hang, it asserts nothing. */
export const waitFor = async <T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs = 30_000): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

/** Publishes a closed poll's result; the scheduler may have published a citizen poll already. */
export const publish = async (app: RunningApp, pollId: string, by: Parameters<RunningApp['polls']['commands']['publishResult']>[1]) => {
  try {
    await app.polls.commands.publishResult(pollId, by);
  } catch (error) {
    if ((error as { code?: string }).code !== new IllegalPollTransition('publish', 'ResultPublished').code) throw error;
  }
};

/**
 * Closes a poll once the read model holds all `ballots` and publishes it. Waiting first matters: the
 * published tally comes from the read model, and on a shared PostgreSQL server an open transaction in
 * another database can hide fresh events from the projection runner for a moment (see the report).
 */
export const closeAndPublish = async (app: RunningApp, pollId: string, ballots: number, by: Parameters<RunningApp['polls']['commands']['close']>[1]) => {
  await waitFor('read model has every ballot', async () => (await app.polls.get(pollId))?.ballots === ballots);
  await app.polls.commands.close(pollId, by);
  await publish(app, pollId, by);
};
