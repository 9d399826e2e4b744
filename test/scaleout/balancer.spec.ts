import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { SealedPollNotOpened } from '../../src/domain/errors.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { budgetPhases, runBudgetScenario, type BudgetScenarioReport } from '../../load-tests/runner/scenario.ts';
import { budgetPollDefinition, openBudgetPoll, provisionVoters } from '../../src/cli/provisionVoters.ts';
import { openPollServices, type PollServices } from '../../src/infra/compositionRoot.ts';
import { loadConfig } from '../../src/infra/config.ts';
import { lastFinalCheckpoint } from '../../src/infra/ledger/ledgerStore.ts';
import { createNodeClient } from '../../src/ledger/nodeClient.ts';
import { haproxyPath, startTopology, type AppInstance, type Topology } from '../../scripts/topology.ts';
import { ballotEntriesOnNodes, nodeLogTail } from '../load/scenarioDriver.ts';
import { createPostgresTestDb, postgresUrl, type TestDb } from '../support/testDb.ts';

/**
 * Three app instances behind HAProxy on one PostgreSQL database, four ledger nodes and the portal, all
 * real processes started by scripts/topology.ts. A CI-sized vote runs through the balancer; mid-vote
 * the instance holding the anchoring lease is killed (SIGKILL). The balancer must route around it (its
 * /readyz check), another instance must take the lease, no voter may need more than one retry, and the
 * accounting must hold: accepted = stored = ballot entries on every node = published tally.
 */
if (!postgresUrl) console.log('scale-out behind a load balancer skipped: TEST_DATABASE_URL is not set (several app instances need one PostgreSQL; embedded PGlite belongs to one process)');
const onPostgres = postgresUrl ? describe : describe.skip;

const official = { kind: 'official' as const, id: 'scaleout-official', orgId: 'scaleout' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const waitFor = async <T>(what: string, probe: () => Promise<T | null | false>, timeoutMs = 90_000): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => null);
    if (value !== null && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
};

