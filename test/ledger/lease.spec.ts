import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../../src/infra/compositionRoot.ts';
import { loadConfig } from '../../src/infra/config.ts';
import { connectPostgres } from '../../src/infra/db/connect.ts';
import { LEASE_LOCK_NAMESPACE } from '../../src/infra/db/lease.ts';
import { LEDGER_ORIGIN } from '../../src/infra/ledger/ledgerServices.ts';
import { loadEntries } from '../../src/infra/ledger/ledgerStore.ts';
import { createLogger } from '../../src/infra/logger.ts';
import { nobleEd25519, nobleSha256 } from '../../src/ledger/index.ts';
import { startLocalLedger, type LocalLedger } from '../../src/ledger/node/localCluster.ts';
import { verifyReceipt } from '../../src/ledger/receipt.ts';
import { createPostgresTestDb, postgresUrl, type TestDb } from '../support/testDb.ts';
import { openPoll, waitFor } from './support.ts';

// Two app instances need one database both can reach: embedded PGlite belongs to a single process.
if (!postgresUrl) console.log('anchoring lease across app instances skipped: TEST_DATABASE_URL is not set (PGlite is single-instance)');
const onPostgres = postgresUrl ? describe : describe.skip;

onPostgres('the anchoring lease across two app instances on one PostgreSQL database', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  });

  /** An instance of the app on the shared database and the shared (remote) nodes, with its own pool. */
  const startInstance = async (db: TestDb, ledger: LocalLedger, token: string): Promise<RunningApp> => {
    const config = loadConfig({
      NODE_ENV: 'test', PORT: '0', PORTAL_PORT: '0', SEED_DEMO_DATA: 'false', LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
      DATA_DIR: mkdtempSync(join(tmpdir(), 'civic-vote-lease-')), LEDGER_NODES: ledger.urls.join(','), LEDGER_COORDINATOR_TOKEN: token,
      ANCHOR_INTERVAL_MS: '200', LEDGER_LEASE_RETRY_MS: '200',
    });
    const pool = connectPostgres(db.url!);
    const app = await startApp(config, { db: pool, logger: createLogger(config.LOG_LEVEL) });
    let stopped = false;
    const stop = async () => {
      if (stopped) return;
      stopped = true;
      await app.stop();
      await pool.close();
    };
    cleanups.push(stop);
    return { ...app, stop };
  };
  const roleOf = (app: RunningApp) => app.ledger!.anchoring.status().role;
  /** Ends the PostgreSQL session that holds the anchoring lock, as a crashed host or a cut network would. */
  const killLeaseHolderSession = (db: TestDb) =>
    sql`SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND classid = ${LEASE_LOCK_NAMESPACE}
        AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`.execute(db.kysely);

  it('one instance anchors, the other serves verifiable receipts, and the lease moves when the holder dies or stops, with no gap or duplicate', async () => {
    const db = await createPostgresTestDb();
    cleanups.push(() => db.close());
    const token = randomBytes(32).toString('hex');
    const ledger = await startLocalLedger({ dataDir: mkdtempSync(join(tmpdir(), 'civic-vote-lease-nodes-')), basePort: 0, token, origin: LEDGER_ORIGIN });
    cleanups.push(() => ledger.stop());

    const first = await startInstance(db, ledger, token);
    const second = await startInstance(db, ledger, token);
    expect([roleOf(first), roleOf(second)]).toEqual(['active', 'standby']);

    const pollId = await openPoll(first);
    const cast = (app: RunningApp, who: string) => app.polls.cast({ pollId, citizenId: who, selections: { selections: { q1: ['a'] } } });
    const early = await cast(second, 'voter-0');
    await cast(first, 'voter-1');
    await second.ledger!.anchoring.settled(30_000);

    // The standby has no Merkle tree: its receipt's proof comes from the nodes and must verify.
    const receipt = await waitFor('a receipt from the standby', async () => {
      const res = await fetch(`${second.url}/api/receipts/${early.tracker}`);
      return res.status === 200 ? ((await res.json()) as unknown) : null;
    });
    const check = verifyReceipt(nobleSha256, nobleEd25519, receipt, { verifierKeys: ledger.verifierKeys, quorum: 3, origin: LEDGER_ORIGIN });
    expect(check.checks.filter((c) => !c.ok)).toEqual([]);
    expect(second.ledger!.anchoring.status()).toMatchObject({ role: 'standby', pendingEntries: 0 });

    // The holder's session ends without a goodbye: the standby takes the lease, the old holder stands by.
    await killLeaseHolderSession(db);
    await waitFor('the standby to take over', async () => roleOf(second) === 'active' && roleOf(first) === 'standby');
    await cast(first, 'voter-2');
    await cast(second, 'voter-3');
    await first.ledger!.anchoring.settled(30_000);

    // A clean stop hands the lease back.
    await second.stop();
    await waitFor('the first instance to take the lease back', async () => roleOf(first) === 'active');
    await cast(first, 'voter-4');
    await first.ledger!.anchoring.settled(30_000);

    const leaves = await loadEntries(db.kysely);
    expect(leaves.map((l) => l.leafIndex)).toEqual(leaves.map((_, i) => i));
    expect(new Set(leaves.map((l) => l.eventId)).size).toBe(leaves.length);
    expect(leaves.filter((l) => l.eventType === 'BallotCast')).toHaveLength(5);
    expect(first.ledger!.anchoring.status()).toMatchObject({ role: 'active', size: leaves.length, finalSize: leaves.length });
    const holding = await waitFor('three nodes holding the final checkpoint', async () => {
      const n = (await first.ledger!.anchoring.coordinator.nodeStatus()).filter((node) => node.finalSize === leaves.length).length;
      return n >= 3 ? n : null;
    });
    expect(holding).toBeGreaterThanOrEqual(3);
  });
});
