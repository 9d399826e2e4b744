import { createHttpClient } from './http.ts';
import { createMetrics, type LatencySummary, type LatencyWindow } from './metrics.ts';
import { runOpenModel, type OpenModelResult, type Phase } from './openModel.ts';
import { selectionOf } from './selection.ts';
import type { Voter } from './voters.ts';

export { selectionOf };

export interface Thresholds {
  /** p99 of the ballot POST, ms. */
  ballotP99Ms: number;
  /** p99 of the poll page GET, measured from the voter's intended arrival, ms. */
  pageP99Ms: number;
  /** Failed checks (wrong status, timeout, connection error, abandoned) over all checks. */
  maxErrorRate: number;
  maxDropped: number;
}

export const DEFAULT_THRESHOLDS: Thresholds = { ballotP99Ms: 100, pageP99Ms: 200, maxErrorRate: 0, maxDropped: 0 };

export interface BudgetScenarioOptions {
  baseUrl: string;
  pollId: string;
  questionId: string;
  optionIds: string[];
  /** The approval limit: each voter approves 1..maxChoices projects. */
  maxChoices: number;
  voters: Voter[];
  phases: Phase[];
  /** `{pollId}` is replaced; the poll page a voter loads before casting. null: cast only (benchmarks). */
  pagePath: string | null;
  maxInFlight: number;
  timeoutMs: number;
  gracefulStopMs: number;
  thresholds: Thresholds;
  /**
   * How many times a voter tries a step again after it failed (no answer, or a 5xx: the instance behind
   * the balancer died). 0 by default. A ballot retry answered `409 ballot.already-voted` means the first
   * try was stored before its answer was lost: the voter's ballot counts as accepted (same choices).
   */
  retries?: number;
  /** Pause before a retry, ms (default 1000: a person tries again after a moment, not at once). */
  retryDelayMs?: number;
}

export interface ThresholdResult {
  name: string;
  limit: number;
  actual: number;
  ok: boolean;
}

export interface BudgetScenarioReport {
  pollId: string;
  phases: Phase[];
  /** Wall-clock time (epoch ms) of the schedule's start: window 0 of `windows` begins here. */
  startedAt: number;
  run: OpenModelResult;
  /** Ballots the server answered 201 to. */
  accepted: number;
  /** Approvals per option over the accepted ballots: what the published tally must show. */
  expectedCounts: Record<string, number>;
  /** Accepted ballots per second over the run. */
  acceptedPerSecond: number;
  latency: Record<string, LatencySummary>;
  /** Ballot latency per 10 s window of arrivals (p99, max): where in the run the slow ballots were. */
  windows: Record<string, LatencyWindow[]>;
  checks: Record<string, { passes: number; fails: number }>;
  statuses: Record<string, number>;
  errors: Record<string, number>;
  /** Failed tries that were tried again (with `retries`), by what went wrong; not counted in checks or errors. */
  retried: Record<string, number>;
  /** Voters by the number of tries their worst step took (1: no retry). */
  triesPerVoter: Record<string, number>;
  /** Accepted ballots whose 201 was lost, found stored by the retry (`409 ballot.already-voted`). */
  acceptedOnRetry: number;
  thresholds: ThresholdResult[];
  ok: boolean;
}

/**
 * The steady/peak/steady arrival schedule that gives every voter exactly one arrival: `peakFraction` of
 * the voters arrive at `peakRate` in the middle, the rest at `rate` before and after.
 */
export const budgetPhases = (voters: number, rate: number, peakRate: number, peakFraction = 0.2): Phase[] => {
  const peakVoters = Math.round(voters * peakFraction);
  const before = Math.floor((voters - peakVoters) / 2);
  const after = voters - peakVoters - before;
  const phase = (name: string, count: number, r: number): Phase => ({ name, rate: r, durationMs: (count * 1000) / r, iterations: count });
  return [phase('steady', before, rate), phase('peak', peakVoters, peakRate), phase('steady-after', after, rate)].filter((p) => p.iterations! > 0);
};

