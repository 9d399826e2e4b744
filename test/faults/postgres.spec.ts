/**
 * The app keeps serving through database faults (issue 12), on a PostgreSQL cluster of the test's own:
 * its sessions are ended while ballots are cast, then the whole cluster restarts while ballots are
 * cast. The app process must stay up, refuse what it cannot store with a 503 (never a 500 or a dropped
 * connection), resume projections, anchoring and its lease by itself, and the accounting must hold.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectPostgres, type Db } from '../../src/infra/db/connect.ts';
import { migrateToLatest } from '../../src/infra/migrations/index.ts';
import { createPostgresEventStore } from '../../src/infra/eventStore/postgresEventStore.ts';
import { withGroupCommit } from '../../src/infra/eventStore/groupCommit.ts';
import { postgresBin, startThrowawayPostgres, type ThrowawayPostgres } from './support/throwawayPostgres.ts';
import { spawnApp, type AppProcess } from './support/appProcess.ts';
import { castDuringFault, castRefusedAgain, eventually, expectAccountingHolds, makeVoters, openVotePoll, SERVER_SECRET, type CastOutcome } from './support/vote.ts';

const bin = postgresBin();
if (!bin) console.log('skipping the PostgreSQL fault tests: no server binaries under /usr/lib/postgresql (CI installs them)');

describe.skipIf(!bin)('database faults during a vote (PostgreSQL of its own)', () => {
  let cluster: ThrowawayPostgres;
  let db: Db;
  let app: AppProcess;
  const dbName = `faults_${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    cluster = await startThrowawayPostgres();
    const url = await cluster.createDatabase(dbName);
    db = connectPostgres(url, 4);
    await migrateToLatest(db.kysely);
    app = await spawnApp({ DATABASE_URL: url, SERVER_SECRET, ANCHOR_INTERVAL_MS: '200', LEDGER_LEASE_RETRY_MS: '300', DATABASE_POOL_SIZE: '8' });
  });
  afterAll(async () => {
    await app?.stop();
    await db?.close();
    await cluster?.stop();
  });

  const eventStore = () => withGroupCommit(createPostgresEventStore(db));

  /** Only 201 and 503 may come back during a fault; anything else is a bug worth its own message. */
  const expectOnly201or503 = (outcomes: CastOutcome[]) => {
    const odd = outcomes.filter((o) => o.status !== 201 && o.status !== 503);
    expect(odd, `answers other than 201 and 503 during the fault\n${app.output().slice(-3000)}`).toEqual([]);
  };

  it('ending every session of the app during casting: the app stays up, refuses with 503, and every accepted ballot is counted everywhere', async () => {
    const voters = await makeVoters(db.kysely, eventStore(), 60, 7);
    const pollId = await openVotePoll(eventStore());
    const outcomes = await castDuringFault(app.url, pollId, voters, {
      intervalMs: 40,
      faultAfter: 10,
      during: async () => {
        // Three rounds, 300 ms apart: sessions in the middle of a ballot, idle ones, and fresh ones.
        for (let k = 0; k < 3; k++) {
          await cluster.terminateBackends(dbName);
          await new Promise((r) => setTimeout(r, 300));
        }
      },
    });
    expect(app.alive(), `the app process died:\n${app.output().slice(-3000)}`).toBe(true);
    expectOnly201or503(outcomes);
    await castRefusedAgain(app.url, pollId, voters, outcomes);
    await expectAccountingHolds(db.kysely, pollId, voters.length, outcomes, app.ledgerUrls, () => app.output().slice(-4000));
    expect(app.alive()).toBe(true);
  });

  it('restarting the PostgreSQL cluster during casting: the app stays up, answers 503 while it is down, and resumes by itself', async () => {
    const voters = await makeVoters(db.kysely, eventStore(), 60, 6);
    const pollId = await openVotePoll(eventStore());
    let sawNotReady = false;
    const outcomes = await castDuringFault(app.url, pollId, voters, {
      intervalMs: 40,
      faultAfter: 10,
      during: async () => {
        const restarted = cluster.restart();
        // While it restarts, /readyz says the database is missing (not a hang, not a 200).
        for (let k = 0; k < 20 && !sawNotReady; k++) {
          const res = await fetch(`${app.url}/readyz`, { signal: AbortSignal.timeout(10_000) }).catch(() => null);
          if (res?.status === 503) sawNotReady = true;
          else await new Promise((r) => setTimeout(r, 50));
        }
        await restarted;
      },
    });
    expect(app.alive(), `the app process died:\n${app.output().slice(-3000)}`).toBe(true);
    expectOnly201or503(outcomes);
    expect(outcomes.some((o) => o.status === 503), 'some ballot met the restart').toBe(true);
    // The pool left its back-off and the app is ready again, without a restart of the app.
    await eventually('/readyz is 200 again', async () => (await fetch(`${app.url}/readyz`)).status === 200);
    await castRefusedAgain(app.url, pollId, voters, outcomes);
    // db (the test's own pool) lost its sessions too: it reconnects the same way.
    await eventually('the test can read the database again', async () => (await db.kysely.selectFrom('projection_checkpoints').selectAll().execute(), true));
    await expectAccountingHolds(db.kysely, pollId, voters.length, outcomes, app.ledgerUrls, () => app.output().slice(-4000));
    expect(app.alive()).toBe(true);
    expect(sawNotReady, '/readyz answered 503 while the database was down').toBe(true);
  });
});