onPostgres('several app instances behind HAProxy on one PostgreSQL (scripts/topology.ts)', () => {
  const voters = 450;
  const serverSecret = randomBytes(32);
  const dataDir = mkdtempSync(join(tmpdir(), 'civic-vote-scaleout-'));
  let db: TestDb;
  let topology: Topology;
  let services: PollServices;

  beforeAll(async () => {
    if (!haproxyPath()) throw new Error("HAProxy is missing: apt-get install haproxy (Debian's package; .ci/run installs it)");
    db = await createPostgresTestDb(2);
    topology = await startTopology({
      databaseUrl: db.url!, instances: 3, dataDir, serverSecret: serverSecret.toString('hex'),
      // Short rounds and lease tries keep the test short; the defaults are 1 s and 2 s.
      env: { ANCHOR_INTERVAL_MS: '250', LEDGER_LEASE_RETRY_MS: '300', LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn', DATABASE_POOL_SIZE: '5' },
    });
    // This process provisions voters, opens and closes the poll through the same use cases, on the same database.
    const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: db.url!, DATABASE_POOL_SIZE: '4', DATA_DIR: join(dataDir, 'driver'), SERVER_SECRET: serverSecret.toString('hex'), LOG_LEVEL: 'silent', LEDGER_NODES: 'none' });
    services = await openPollServices(config);
  }, 900_000); // eight processes start here: on a starved machine that can take minutes (the limit only ends a hang)
  afterAll(async () => {
    await services?.close().catch(() => undefined);
    await topology?.stop();
    await db?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('a vote through the balancer loses nothing when the lease holder is killed mid-vote', async () => {
    expect(await topology.balancerStates()).toEqual({ app1: 'UP', app2: 'UP', app3: 'UP' });
    const portal = await fetch(`${topology.portalUrl}nodes`);
    expect(portal.status).toBe(200);
    const holderBefore = await waitFor('an instance to hold the anchoring lease', () => topology.leaseHolder());

    const people = await provisionVoters({ db: services.db.kysely, eventStore: services.eventStore, serverSecret, nodeEnv: 'test' }, { count: voters });
    const definition = budgetPollDefinition();
    const question = definition.questions[0]!;
    const pollId = await openBudgetPoll(services.eventStore, official, definition);
    // Each instance shows a new poll once its own subscription has read the event (its reads are
    // memoised per projection checkpoint): voters arrive at a published poll, so wait for all of them.
    for (const instance of topology.instances)
      await waitFor(`instance ${instance.id} to serve the poll`, async () => (await fetch(`${instance.url}/polls/${pollId}`)).status === 200);

    const storedBallots = async () =>
      Number((await sql<{ n: string }>`SELECT count(*)::text AS n FROM events WHERE type = 'BallotCast' AND stream_id LIKE ${`ballot-${pollId}\\_%`}`.execute(services.db.kysely)).rows[0]?.n ?? 0);

    // The vote, through the balancer; each voter may try a step once more (a crash loses answers).
    const vote: Promise<BudgetScenarioReport> = runBudgetScenario({
      baseUrl: topology.balancerUrl, pollId, questionId: question.id, optionIds: question.options.map((o) => o.id), maxChoices: question.maxChoices,
      voters: people, phases: budgetPhases(voters, 45, 90), pagePath: '/polls/{pollId}', maxInFlight: voters,
      timeoutMs: 60_000, gracefulStopMs: 120_000, retries: 1,
      thresholds: { ballotP99Ms: Number.POSITIVE_INFINITY, pageP99Ms: Number.POSITIVE_INFINITY, maxErrorRate: 0, maxDropped: 0 },
    });

    // Mid-vote (a third of the ballots stored), the instance holding the lease dies without a goodbye.
    await waitFor('a third of the ballots', async () => (await storedBallots()) >= voters / 3, 120_000);
    const killed: AppInstance = holderBefore;
    await killed.kill('SIGKILL');
    const storedAtKill = await storedBallots();

    // The balancer's /readyz checks take it out; another instance takes the lease while voters keep voting.
    const states = await waitFor('the balancer to mark the dead instance down', async () => {
      const s = await topology.balancerStates();
      return s[`app${killed.id}`] === 'DOWN' ? s : null;
    });
    const holderAfter = await waitFor('another instance to take the lease', async () => {
      const h = await topology.leaseHolder();
      return h && h.id !== killed.id ? h : null;
    });
    const storedAtTakeover = await storedBallots();
    const report = await vote;

    const story = { killed: killed.appName, takenOverBy: holderAfter.appName, balancerAfterKill: states, storedAtKill, storedAtTakeover, retried: report.retried, triesPerVoter: report.triesPerVoter, acceptedOnRetry: report.acceptedOnRetry, statuses: report.statuses };
    console.log(JSON.stringify(story));
    // No voter saw more than one retry, and every voter's ballot was accepted (or found stored by the retry).
    expect(report.run.dropped).toBe(0);
    expect(report.errors).toEqual({});
    expect(Object.keys(report.triesPerVoter).every((tries) => tries === '1' || tries === '2')).toBe(true);
    expect(report.checks).toEqual({ 'page 200': { passes: voters, fails: 0 }, 'ballot 201': { passes: voters, fails: 0 } });
    expect(report.accepted).toBe(voters);

    // Close and publish (any instance's use cases would do; this process runs the same ones).
    await services.projections.settled();
    await services.polls.commands.close(pollId, official);
    // The budget poll is sealed: the lease holder (the new one) opens its ballots with 3 of the 4 nodes
    // after the close, and only then can the result be published.
    await waitFor('the sealed ballots opened by the new lease holder', async () => {
      try {
        await services.polls.commands.publishResult(pollId, official);
        return true;
      } catch (error) {
        if (error instanceof SealedPollNotOpened) return false;
        throw error;
      }
    }, 180_000);
    await services.projections.settled();
    const poll = await services.polls.get(pollId);
    const published = poll?.result?.questions.find((q) => q.questionId === question.id);
    const mismatched = question.options.filter((o) => (published?.options.find((p) => p.optionId === o.id)?.count ?? -1) !== (report.expectedCounts[o.id] ?? 0));

    // The new holder anchors everything, the published result included, and every node holds it final.
    const finalSize = await waitFor('every leaf anchored by the new holder', async () => {
      const leaves = Number((await sql<{ n: string }>`SELECT count(*)::text AS n FROM ledger_entries`.execute(services.db.kysely)).rows[0]?.n ?? 0);
      const published = (await sql<{ n: string }>`SELECT count(*)::text AS n FROM ledger_entries WHERE poll_id = ${pollId} AND event_type = 'PollResultPublished'`.execute(services.db.kysely)).rows[0]?.n;
      const final = await lastFinalCheckpoint(services.db.kysely);
      return published === '1' && final && final.size === leaves ? final.size : null;
    });
    await waitFor('every node to hold the final checkpoint', async () =>
      (await Promise.all(topology.ledger.urls.map((u) => createNodeClient(u).info()))).every((info) => info.finalSize >= finalSize),
    );
    const onNodes = await ballotEntriesOnNodes(topology.ledger.urls, pollId, (i) => nodeLogTail(join(dataDir, 'nodes'), i + 1));

    const summary = {
      accepted: report.accepted, stored: await storedBallots(), tally: poll?.result?.ballots, mismatchedOptions: mismatched.map((o) => o.id),
      entriesOnEveryNode: [...new Set(Object.values(onNodes))],
    };
    expect(summary).toEqual({ accepted: voters, stored: voters, tally: voters, mismatchedOptions: [], entriesOnEveryNode: [voters] });
    expect(holderAfter.id).not.toBe(killed.id);
    expect(storedAtKill).toBeLessThan(voters);
  }, 600_000);
});
