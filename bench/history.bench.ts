import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPostgresTestDb, postgresUrl } from '../test/support/testDb.ts';
import { createPostgresEventStore } from '../src/infra/eventStore/postgresEventStore.ts';
import { seedHistory } from './historySeed.ts';
import { runLoadRunnerProcess } from '../test/load/scenarioDriver.ts';
import type { BudgetScenarioReport } from '../load-tests/runner/scenario.ts';
import { startAppProcess, type HeapReport, type LoadSamples } from './appHost.ts';
import { fmt, loadAverage, NEEDS_POSTGRES, percentile, type Bench } from './harness.ts';

/**
 * Flat cost over history: the same cast load against an empty store and against a store that
 * already holds HISTORY_EVENTS events, HISTORY_BALLOTS of them anchored ballots (seeded by
 * bench/historySeed.ts: bulk SQL, the four nodes' files and one final checkpoint signed by all four).
 * Each run: a fresh app process (with --expose-gc, its four ledger nodes), voters provisioned, one budget
 * poll opened, the runner offering HISTORY_RATE/s (64 in flight at most: saturation) for HISTORY_SECONDS, then until projections and
 * anchoring caught up; the app's heap after a full GC at the end. The issue's size is 1,000,000 events
 * with 250,000 anchored ballots (HISTORY_EVENTS=1000000 HISTORY_BALLOTS=250000); the default is CI-sized.
 */
const POOL = 10;
const size = {
  events: Number(process.env.HISTORY_EVENTS ?? 100_000),
  ballots: Number(process.env.HISTORY_BALLOTS ?? 25_000),
  /** Offered arrivals per second: above what this machine serves, so both runs are at saturation. */
  rate: Number(process.env.HISTORY_RATE ?? 300),
  seconds: Number(process.env.HISTORY_SECONDS ?? 10),
};

interface Run {
  label: string;
  report: BudgetScenarioReport;
  samples: LoadSamples;
  heap: HeapReport;
  startMs: number;
  /** From the app's start until its tamper watch had finished a pass begun after provisioning. */
  settledMs: number;
  seedSeconds: number | null;
  plans: string | null;
}

const one = async (label: string, history: { events: number; ballots: number } | null): Promise<Run> => {
  const env: Record<string, string> = { BENCH_APP_NODE_FLAGS: `${process.env.BENCH_APP_NODE_FLAGS ?? ''} --expose-gc`.trim() };
  // The history is seeded here, in the bench process, so the app's memory holds none of the seeding.
  let seeded: { db: Awaited<ReturnType<typeof createPostgresTestDb>>; dataDir: string; seconds: number } | null = null;
  if (history) {
    const db = await createPostgresTestDb(4);
    const dataDir = mkdtempSync(join(tmpdir(), 'bench-history-data-'));
    const store = createPostgresEventStore(db);
    const { seconds } = await seedHistory(db.kysely, store, dataDir, history);
    await store.close();
    await db.kysely.destroy();
    seeded = { db, dataDir, seconds };
    Object.assign(env, { BENCH_DATABASE_URL: db.url!, BENCH_DATA_DIR: dataDir });
  }
  const started = performance.now();
  const app = await startAppProcess(randomBytes(32), POOL, env);
  const startMs = performance.now() - started;
  const dir = mkdtempSync(join(tmpdir(), 'bench-history-'));
  try {
    const file = join(dir, 'voters.jsonl');
    await app.provision(size.rate * size.seconds, file);
    const pollId = await app.openPoll();
    // The tamper watch's first pass after a start digests every bucket of the history (a start-up cost that
    // grows with it, reported in its own column); the load is measured once the watch runs its ordinary passes.
    // HISTORY_LOAD_AT_START=1: the load right after provisioning instead (a vote resuming after a restart).
    if (process.env.HISTORY_LOAD_AT_START !== '1') await app.watchSettled();
    const settledMs = performance.now() - started;
    await app.sampleStart();
    const report = await runLoadRunnerProcess([
      '--voters-file', file, '--base-url', app.url, '--poll', pollId, '--no-page', '--max-error-rate', '1', '--max-dropped', '1e9',
      '--rate', String(size.rate), '--constant-seconds', String(size.seconds), '--max-in-flight', '64',
    ]);
    const samples = await app.sampleStop(true);
    const heap = await app.heap();
    const plans = history ? await app.explain() : null;
    return { label, report, samples, heap, startMs, settledMs, seedSeconds: seeded?.seconds ?? null, plans };
  } finally {
    await app.stop();
    rmSync(dir, { recursive: true, force: true });
    if (seeded) {
      await seeded.db.close().catch(() => undefined);
      rmSync(seeded.dataDir, { recursive: true, force: true });
    }
  }
};

