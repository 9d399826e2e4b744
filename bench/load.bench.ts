import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPostgresTestDb, postgresUrl } from '../test/support/testDb.ts';
import { runLoadRunnerProcess } from '../test/load/scenarioDriver.ts';
import type { BudgetScenarioReport } from '../load-tests/runner/scenario.ts';
import type { LatencyWindow } from '../load-tests/runner/metrics.ts';
import { startAppProcess, type AppProcess } from './appHost.ts';
import { startCastBaseline } from './castBaseline.ts';
import { cpuByProcess, cpuDeltaByRole, fmt, loadAverage, NEEDS_POSTGRES, type Bench } from './harness.ts';

/**
 * Casting under load. Three processes, as a load tester would run them on one machine: the
 * app (bench/appHost.ts, with its four ledger nodes as their own processes) on PostgreSQL, the load
 * runner (`load-tests/runner/main.ts`, open model), and this process, which hosts only the baseline
 * (bare koa + one INSERT per request, bench/castBaseline.ts). The baseline is measured in the same run
 * by the same runner at the same arrival rates with the same pool size. LOAD_QUICK=1: saturation only.
 */
const POOL = 10;
const SATURATION = 'saturation: 6,000/s offered, 64 in flight';
const AT_1000 = '1,000/s for 10 s';

const percentileOf = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
};

/** Server CPU time (µs, the app's or the baseline's own process) per accepted ballot, in ms: robust to a busy machine. */
const cpuPerBallot = (cpuMicros: number, accepted: number) => (cpuMicros / 1000 / Math.max(1, accepted)).toFixed(2);

const row = (label: string, r: BudgetScenarioReport, cpuMicros: number, statements: number | null) => {
  const b = r.latency.ballot;
  return `| ${label} | ${fmt(r.run.scheduled)} | ${fmt(r.accepted)} | ${fmt(r.acceptedPerSecond)} | ${b?.p50 ?? '-'} | ${b?.p99 ?? '-'} | ${b?.max ?? '-'} | ${fmt(r.run.dropped)} | ${cpuPerBallot(cpuMicros, r.accepted)} | ${statements === null ? '1' : (statements / Math.max(1, r.accepted)).toFixed(2)} | ${Object.entries(r.statuses).filter(([k]) => !k.endsWith(' 201')).map(([k, v]) => `${k}: ${v}`).join(', ') || '0'} |`;
};

/** Where the two cores went during a run, by role ("other" is everything else: other engineers' tests included). */
const LOAD_ROLES = ['app', 'ledger nodes', 'postgres', 'runner + bench', 'other'] as const;
const cpuByRole = (appPid: number) =>
  cpuByProcess((pid, ppid, comm): (typeof LOAD_ROLES)[number] =>
    pid === appPid ? 'app'
    : ppid === appPid ? 'ledger nodes'
    : comm === 'postgres' ? 'postgres'
    : pid === process.pid || ppid === process.pid ? 'runner + bench'
    : 'other');

const cpuDelta = (before: ReturnType<typeof cpuByRole>, after: ReturnType<typeof cpuByRole>) =>
  Object.entries(cpuDeltaByRole(LOAD_ROLES, before, after)).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ');

const lagLine = (name: string, values: number[], target: string) =>
  values.length === 0 ? `- ${name}: no samples.` : `- ${name}: p50 ${percentileOf(values, 50)} ms, p99 **${percentileOf(values, 99)} ms**, max ${Math.max(...values)} ms over ${values.length} samples (target p99 < ${target}).`;