/**
 * Every voter loads the poll page, then casts one ballot through the JSON API with their session
 * cookie and CSRF token. Open model: arrivals follow `phases` whatever the responses do.
 */
export const runBudgetScenario = async (options: BudgetScenarioOptions): Promise<BudgetScenarioReport> => {
  const client = createHttpClient(options.baseUrl, { maxSockets: Math.min(options.maxInFlight, 256), timeoutMs: options.timeoutMs });
  const metrics = createMetrics();
  const expectedCounts: Record<string, number> = Object.fromEntries(options.optionIds.map((id) => [id, 0]));
  let accepted = 0;
  const pagePath = options.pagePath?.replace('{pollId}', encodeURIComponent(options.pollId)) ?? null;
  const ballotPath = `/api/polls/${encodeURIComponent(options.pollId)}/ballots`;

  const retries = options.retries ?? 0;
  const retried: Record<string, number> = {};
  const triesPerVoter: Record<string, number> = {};
  let acceptedOnRetry = 0;
  /** Whether an answer may be tried again: no answer at all, or the balancer/instance failed (5xx). */
  const retryable = (outcome: { status: number } | Error) => outcome instanceof Error || outcome.status >= 500;
  const alreadyVoted = (body: string) => {
    try {
      return (JSON.parse(body) as { error?: { code?: string } }).error?.code === 'ballot.already-voted';
    } catch {
      return false;
    }
  };

  /** One step of a voter, tried up to 1 + `retries` times; returns whether it succeeded and how many tries it took. */
  const step = async (name: string, expected: number, send: () => Promise<{ status: number; body: string }>, storedOnRetry?: (body: string) => boolean): Promise<{ ok: boolean; tries: number; onRetry: boolean }> => {
    for (let attempt = 0; ; attempt++) {
      let outcome: { status: number; body: string } | Error;
      try {
        outcome = await send();
      } catch (error) {
        outcome = error as Error;
      }
      const last = attempt >= retries || !retryable(outcome);
      if (!last) {
        const what = outcome instanceof Error ? outcome.message : String(outcome.status);
        retried[`${name}: ${what}`] = (retried[`${name}: ${what}`] ?? 0) + 1;
        await new Promise((r) => setTimeout(r, options.retryDelayMs ?? 1000));
        continue;
      }
      if (outcome instanceof Error) {
        metrics.error(`${name}: ${outcome.message}`);
        return { ok: metrics.check(`${name} ${expected}`, false), tries: attempt + 1, onRetry: false };
      }
      const onRetry = attempt > 0 && outcome.status === 409 && (storedOnRetry?.(outcome.body) ?? false);
      metrics.status(name, outcome.status);
      return { ok: metrics.check(`${name} ${expected}`, outcome.status === expected || onRetry), tries: attempt + 1, onRetry };
    }
  };

  const startedAt = Date.now();
  const run = await runOpenModel({
    phases: options.phases,
    maxIterations: options.voters.length,
    maxInFlight: options.maxInFlight,
    gracefulStopMs: options.gracefulStopMs,
    iteration: async (index, intendedStart) => {
      const voter = options.voters[index]!;
      let tries = 1;
      const done = () => (triesPerVoter[String(tries)] = (triesPerVoter[String(tries)] ?? 0) + 1);
      if (pagePath !== null) {
        const page = await step('page', 200, () => client.request('GET', pagePath, { cookie: voter.cookie, accept: 'text/html' }));
        metrics.record('page', performance.now() - intendedStart);
        tries = Math.max(tries, page.tries);
        if (!page.ok) {
          done();
          return;
        }
      }
      const chosen = selectionOf(index, options.optionIds, options.maxChoices);
      const body = JSON.stringify({ selections: { [options.questionId]: chosen } });
      const castStart = performance.now();
      const cast = await step('ballot', 201, () => client.request('POST', ballotPath, { cookie: voter.cookie, 'x-csrf-token': voter.csrf, accept: 'application/json' }, body), alreadyVoted);
      const end = performance.now();
      tries = Math.max(tries, cast.tries);
      done();
      // Cast only: the ballot is due at the arrival itself, so it is measured from there.
      metrics.record('ballot', end - (pagePath === null ? intendedStart : castStart), intendedStart);
      metrics.record('voter', end - intendedStart);
      if (cast.ok) {
        accepted++;
        if (cast.onRetry) acceptedOnRetry++;
        for (const id of chosen) expectedCounts[id] = (expectedCounts[id] ?? 0) + 1;
      }
    },
  });
  client.close();

  const snap = metrics.snapshot();
  const checkTotals = Object.values(snap.checks).reduce((a, c) => ({ passes: a.passes + c.passes, fails: a.fails + c.fails }), { passes: 0, fails: 0 });
  const failures = checkTotals.fails + run.abandoned + run.crashed;
  const errorRate = failures / Math.max(1, checkTotals.passes + failures);
  const ballot = metrics.latency('ballot');
  const page = metrics.latency('page');
  const t = options.thresholds;
  const thresholds: ThresholdResult[] = [
    { name: 'ballot p99 (ms)', limit: t.ballotP99Ms, actual: ballot.p99, ok: ballot.p99 < t.ballotP99Ms },
    ...(pagePath === null ? [] : [{ name: 'page p99 from arrival (ms)', limit: t.pageP99Ms, actual: page.p99, ok: page.p99 < t.pageP99Ms }]),
    { name: 'error rate', limit: t.maxErrorRate, actual: errorRate, ok: errorRate <= t.maxErrorRate },
    { name: 'dropped iterations', limit: t.maxDropped, actual: run.dropped, ok: run.dropped <= t.maxDropped },
  ];
  return {
    pollId: options.pollId,
    phases: options.phases,
    startedAt,
    run,
    accepted,
    expectedCounts,
    acceptedPerSecond: Math.round((accepted * 1000) / Math.max(1, run.durationMs)),
    latency: snap.latency,
    windows: snap.windows,
    checks: snap.checks,
    statuses: snap.statuses,
    errors: snap.errors,
    retried,
    triesPerVoter,
    acceptedOnRetry,
    thresholds,
    ok: thresholds.every((x) => x.ok),
  };
};