const p = (values: number[], q: number) => (values.length === 0 ? '-' : String(percentile([...values].sort((a, b) => a - b), q)));
const ratio = (a: number, b: number) => (b === 0 ? '-' : (a / b).toFixed(2));

export const historyBench: Bench = {
  name: 'history',
  title: 'Flat cost over history',
  run: async () => {
    if (!postgresUrl) return NEEDS_POSTGRES;
    const loadBefore = loadAverage();
    const empty = await one('empty store', null);
    const full = await one(`${fmt(size.events)} events, ${fmt(size.ballots)} anchored ballots`, { events: size.events, ballots: size.ballots });
    const loadAfter = loadAverage();
    const row = (r: Run) =>
      `| ${r.label} | ${(r.startMs / 1000).toFixed(1)} s${r.seedSeconds !== null ? ` (seeded before in ${r.seedSeconds.toFixed(1)} s)` : ''} | ${(r.settledMs / 1000).toFixed(1)} s | ${fmt(r.report.accepted)} | ${fmt(r.report.acceptedPerSecond)} | ${r.report.latency.ballot?.p50 ?? '-'} / ${r.report.latency.ballot?.p99 ?? '-'} | ${p(r.samples.anchoringLag, 50)} / ${p(r.samples.anchoringLag, 99)} (${r.samples.anchoringLag.length}) | ${(r.samples.cpuMicros / 1000 / Math.max(1, r.report.accepted)).toFixed(2)} | ${r.heap.heapUsedMiB} | ${r.heap.rssMiB} |`;
    const anchorP50 = (r: Run) => Number(p(r.samples.anchoringLag, 50));
    return [
      `Machine load average: ${loadBefore} at the start, ${loadAfter} at the end (2 cores shared with other engineers' work; compare rows of one run).`,
      `Same load on both: one budget poll, the runner offering ${fmt(size.rate)} ballots/s (each arrival a new voter; at most 64 in flight, arrivals beyond that dropped: saturation on this machine) for ${size.seconds} s, cast only, once the app's tamper watch has finished a pass begun after the voters were provisioned (the first pass after a start digests every bucket of the history: its end is the "settled" column); then until projections and anchoring caught up. A fresh app process each (pool ${POOL}, --expose-gc) with its four ledger nodes; heap and RSS of the app after a full GC at the end. Anchoring lag: each round that finalised, oldest entry's commit to the final checkpoint (p50 / p99, samples).`,
      `History: ${fmt(size.events)} events of which ${fmt(size.ballots)} anchored ballots (HISTORY_EVENTS / HISTORY_BALLOTS; the issue asks for 1,000,000 / 250,000), seeded by bench/historySeed.ts.`,
      '',
      '| store | app start | tamper watch settled (s after start) | accepted | accepted/s | ballot p50 / p99 ms | anchoring lag p50 / p99 ms | app CPU ms/ballot | heap MiB after GC | RSS MiB |',
      '|---|---|---|---|---|---|---|---|---|---|',
      row(empty),
      row(full),
      '',
      `- History / empty: throughput **${ratio(full.report.acceptedPerSecond, empty.report.acceptedPerSecond)}×**, anchoring lag p50 **${ratio(anchorP50(full), anchorP50(empty))}×**, heap after GC **${ratio(full.heap.heapUsedMiB, empty.heap.heapUsedMiB)}×** (target: each within 10%, i.e. 0.90-1.10×).`,
      `- Heap after GC measured: ${empty.heap.gc && full.heap.gc ? 'yes (--expose-gc)' : 'NO (gc not exposed; heap is as found)'}.`,
      '',
      `### Query plans on the history store after the run (EXPLAIN ANALYZE; buckets of 1,024)`,
      '',
      full.plans ?? '',
    ].join('\n');
  },
};
