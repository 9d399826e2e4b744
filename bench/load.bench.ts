import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { resourceUsage } from 'node:process';
import { budgetPollDefinition, openBudgetPoll, provisionVoters, writeVotersFile } from '../src/cli/provisionVoters.ts';
import type { RunningApp } from '../src/infra/compositionRoot.ts';
import { createPostgresTestDb, postgresUrl } from '../test/support/testDb.ts';
import { startTestApp } from '../test/support/testApp.ts';
import { runEndToEnd, runLoadRunnerProcess } from '../test/load/scenarioDriver.ts';
import type { BudgetScenarioReport } from '../load-tests/runner/scenario.ts';
import { startCastBaseline } from './castBaseline.ts';
import { fmt, type Bench } from './harness.ts';

/**
 * Casting under load (issue 8). The app runs in this process on PostgreSQL; the load runner runs in a
 * child process (`load-tests/runner/main.ts`, open model); the baseline (bare koa + one INSERT per
 * request, bench/castBaseline.ts) is measured in the same run by the same runner with the same pool size.
 */
const POOL = 10;
const official = { kind: 'official' as const, id: 'bench-official', orgId: 'bench' };

const percentileOf = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
};

const memorySampler = () => {
  let peakRss = 0;
  let peakHeap = 0;
  const timer = setInterval(() => {
    const m = process.memoryUsage();
    peakRss = Math.max(peakRss, m.rss);
    peakHeap = Math.max(peakHeap, m.heapUsed);
  }, 100);
  return { stop: () => clearInterval(timer), peak: () => ({ rssMiB: Math.round(peakRss / 2 ** 20), heapMiB: Math.round(peakHeap / 2 ** 20), maxRssMiB: Math.round(resourceUsage().maxRSS / 1024) }) };
};

/** CPU time of this process (the app or the baseline; the runner is a child) per accepted ballot: robust to a busy machine. */
const cpuPerBallot = (cpu: NodeJS.CpuUsage, accepted: number) => ((cpu.user + cpu.system) / 1000 / Math.max(1, accepted)).toFixed(2);

const row = (label: string, r: BudgetScenarioReport, cpu: NodeJS.CpuUsage) => {
  const b = r.latency.ballot;
  return `| ${label} | ${fmt(r.run.scheduled)} | ${fmt(r.accepted)} | ${fmt(r.acceptedPerSecond)} | ${b?.p50 ?? '-'} | ${b?.p99 ?? '-'} | ${b?.max ?? '-'} | ${fmt(r.run.dropped)} | ${cpuPerBallot(cpu, r.accepted)} | ${Object.entries(r.statuses).filter(([k]) => !k.endsWith(' 201')).map(([k, v]) => `${k}: ${v}`).join(', ') || '0'} |`;
};

const castRuns = async (app: RunningApp, secret: Buffer) => {
  const voters = await provisionVoters({ db: app.db.kysely, eventStore: app.eventStore, serverSecret: secret, nodeEnv: 'test' }, { count: 15_000 });
  const dir = mkdtempSync(join(tmpdir(), 'bench-voters-'));
  const file = join(dir, 'voters.jsonl');
  const q = budgetPollDefinition().questions[0]!;
  await writeVotersFile(file, { questionId: q.id, optionIds: q.options.map((o) => o.id), maxChoices: q.maxChoices }, voters);
  const baselineDb = await createPostgresTestDb(1);
  await baselineDb.kysely.destroy();
  const baseline = await startCastBaseline(baselineDb.url!, POOL);
  const runner = (baseUrl: string, pollId: string, extra: string[]) =>
    runLoadRunnerProcess(['--voters-file', file, '--base-url', baseUrl, '--poll', pollId, '--no-page', '--max-error-rate', '1', '--max-dropped', '1e9', ...extra]);
  const lagSamples: number[] = [];
  const rows: string[] = [];
  const ratios: Record<string, { app: BudgetScenarioReport; base: BudgetScenarioReport }> = {};
  const plans: Array<[string, string[]]> = [
    ['500/s for 10 s', ['--rate', '500', '--constant-seconds', '10', '--max-in-flight', '2000']],
    ['1,000/s for 10 s', ['--rate', '1000', '--constant-seconds', '10', '--max-in-flight', '2000']],
    ['saturation: 3,000/s offered, 64 in flight, 5 s', ['--rate', '3000', '--constant-seconds', '5', '--max-in-flight', '64']],
  ];
  for (const [label, args] of plans) {
    const pollId = await openBudgetPoll(app.eventStore, official);
    await app.projections.settled();
    const lagTimer = setInterval(() => lagSamples.push(app.projections.lagMs()), 100);
    let cpu = process.cpuUsage();
    const appReport = await runner(app.url, pollId, args);
    const appCpu = process.cpuUsage(cpu);
    clearInterval(lagTimer);
    // Let the projections finish before the baseline runs, so they do not steal its CPU.
    await app.projections.settled().catch(() => undefined);
    cpu = process.cpuUsage();
    const baseReport = await runner(baseline.url, pollId, args);
    const baseCpu = process.cpuUsage(cpu);
    ratios[label] = { app: appReport, base: baseReport };
    rows.push(row(`app, ${label}`, appReport, appCpu), row(`baseline, ${label}`, baseReport, baseCpu));
  }
  await baseline.stop();
  await baselineDb.close();
  rmSync(dir, { recursive: true, force: true });
  return { rows, ratios, lagSamples };
};

/**
 * Dropping a test database WITH (FORCE) kills a connection some pool in the app still holds idle, and
 * pg re-emits that as an unhandled pool 'error'. Ignored here (only that code, only while stopping) so
 * that the figures already measured are still written.
 */
