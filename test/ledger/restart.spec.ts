import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { startApp } from '../../src/infra/compositionRoot.ts';
import { loadConfig } from '../../src/infra/config.ts';
import { loadEntries } from '../../src/infra/ledger/ledgerStore.ts';
import { createLogger } from '../../src/infra/logger.ts';
import { createTestDb, type TestDb } from '../support/testDb.ts';
import { openPoll, waitFor } from './support.ts';

let db: TestDb | undefined;
afterAll(async () => db?.close());

it('resumes anchoring after an app restart with no gap and no duplicate, on the same nodes', async () => {
  db = await createTestDb();
  const config = loadConfig({
    NODE_ENV: 'test', PORT: '0', PORTAL_PORT: '0', LEDGER_BASE_PORT: '0', ANCHOR_INTERVAL_MS: '200', SEED_DEMO_DATA: 'false',
    DATA_DIR: mkdtempSync(join(tmpdir(), 'civic-vote-ledger-restart-')), LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
  });
  const logger = createLogger(config.LOG_LEVEL);
  const cast = (app: Awaited<ReturnType<typeof startApp>>, pollId: string, who: string) =>
    app.polls.cast({ pollId, citizenId: who, selections: { selections: { q1: ['a'] } } });

  const first = await startApp(config, { db, logger });
  const pollId = await openPoll(first);
  for (let i = 0; i < 4; i++) await cast(first, pollId, `before-${i}`);
  await first.ledger!.anchoring.settled();
  // Ballots the first run stored but did not get to anchor before it stopped.
  await first.ledger!.local!.kill(0);
  await first.ledger!.local!.kill(1);
  await cast(first, pollId, 'unanchored');
  await first.projections.settled();
  await first.stop();

  const second = await startApp(config, { db, logger });
  try {
    for (let i = 0; i < 3; i++) await cast(second, pollId, `after-${i}`);
    await second.ledger!.anchoring.settled(30_000);
    const leaves = await loadEntries(db.kysely);
    expect(leaves.map((l) => l.leafIndex)).toEqual(leaves.map((_, i) => i));
    expect(new Set(leaves.map((l) => l.eventId)).size).toBe(leaves.length);
    expect(leaves.filter((l) => l.eventType === 'BallotCast')).toHaveLength(8);
    expect(second.ledger!.anchoring.status()).toMatchObject({ size: leaves.length, finalSize: leaves.length });
    // The final note reaches the nodes after the round that made it final: wait for a quorum to hold it.
    const holding = await waitFor('three nodes holding the final checkpoint', async () => {
      const nodes = await second.ledger!.anchoring.coordinator.nodeStatus();
      const n = nodes.filter((node) => node.finalSize === leaves.length).length;
      return n >= 3 ? n : null;
    });
    expect(holding).toBeGreaterThanOrEqual(3);
  } finally {
    await second.stop();
  }
});
