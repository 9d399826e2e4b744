import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import type { RunningApp } from '../../src/infra/compositionRoot.ts';
import { SealedPollNotOpened } from '../../src/domain/errors.ts';
import { createNodeClient, ENTRIES_PAGE } from '../../src/ledger/nodeClient.ts';
import { budgetPollDefinition, openBudgetPoll, provisionVoters, writeVotersFile } from '../../src/cli/provisionVoters.ts';
import { budgetPhases, runBudgetScenario, type BudgetScenarioReport, type Thresholds } from '../../load-tests/runner/scenario.ts';

/**
 * The issue-8 scenario end to end against a running app: provision voters and sessions, open a budget
 * poll (50 projects, approve up to 5), run the open-model load, close and publish, then account for
 * every ballot: accepted by the API = events stored = ballot entries in every ledger node's final log =
 * ballots in the published tally, option by option.
 * Shared by the CI test (small, in-process runner) and the benchmark (large, runner in a child process).
 */
export interface EndToEndOptions {
  voters: number;
  rate: number;
  peakRate: number;
  maxInFlight: number;
  thresholds: Thresholds;
  /** Run the load generator in its own process (its own event loop), as a load tester would. */
  childRunner: boolean;
  /** Per-request timeout of the in-process runner (default 30 s): the CI test shares its cores with other suites. */
  timeoutMs?: number;
  /** Sampled every 100 ms while the load runs. */
  onSample?: () => void;
  /** Told when each step starts (the bench keeps memory peaks per step). */
  onStep?: (step: 'provision' | 'load' | 'close') => void;
  /**
   * Provision the voters in their own process (`npm run load:provision` on this database), as an
   * operator would before a vote, so that the app process holds none of the voter list: its memory is
   * then the app's own. Needs the app's PostgreSQL URL; otherwise voters are provisioned in this process.
   */
  provisionInChild?: { databaseUrl: string };
}

export interface Accounting {
  accepted: number;
  eventsStored: number;
  tallyBallots: number;
  /**
   * Ballot entries of this poll held in each ledger node's final log, by node URL (empty when the app
   * runs without a ledger, LEDGER_NODES=none).
   */
  ledgerEntries: Record<string, number>;
  /** Options whose published count differs from the approvals the runner saw accepted. */
  mismatchedOptions: string[];
  lost: number;
}

export interface EndToEndResult {
  pollId: string;
  provisionMs: number;
  loadMs: number;
  closeAndTallyMs: number;
  totalMs: number;
  report: BudgetScenarioReport;
  accounting: Accounting;
}

/**
 * Publishes the result; a sealed poll's result waits until 3 ledger nodes opened its ballots, so the
 * opening is run (and the publication retried) until then.
 */
export const publishWhenOpened = async (app: RunningApp, pollId: string, by: Parameters<RunningApp['polls']['commands']['publishResult']>[1], waitMs = ANCHOR_WAIT_MS): Promise<void> => {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      await app.polls.commands.publishResult(pollId, by);
      return;
    } catch (error) {
      if (!(error instanceof SealedPollNotOpened) || Date.now() > deadline) throw error;
      await app.ledger?.openSealedNow();
      await new Promise((r) => setTimeout(r, 500));
    }
  }
};

/** How long the end-to-end run waits for anchoring to make every ballot final after the close. */
const ANCHOR_WAIT_MS = 600_000;

/**
 * A node read, tried three times; the last failure names its cause (the fetch error beneath the
 * client's) and the node's log tail.
 */
const withRetry = async <T>(read: () => Promise<T>, logTail: () => string): Promise<T> => {
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (error) {
      if (attempt >= 3) {
        const fetchError = (error as { cause?: { cause?: unknown } }).cause;
        const cause = fetchError?.cause ?? fetchError;
        throw new Error(`${String(error)}${cause ? ` (${String(cause)})` : ''}; node log tail:\n${logTail()}`, { cause: error });
      }
      await new Promise((r) => setTimeout(r, 500 * attempt));
    }
  }
};