const castRuns = async (app: AppProcess) => {
  const quick = process.env.LOAD_QUICK === '1';
  const dir = mkdtempSync(join(tmpdir(), 'bench-voters-'));
  const file = join(dir, 'voters.jsonl');
  await app.provision(quick ? 6_000 : 15_000, file);
  const baselineDb = await createPostgresTestDb(1);
  await baselineDb.kysely.destroy();
  const baseline = await startCastBaseline(baselineDb.url!, POOL);
  const runner = (baseUrl: string, pollId: string, extra: string[]) =>
    runLoadRunnerProcess(['--voters-file', file, '--base-url', baseUrl, '--poll', pollId, '--no-page', '--max-error-rate', '1', '--max-dropped', '1e9', ...extra]);
  const projectionLag: number[] = [];
  const anchoringLag: number[] = [];
  const rows: string[] = [];
  const cpuLines: string[] = [];
  const ratios: Record<string, { app: BudgetScenarioReport; base: BudgetScenarioReport }> = {};
  const plans: Array<[string, string[]]> = quick
    ? [[SATURATION, ['--rate', '6000', '--constant-seconds', '1', '--max-in-flight', '64']]]
    : [
        ['500/s for 10 s', ['--rate', '500', '--constant-seconds', '10', '--max-in-flight', '2000']],
        [AT_1000, ['--rate', '1000', '--constant-seconds', '10', '--max-in-flight', '2000']],
        [SATURATION, ['--rate', '6000', '--constant-seconds', '2.5', '--max-in-flight', '64']],
      ];
  // LOAD_ONLY=500/s (a label's start) runs one plan, for profiling; LOAD_ONLY=none runs none (LOAD_FULL alone).
  for (const [label, args] of plans.filter(([l]) => !process.env.LOAD_ONLY || l.startsWith(process.env.LOAD_ONLY))) {
    const pollId = await app.openPoll();
    // The app first, then the baseline at the same arrival rates; the app's projections and anchoring
    // catch up in between, so they do not steal the baseline's CPU (their lag is measured until then).
    await app.sampleStart();
    const cpuBefore = cpuByRole(app.pid);
    const appReport = await runner(app.url, pollId, args);
    const cpuAfter = cpuByRole(app.pid);
    const samples = await app.sampleStop(true);
    // Processes that ended during the run (the runner) are missing from `after`: its CPU shows as negative "other" at worst.
    cpuLines.push(`- ${label}, app run (${(appReport.run.durationMs / 1000).toFixed(1)} s): CPU seconds by process: ${cpuDelta(cpuBefore, cpuAfter)}; the app's event-loop delay p99 ${samples.loopDelayP99Ms} ms, max ${samples.loopDelayMaxMs} ms.`);
    projectionLag.push(...samples.projectionLag);
    anchoringLag.push(...samples.anchoringLag);
    const cpu = process.cpuUsage();
    const baseBefore = cpuByRole(app.pid);
    const baseReport = await runner(baseline.url, pollId, args);
    const baseCpu = process.cpuUsage(cpu);
    cpuLines.push(`- ${label}, baseline run (${(baseReport.run.durationMs / 1000).toFixed(1)} s): CPU seconds by process: ${cpuDelta(baseBefore, cpuByRole(app.pid))} (the baseline runs in the bench process).`);
    ratios[label] = { app: appReport, base: baseReport };
    rows.push(row(`app, ${label}`, appReport, samples.cpuMicros, samples.statements), row(`baseline, ${label}`, baseReport, baseCpu.user + baseCpu.system, null));
  }
  await baseline.stop();
  await baselineDb.close();
  rmSync(dir, { recursive: true, force: true });
  return { rows, ratios, projectionLag, anchoringLag, cpuLines };
};

/** Where in the run the slow ballots were: the windows over 100 ms p99, worst first. */
const ballotWindowsLine = (windows: LatencyWindow[]): string => {
  if (windows.length === 0) return '- Ballot latency by 10 s window: not recorded.';
  const slow = windows.filter((w) => w.p99 >= 100).sort((a, b) => b.p99 - a.p99);
  const at = (w: LatencyWindow) => `${w.startS}-${w.startS + 10} s: p99 ${w.p99} ms, max ${w.max} ms (${fmt(w.count)})`;
  return `- Ballot latency by 10 s window of arrivals: ${fmt(windows.length - slow.length)} of ${fmt(windows.length)} windows with p99 under 100 ms${slow.length ? `; the others, worst first: ${slow.slice(0, 8).map(at).join('; ')}${slow.length > 8 ? `; and ${slow.length - 8} more` : ''}` : ''}.`;
};