/** A short human summary of a report. */
export const formatReport = (r: BudgetScenarioReport): string => {
  const lat = (name: string) => {
    const l = r.latency[name];
    return l ? `${name}: n=${l.count} p50=${l.p50}ms p90=${l.p90}ms p99=${l.p99}ms p99.9=${l.p999}ms max=${l.max}ms` : `${name}: none`;
  };
  return [
    `poll ${r.pollId}: ${r.run.scheduled} arrivals, ${r.run.started} started, ${r.run.dropped} dropped, ${r.run.abandoned} abandoned in ${(r.run.durationMs / 1000).toFixed(1)} s (generator lag max ${r.run.maxStartLagMs.toFixed(1)} ms)`,
    `accepted ballots: ${r.accepted} (${r.acceptedPerSecond}/s)`,
    lat('page'),
    lat('ballot'),
    lat('voter'),
    `statuses: ${JSON.stringify(r.statuses)}${Object.keys(r.errors).length ? ` errors: ${JSON.stringify(r.errors)}` : ''}`,
    ...(Object.keys(r.retried ?? {}).length ? [`tried again: ${JSON.stringify(r.retried)}; voters by tries: ${JSON.stringify(r.triesPerVoter)}; ballots found stored by the retry: ${r.acceptedOnRetry}`] : []),
    ...r.thresholds.map((t) => `${t.ok ? 'PASS' : 'FAIL'} ${t.name}: ${t.actual} (limit ${t.limit})`),
  ].join('\n');
};