const stopQuietly = async (stop: () => Promise<void>) => {
  const ignore = (error: unknown) => {
    if ((error as { code?: string }).code !== '57P01') throw error;
  };
  process.on('uncaughtException', ignore);
  try {
    await stop();
    await new Promise((r) => setTimeout(r, 200));
  } finally {
    process.off('uncaughtException', ignore);
  }
};

export const loadBench: Bench = {
  name: 'load',
  title: 'Casting under load (issue 8)',
  run: async () => {
    if (!postgresUrl) return 'Needs PostgreSQL: run with TEST_DATABASE_URL set (npm run bench sets it).';
    const memory = memorySampler();
    const secret = randomBytes(32);
    const app = await startTestApp({ SERVER_SECRET: secret.toString('hex'), DATABASE_POOL_SIZE: String(POOL) });
    const casts = await castRuns(app, secret);
    await stopQuietly(() => app.stop());
    const sat = casts.ratios['saturation: 3,000/s offered, 64 in flight, 5 s']!;
    const at1000 = casts.ratios['1,000/s for 10 s']!.app;
    const lines = [
      `Machine load average when the run started: ${loadavg().map((l) => l.toFixed(1)).join(', ')} (2 cores shared with other engineers' tests: absolute figures swing several-fold between runs; compare rows of one run).`,
      `Cast only (POST /api/polls/:id/ballots with session cookie and CSRF header), open model, runner in a child process; app and baseline each with a pool of ${POOL} PostgreSQL connections.`,
      'Latency in ms from each arrival\'s intended start (HDR histogram). Throughput = accepted ballots / run time.',
      '',
      '| run | arrivals | accepted | accepted/s | p50 | p99 | max | dropped | server CPU ms/ballot | other statuses |',
      '|---|---|---|---|---|---|---|---|---|---|',
      ...casts.rows,
      '',
      `- Throughput at saturation: app ${fmt(sat.app.acceptedPerSecond)}/s vs baseline ${fmt(sat.base.acceptedPerSecond)}/s = **${(sat.app.acceptedPerSecond / Math.max(1, sat.base.acceptedPerSecond)).toFixed(2)}×** (target ≥ 1.5×).`,
      `- p99 at 1,000 ballots/s: **${at1000.latency.ballot?.p99 ?? '-'} ms** (target < 100 ms).`,
      `- Projection lag while casting (sampled every 100 ms): p50 ${percentileOf(casts.lagSamples, 50)} ms, p99 **${percentileOf(casts.lagSamples, 99)} ms**, max ${Math.max(0, ...casts.lagSamples)} ms (target p99 < 1 s).`,
    ];
    if (process.env.LOAD_FULL === '1') {
      const full = await startTestApp({ SERVER_SECRET: secret.toString('hex'), DATABASE_POOL_SIZE: String(POOL) });
      const lag: number[] = [];
      const voters = Number(process.env.LOAD_FULL_VOTERS ?? 250_000);
      const result = await runEndToEnd(full, secret, {
        voters, rate: 700, peakRate: 1000, maxInFlight: 2000, childRunner: true,
        thresholds: { ballotP99Ms: 100, pageP99Ms: 200, maxErrorRate: 0, maxDropped: 0 },
        onSample: () => lag.push(full.projections.lagMs()),
      });
      await stopQuietly(() => full.stop());
      const r = result.report;
      lines.push(
        '',
        `### The full scenario: ${fmt(voters)} voters (LOAD_FULL=1)`,
        '',
        `Budget poll, 50 projects, approve up to 5; every voter loads the poll page then casts; 700/s steady, 1,000/s peak (20% of voters), runner in a child process.`,
        '',
        `| step | time |`,
        `|---|---|`,
        `| provision ${fmt(voters)} voters + sessions | ${(result.provisionMs / 1000).toFixed(1)} s |`,
        `| load (every voter: page + ballot) | ${(result.loadMs / 1000).toFixed(1)} s |`,
        `| close, publish tally | ${(result.closeAndTallyMs / 1000).toFixed(1)} s |`,
        `| total | ${(result.totalMs / 60_000).toFixed(1)} min |`,
        '',
        `- Accounting: accepted ${fmt(result.accounting.accepted)}, events stored ${fmt(result.accounting.eventsStored)}, published tally ${fmt(result.accounting.tallyBallots)}, options mismatched ${result.accounting.mismatchedOptions.length}, **lost ${result.accounting.lost}**.`,
        `- Ballot latency p50 ${r.latency.ballot?.p50} ms, p99 ${r.latency.ballot?.p99} ms, max ${r.latency.ballot?.max} ms; page p99 ${r.latency.page?.p99} ms; dropped ${r.run.dropped}; statuses ${JSON.stringify(r.statuses)}.`,
        `- Thresholds: ${r.thresholds.map((t) => `${t.ok ? 'pass' : 'FAIL'} ${t.name} ${t.actual} (limit ${t.limit})`).join('; ')}.`,
        `- Projection lag during the load: p99 ${percentileOf(lag, 99)} ms, max ${Math.max(0, ...lag)} ms.`,
      );
    } else lines.push('', 'The full 250,000-voter scenario runs with `LOAD_FULL=1 npm run bench -- load` (about 15 minutes here); its last result is kept below when it was run.');
    memory.stop();
    const m = memory.peak();
    lines.push(`- Memory peak of the app process (app + bench harness, sampled): RSS ${m.rssMiB} MiB, heap ${m.heapMiB} MiB; maxRSS ${m.maxRssMiB} MiB.`);
    lines.push('- Anchoring lag: not measured yet: the ledger anchoring is not wired into the app on main at the time of this run (src/infra/ledger).');
    return lines.join('\n');
  },
};