/** The last lines of node `id`'s log, where the nodes were started under `dataDir`. */
export const nodeLogTail = (dataDir: string, id: number): string => {
  try {
    return readFileSync(join(dataDir, `ledger-node-${id}.log`), 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return '(no local node log)';
  }
};

/**
 * Counts the ballot entries of one poll in every node's final log, a page at a time through the
 * project's node client (public reads). Waits first until the app's anchoring has every leaf final,
 * so the count is the whole poll.
 */
export const ledgerEntriesOfPoll = async (app: RunningApp, pollId: string): Promise<Record<string, number>> => {
  const ledger = app.ledger;
  if (!ledger) return {};
  const deadline = Date.now() + ANCHOR_WAIT_MS;
  for (;;) {
    const status = ledger.anchoring.status();
    if (status.finalSize >= status.size && status.pendingEntries === 0) break;
    if (Date.now() > deadline) throw new Error(`anchoring did not make every leaf final within ${ANCHOR_WAIT_MS} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return ballotEntriesOnNodes(ledger.urls, pollId, (i) => nodeLogTail(app.config.DATA_DIR, i + 1));
};

/**
 * The ballot entries of one poll in each node's final log, by node URL: the node's own answers, read
 * through the project's node client. `logTail(i)` names node i's log in an error.
 */
export const ballotEntriesOnNodes = async (urls: string[], pollId: string, logTail: (i: number) => string): Promise<Record<string, number>> => {
  const counts: Record<string, number> = {};
  for (const [i, url] of urls.entries()) {
    const node = createNodeClient(url);
    const read = <T>(what: () => Promise<T>) => withRetry(what, () => logTail(i));
    const { finalSize } = await read(() => node.info());
    let n = 0;
    for (let start = 0; start < finalSize; start += ENTRIES_PAGE) {
      const page = await read(() => node.entries(start, Math.min(finalSize, start + ENTRIES_PAGE)));
      for (const { entry } of page) {
        const e = JSON.parse(entry) as { kind?: string; pollId?: string };
        if (e.kind === 'ballot' && e.pollId === pollId) n++;
      }
    }
    counts[url] = n;
  }
  return counts;
};

const official = { kind: 'official' as const, id: 'load-test-official', orgId: 'load-test' };
const runnerMain = fileURLToPath(new URL('../../load-tests/runner/main.ts', import.meta.url));
const provisionMain = fileURLToPath(new URL('../../src/cli/provisionVoters.ts', import.meta.url));

/** The poll page when the citizen site serves one, else the JSON poll (the same read). */
const pagePathFor = async (baseUrl: string, pollId: string): Promise<string> => {
  const res = await fetch(`${baseUrl}/polls/${pollId}`);
  return res.status === 200 ? '/polls/{pollId}' : '/api/polls/{pollId}';
};

/** Runs `npm run load:run` as a child process (its own event loop) and returns its JSON report. */
export const runLoadRunnerProcess = async (args: string[]): Promise<BudgetScenarioReport> => {
  const dir = mkdtempSync(join(tmpdir(), 'load-report-'));
  const out = join(dir, 'report.json');
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', runnerMain, ...args, '--out', out], { stdio: ['ignore', 'inherit', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 || code === 1 ? resolve() : reject(new Error(`load runner exited with ${code}`))));
  });
  const report = JSON.parse(readFileSync(out, 'utf8')) as BudgetScenarioReport;
  rmSync(dir, { recursive: true, force: true });
  return report;
};

/** `npm run load:provision` in a child process on the app's database: voters, sessions, the voters file. */
const provisionInChildProcess = async (app: RunningApp, serverSecret: Buffer, databaseUrl: string, count: number, file: string): Promise<void> => {
  const { hostname, port } = new URL(app.url);
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', provisionMain, '--voters', String(count), '--out', file], {
      env: { ...process.env, NODE_ENV: 'test', DATABASE_URL: databaseUrl, SERVER_SECRET: serverSecret.toString('hex'), HOST: hostname, PORT: port, LOG_LEVEL: 'silent', DATA_DIR: dirname(file) },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`load:provision exited with ${code}`))));
  });
};

export const runEndToEnd = async (app: RunningApp, serverSecret: Buffer, options: EndToEndOptions): Promise<EndToEndResult> => {
  const t0 = performance.now();
  options.onStep?.('provision');
  const definition = budgetPollDefinition();
  const question = definition.questions[0]!;
  const dir = mkdtempSync(join(tmpdir(), 'load-voters-'));
  const file = join(dir, 'voters.jsonl');
  let voters: Awaited<ReturnType<typeof provisionVoters>> | null = null;
  if (options.provisionInChild) await provisionInChildProcess(app, serverSecret, options.provisionInChild.databaseUrl, options.voters, file);
  else voters = await provisionVoters({ db: app.db.kysely, eventStore: app.eventStore, serverSecret, nodeEnv: app.config.NODE_ENV }, { count: options.voters });
  const pollId = await openBudgetPoll(app.eventStore, official, definition);
  // Voters arrive at a published poll: its page reads the read model, so let the projection catch up.
  await app.projections.settled();
  const t1 = performance.now();

  options.onStep?.('load');
  const pagePath = await pagePathFor(app.url, pollId);
  const phases = budgetPhases(options.voters, options.rate, options.peakRate);
  const sampler = options.onSample ? setInterval(options.onSample, 100) : undefined;
  let report: BudgetScenarioReport;
  try {
    if (options.childRunner) {
      if (voters) await writeVotersFile(file, { baseUrl: app.url, pollId, questionId: question.id, optionIds: question.options.map((o) => o.id), maxChoices: question.maxChoices }, voters);
      voters = null;
      const t = options.thresholds;
      report = await runLoadRunnerProcess([
        '--voters-file', file, '--base-url', app.url, '--poll', pollId, '--rate', String(options.rate), '--peak-rate', String(options.peakRate), '--page-path', pagePath,
        '--max-in-flight', String(options.maxInFlight), '--p99-ms', String(t.ballotP99Ms), '--page-p99-ms', String(t.pageP99Ms),
        '--max-error-rate', String(t.maxErrorRate), '--max-dropped', String(t.maxDropped), '--json',
      ]);
    } else {
      if (!voters) throw new Error('the in-process load runner needs the voters in this process (no provisionInChild)');
      report = await runBudgetScenario({
        baseUrl: app.url, pollId, questionId: question.id, optionIds: question.options.map((o) => o.id), maxChoices: question.maxChoices,
        voters, phases, pagePath, maxInFlight: options.maxInFlight, timeoutMs: options.timeoutMs ?? 30_000, gracefulStopMs: Math.max(60_000, options.timeoutMs ?? 0), thresholds: options.thresholds,
      });
    }
  } finally {
    if (sampler) clearInterval(sampler);
    rmSync(dir, { recursive: true, force: true });
  }
  voters = null;
  const t2 = performance.now();
  options.onStep?.('close');

  // After a large run the projections may trail by more than settled()'s 15 s: let them catch up first.
  for (let attempt = 0; ; attempt++) {
    try {
      await app.projections.settled();
      break;
    } catch (error) {
      if (attempt >= 20) throw error;
    }
  }
  await app.polls.commands.close(pollId, official);
  await publishWhenOpened(app, pollId, official);
  await app.projections.settled();
  const t3 = performance.now();

  const { rows } = await sql<{ n: string }>`SELECT count(*)::text AS n FROM events WHERE type = 'BallotCast' AND stream_id LIKE ${`ballot-${pollId}\\_%`}`.execute(app.db.kysely);
  const eventsStored = Number(rows[0]?.n ?? 0);
  const poll = await app.polls.get(pollId);
  const tally = poll?.result;
  const published = tally?.questions.find((q) => q.questionId === question.id);
  const mismatchedOptions = question.options
    .map((o) => o.id)
    .filter((id) => (published?.options.find((o) => o.optionId === id)?.count ?? -1) !== (report.expectedCounts[id] ?? 0));
  const tallyBallots = tally?.ballots ?? -1;
  const ledgerEntries = await ledgerEntriesOfPoll(app, pollId);
  const ledgerLost = Object.values(ledgerEntries).reduce((worst, n) => Math.max(worst, Math.abs(eventsStored - n)), 0);
  return {
    pollId,
    provisionMs: t1 - t0,
    loadMs: t2 - t1,
    closeAndTallyMs: t3 - t2,
    totalMs: t3 - t0,
    report,
    accounting: {
      accepted: report.accepted,
      eventsStored,
      tallyBallots,
      ledgerEntries,
      mismatchedOptions,
      lost: Math.max(report.accepted - eventsStored, report.accepted - tallyBallots, 0) + Math.abs(eventsStored - tallyBallots) + ledgerLost,
    },
  };
};
