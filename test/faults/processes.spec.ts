/**
 * Faults an operator meets during a vote, with the real app process (src/main.ts, what `npm
 * start` runs) and its four ledger node processes, on a PostgreSQL cluster of the test's own:
 *
 * - the database: its sessions are ended while ballots are cast, then the whole cluster restarts while
 *   ballots are cast. The app must stay up, refuse what it cannot store with a 503 (never a 500 or a
 *   dropped connection), and resume projections, anchoring and its lease by itself;
 * - a ledger node: one node's port is held by a stale process at start (start-up goes on with three,
 *   the fourth joins once the port is free), then a node is killed mid-vote (restarted and caught up);
 * - the app itself, killed mid-vote and started again.
 *
 * After each, the README's accounting must hold: every ballot that got a 201 is stored, one per voter,
 * every node holds exactly the stored ballots, and the read model's tally equals each node's recount.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectPostgres, type Db } from '../../src/infra/db/connect.ts';
import { migrateToLatest } from '../../src/infra/migrations/index.ts';
import { createPostgresEventStore } from '../../src/infra/eventStore/postgresEventStore.ts';
import { withGroupCommit } from '../../src/infra/eventStore/groupCommit.ts';
import { postgresBin, startThrowawayPostgres, type ThrowawayPostgres } from './support/throwawayPostgres.ts';
import { createServer } from 'node:net';
import { freePortRun, ledgerNodePid, spawnApp, type AppProcess } from './support/appProcess.ts';
import { castDuringFault, castRefusedAgain, eventually, expectAccountingHolds, makeVoters, openVotePoll, SERVER_SECRET, type CastOutcome } from './support/vote.ts';

const bin = postgresBin();
if (!bin) console.log('skipping the PostgreSQL fault tests: no server binaries under /usr/lib/postgresql (CI installs them)');
// They bring their own cluster, so TEST_DATABASE_URL changes nothing for them: CI runs them once, in
// its first pass (without TEST_DATABASE_URL), not again in the PostgreSQL pass.
const secondPass = Boolean(process.env.TEST_DATABASE_URL);
if (bin && secondPass) console.log('the process fault tests ran in the pass without TEST_DATABASE_URL (they start their own PostgreSQL); not repeated here');

describe.skipIf(!bin || secondPass)('faults during a vote, with the real processes (PostgreSQL of its own)', () => {
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
    await eventually('/readyz is 200 again', async () => (await fetch(`${app.url}/readyz`, { signal: AbortSignal.timeout(10_000) })).status === 200);
    await castRefusedAgain(app.url, pollId, voters, outcomes);
    // db (the test's own pool) lost its sessions too: it reconnects the same way.
    await eventually('the test can read the database again', async () => (await db.kysely.selectFrom('projection_checkpoints').selectAll().execute(), true));
    await expectAccountingHolds(db.kysely, pollId, voters.length, outcomes, app.ledgerUrls, () => app.output().slice(-4000));
    expect(app.alive()).toBe(true);
    expect(sawNotReady, '/readyz answered 503 while the database was down').toBe(true);
  });

  it('a node port held by a stale process does not stop the start; the node joins once it is free; a node killed mid-vote is restarted and catches up', async () => {
    const url = await cluster.createDatabase(`${dbName}_nodes`);
    const nodesDb = connectPostgres(url, 2);
    const base = await freePortRun();
    // Port of node 4 held, as by a node left running from an earlier start.
    const squatter = createServer((socket) => socket.destroy());
    await new Promise<void>((r) => squatter.listen(base + 3, '127.0.0.1', () => r()));
    let second: AppProcess | undefined;
    const step = (what: string) => process.env.FAULT_TRACE && console.log(new Date().toISOString(), what);
    try {
      second = await spawnApp({ DATABASE_URL: url, SERVER_SECRET, ANCHOR_INTERVAL_MS: '200', LEDGER_BASE_PORT: String(base), LOG_LEVEL: 'info' });
      const app2 = second;
      step('started');
      expect(app2.output()).toContain(`ledger node 4 port ${base + 3} is held by another process`);
      expect((await fetch(`${app2.url}/healthz`)).status).toBe(200);
      await new Promise((r) => squatter.close(r));
      await eventually('node 4 started by the supervisor once its port is free', async () => (await fetch(`${app2.ledgerUrls[3]}/v1/info`, { signal: AbortSignal.timeout(5000) })).ok);

      step('node 4 joined');
      const voters = await makeVoters(nodesDb.kysely, withGroupCommit(createPostgresEventStore(nodesDb)), 40, 5);
      step('voters');
      const pollId = await openVotePoll(withGroupCommit(createPostgresEventStore(nodesDb)));
      const victim = ledgerNodePid(base + 1)!;
      expect(victim).toBeGreaterThan(0);
      const outcomes = await castDuringFault(app2.url, pollId, voters, {
        intervalMs: 40,
        faultAfter: 10,
        during: async () => void process.kill(victim, 'SIGKILL'),
      });
      step('cast');
      expect(outcomes.filter((o) => o.status !== 201), 'a general poll takes every ballot with a node down').toEqual([]);
      await eventually('the supervisor restarted node 2', async () => {
        const pid = ledgerNodePid(base + 1);
        return pid !== null && pid !== victim && (await fetch(`${app2.ledgerUrls[1]}/v1/info`, { signal: AbortSignal.timeout(5000) })).ok;
      });
      step('node 2 restarted');
      expect(app2.output()).toMatch(/ledger node 2 exited with SIGKILL.*restarting in \d+ ms/);
      await expectAccountingHolds(nodesDb.kysely, pollId, voters.length, outcomes, app2.ledgerUrls, () => app2.output().slice(-4000));
    } finally {
      squatter.close();
      await second?.stop();
      await nodesDb.close();
    }
  });

  it('the app killed mid-vote and started again: every accepted ballot is stored, anchored on every node and counted', async () => {
    const url = await cluster.createDatabase(`${dbName}_app`);
    const appDb = connectPostgres(url, 2);
    const dataDir = (await import('./support/appProcess.ts')).freshDataDir();
    const port = await freePortRun();
    const env = { DATABASE_URL: url, SERVER_SECRET, ANCHOR_INTERVAL_MS: '200', DATA_DIR: dataDir, PORT: String(port) };
    let third: AppProcess | undefined = await spawnApp(env);
    try {
      const voters = await makeVoters(appDb.kysely, withGroupCommit(createPostgresEventStore(appDb)), 40, 4);
      const pollId = await openVotePoll(withGroupCommit(createPostgresEventStore(appDb)));
      const outcomes = await castDuringFault(third.url, pollId, voters, {
        intervalMs: 40,
        faultAfter: 10,
        during: async () => {
          await third!.kill();
          third = await spawnApp(env);
        },
      });
      // While it was down, connections were refused (status 0); nothing else may come back.
      expect(outcomes.filter((o) => ![0, 201, 503].includes(o.status))).toEqual([]);
      await castRefusedAgain(third.url, pollId, voters, outcomes);
      const app3 = third;
      await expectAccountingHolds(appDb.kysely, pollId, voters.length, outcomes, app3.ledgerUrls, () => app3.output().slice(-4000));
    } finally {
      await third?.stop();
      await appDb.close();
    }
  });
});