export const loadBench: Bench = {
  name: 'load',
  title: 'Casting under load',
  run: async () => {
    if (!postgresUrl) return NEEDS_POSTGRES;
    const load = loadAverage();
    const secret = randomBytes(32);
    const app = await startAppProcess(secret, POOL);
    const casts = await castRuns(app);
    await app.stop();
    const sat = casts.ratios[SATURATION] ?? Object.values(casts.ratios)[0];
    const at1000 = casts.ratios[AT_1000]?.app;
    const lines = [
      `Machine load average when the run started: ${load} (2 cores shared with other engineers' tests; compare rows of one run).`,
      `Cast only (POST /api/polls/:id/ballots with session cookie and CSRF header), open model. Three processes: the app (with its four ledger nodes), the load runner, the baseline; app and baseline each with a pool of ${POOL} PostgreSQL connections.`,
      "Latency in ms from each arrival's intended start (HDR histogram). Throughput = accepted ballots / run time. CPU = the server process's own CPU time / accepted ballots (the app's includes its projections and anchoring coordinator, not the ledger nodes). SQL statements = every statement the app process sent until its projections and anchoring caught up, per accepted ballot.",
      '',
      '| run | arrivals | accepted | accepted/s | p50 | p99 | max | dropped | server CPU ms/ballot | SQL statements/ballot | other statuses |',
      '|---|---|---|---|---|---|---|---|---|---|---|',
      ...casts.rows,
      '',
      ...(sat ? [`- Throughput at saturation: app ${fmt(sat.app.acceptedPerSecond)}/s vs baseline ${fmt(sat.base.acceptedPerSecond)}/s = **${(sat.app.acceptedPerSecond / Math.max(1, sat.base.acceptedPerSecond)).toFixed(2)}×** (target ≥ 1.5×).`] : []),
      ...(at1000 ? [`- p99 at 1,000 ballots/s: **${at1000.latency.ballot?.p99 ?? '-'} ms** (target < 100 ms); ${fmt(at1000.run.dropped)} arrivals dropped.`] : []),
      lagLine('Projection lag while casting and until caught up (last batch, sampled every 100 ms)', casts.projectionLag, '1 s'),
      ...casts.cpuLines,
      lagLine('Anchoring lag (oldest entry of each round that finalised: commit to final checkpoint signed by 3 of 4 nodes)', casts.anchoringLag, '2 s'),
    ];
    if (process.env.LOAD_FULL === '1') {
      const full = await startAppProcess(secret, POOL);
      const voters = Number(process.env.LOAD_FULL_VOTERS ?? 250_000);
      // LOAD_FULL_RATE / LOAD_FULL_PEAK_RATE (voters/s) run the scenario at another offered rate.
      const rate = Number(process.env.LOAD_FULL_RATE ?? 700);
      const peakRate = Number(process.env.LOAD_FULL_PEAK_RATE ?? 1000);
      const { result, samples } = await full.endToEnd({
        voters, rate, peakRate, maxInFlight: 2000, childRunner: true,
        thresholds: { ballotP99Ms: 100, pageP99Ms: 200, maxErrorRate: 0, maxDropped: 0 },
      });
      await full.stop();
      const r = result.report;
      const a = result.accounting;
      lines.push(
        '',
        `### The full scenario: ${fmt(voters)} voters (LOAD_FULL=1)`,
        '',
        `Budget poll, 50 projects, approve up to 5; every voter loads the poll page then casts; ${fmt(rate)}/s steady, ${fmt(peakRate)}/s peak (20% of voters), runner in its own process.`,
        '',
        '| step | time |',
        '|---|---|',
        `| provision ${fmt(voters)} voters + sessions | ${(result.provisionMs / 1000).toFixed(1)} s |`,
        `| load (every voter: page + ballot) | ${(result.loadMs / 1000).toFixed(1)} s |`,
        `| close, publish tally | ${(result.closeAndTallyMs / 1000).toFixed(1)} s |`,
        `| total | ${(result.totalMs / 60_000).toFixed(1)} min |`,
        '',
        `- Accounting: accepted ${fmt(a.accepted)}, events stored ${fmt(a.eventsStored)}, ledger entries per node ${Object.values(a.ledgerEntries).map(fmt).join(' / ') || 'n/a'}, published tally ${fmt(a.tallyBallots)}, options mismatched ${a.mismatchedOptions.length}, **lost ${a.lost}**.`,
        `- Ballot latency p50 ${r.latency.ballot?.p50} ms, p99 ${r.latency.ballot?.p99} ms, max ${r.latency.ballot?.max} ms; page p99 ${r.latency.page?.p99} ms; dropped ${r.run.dropped}; statuses ${JSON.stringify(r.statuses)}.`,
        ballotWindowsLine(r.windows?.ballot ?? []),
        `- Thresholds: ${r.thresholds.map((t) => `${t.ok ? 'pass' : 'FAIL'} ${t.name} ${t.actual} (limit ${t.limit})`).join('; ')}.`,
        lagLine('Projection lag while voters arrive (sampled every 100 ms)', samples.projectionLag, '1 s'),
        lagLine('Anchoring lag while voters arrive (each round that finalised)', samples.anchoringLag, '2 s'),
        `- Memory peak of the app process while voters arrived: RSS ${samples.peakRssMiB} MiB, heap ${samples.peakHeapMiB} MiB; maxRSS over its whole life ${samples.maxRssMiB} MiB. Its event-loop delay while voters arrived: p99 ${samples.loopDelayP99Ms} ms, max ${samples.loopDelayMaxMs} ms.`,
        `- Peak RSS by step (sampled every 250 ms; voters provisioned by \`npm run load:provision\` in its own process, so the app holds none of the voter list): ${Object.entries(samples.rssBySteps ?? {}).map(([step, p]) => `${step}: app ${p.appMiB} MiB, largest ledger node ${p.nodeMiB} MiB`).join('; ')} (targets: app < 1,024 MiB, each node < 256 MiB).`,
      );
    } else lines.push('', 'The full 250,000-voter scenario runs with `LOAD_FULL=1 npm run bench -- load`; its last result is kept below when it was run.');
    return lines.join('\n');
  },
};
