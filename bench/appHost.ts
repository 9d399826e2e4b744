import { fork, type ChildProcess } from 'node:child_process';
import pg from 'pg';
import { fileURLToPath } from 'node:url';
import { resourceUsage } from 'node:process';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { appendFileSync } from 'node:fs';
import { budgetPollDefinition, openBudgetPoll, provisionVoters, writeVotersFile } from '../src/cli/provisionVoters.ts';
import type { RunningApp } from '../src/infra/compositionRoot.ts';
import { startTestApp } from '../test/support/testApp.ts';
import { connectPostgres } from '../src/infra/db/connect.ts';
import { explainWatchQueries } from './historySeed.ts';
import { cpuProfilerFor, rssOfProcessAndChildren } from './harness.ts';
import { runEndToEnd, type EndToEndOptions, type EndToEndResult } from '../test/load/scenarioDriver.ts';

/**
 * The app under test in its own process (its own event loop and CPU account), driven by the load bench
 * over IPC: the bench process hosts only the baseline and spawns the load runner, so the app, the
 * generator and the baseline never share an event loop. Run as a child: `fork(appHost.ts)`.
 */
export interface LoadSamples {
  /** Projection lag of the last batch (ms), sampled every 100 ms. */
  projectionLag: number[];
  /** Anchoring lag of every anchoring round that made entries final (ms: oldest entry's commit to final). */
  anchoringLag: number[];
  /** SQL statements the app process sent to PostgreSQL (every pool, every purpose). */
  statements: number;
  /** CPU time of the app process (user + system, µs). */
  cpuMicros: number;
  peakRssMiB: number;
  peakHeapMiB: number;
  maxRssMiB: number;
  /** The app's event-loop delay while sampling (ms): how long a request could wait for the loop. */
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  /**
   * End-to-end runs: peak RSS (MiB) of the app process and of the largest ledger node, per step
   * (provision, load, close), sampled every 250 ms from /proc through the whole run.
   */
  rssBySteps?: Record<string, { appMiB: number; nodeMiB: number }>;
}

type Request =
  | { id: number; cmd: 'provision'; count: number; file: string }
  | { id: number; cmd: 'openPoll' }
  | { id: number; cmd: 'watchSettled' }
  | { id: number; cmd: 'sampleStart' }
  | { id: number; cmd: 'sampleStop'; untilCaughtUp: boolean }
  | { id: number; cmd: 'endToEnd'; options: Omit<EndToEndOptions, 'onSample'> }
  | { id: number; cmd: 'heap' }
  | { id: number; cmd: 'explain' }
  | { id: number; cmd: 'stop' };

/** The app's memory after a full GC (when run with --expose-gc). */
export interface HeapReport {
  heapUsedMiB: number;
  rssMiB: number;
  gc: boolean;
}

const official = { kind: 'official' as const, id: 'bench-official', orgId: 'bench' };

// Every statement the app sends goes through pg.Client#query: count them (round trips are what cost here).
let statements = 0;
/** BENCH_STATEMENT_KINDS=1: also count statements by their first words (printed to stderr at each sampleStop). */
const kinds = process.env.BENCH_STATEMENT_KINDS === '1' ? new Map<string, number>() : null;
/** BENCH_TRACE=FILE: one JSON line a second of what the app did (see `startTrace`). */
const traceFile = process.env.BENCH_TRACE;
/** Per trace second: statements finished, their total and slowest time, and the slowest one's first words. */
const traceQueries = { started: 0, finished: 0, totalMs: 0, maxMs: 0, maxText: '', slow: new Map<string, { n: number; ms: number }>() };
const query = pg.Client.prototype.query;
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  statements++;
  const text = kinds || traceFile ? (typeof args[0] === 'string' ? args[0] : String((args[0] as { text?: string })?.text ?? '?')) : '';
  if (kinds) {
    const kind = text.replace(/\s+/g, " ").trim().slice(0, 240);
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  }
  const result = (query as (...a: unknown[]) => unknown).apply(this, args);
  if (traceFile && result && typeof (result as Promise<unknown>).then === 'function') {
    const began = performance.now();
    traceQueries.started++;
    const done = () => {
      const ms = performance.now() - began;
      traceQueries.finished++;
      traceQueries.totalMs += ms;
      const kind = text.replace(/\s+/g, ' ').trim().slice(0, 60);
      if (ms > traceQueries.maxMs) {
        traceQueries.maxMs = ms;
        traceQueries.maxText = kind;
      }
      if (ms >= 50) {
        const k = traceQueries.slow.get(kind) ?? { n: 0, ms: 0 };
        k.n++;
        k.ms = Math.max(k.ms, ms);
        traceQueries.slow.set(kind, k);
      }
    };
    (result as Promise<unknown>).then(done, done);
  }
  return result;
} as typeof query;

/**
 * The app's second-by-second trace for finding stalls: pool (total, idle, waiting), statements (in
 * flight, finished, slowest), GC pauses, event-loop delay, CPU, projection lag and anchoring progress.
 */
const startTrace = (app: RunningApp) => {
  if (!traceFile) return;
  const gc = { n: 0, ms: 0, maxMs: 0 };
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gc.n++;
      gc.ms += e.duration;
      gc.maxMs = Math.max(gc.maxMs, e.duration);
    }
  }).observe({ entryTypes: ['gc'] });
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  let cpu = process.cpuUsage();
  const pool = app.db.pool;
  const r = (x: number) => Math.round(x * 10) / 10;
  setInterval(() => {
    const used = process.cpuUsage(cpu);
    cpu = process.cpuUsage();
    const a = app.ledger?.anchoring.status();
    const line = {
      t: Date.now(),
      cpuMs: r((used.user + used.system) / 1000),
      pool: pool ? [pool.totalCount, pool.idleCount, pool.waitingCount] : null,
      q: { inFlight: traceQueries.started - traceQueries.finished, done: traceQueries.finished, avgMs: r(traceQueries.totalMs / Math.max(1, traceQueries.finished)), maxMs: r(traceQueries.maxMs), max: traceQueries.maxText, slow: Object.fromEntries(traceQueries.slow) },
      gc: { n: gc.n, ms: r(gc.ms), maxMs: r(gc.maxMs) },
      loop: { p99: r(loop.percentile(99) / 1e6), max: r(loop.max / 1e6) },
      projLagMs: app.projections.lagMs(),
      anch: a ? { size: a.size, final: a.finalSize, pending: a.pendingEntries, lag: a.lastLagMs } : null,
      heapMiB: Math.round(process.memoryUsage().heapUsed / 2 ** 20),
    };
    traceQueries.started -= traceQueries.finished;
    traceQueries.finished = 0;
    traceQueries.totalMs = 0;
    traceQueries.maxMs = 0;
    traceQueries.maxText = '';
    traceQueries.slow.clear();
    gc.n = gc.ms = gc.maxMs = 0;
    loop.reset();
    appendFileSync(traceFile, `${JSON.stringify(line)}\n`);
  }, 1000).unref();
};

const printKinds = () => {
  if (!kinds) return;
  console.error([...kinds].sort((a, b) => b[1] - a[1]).slice(0, 25).map(([k, n]) => `${n}\t${k}`).join('\n'));
  kinds.clear();
};

/** Samples lags, CPU and memory while a run lasts. */
const sampler = (app: RunningApp, options: { ownTimer: boolean } = { ownTimer: true }) => {
  const projectionLag: number[] = [];
  const anchoringLag: number[] = [];
  let lastFinalAt = app.ledger?.anchoring.status().lastFinalAt?.getTime() ?? 0;
  let peakRss = 0;
  let peakHeap = 0;
  const cpu = process.cpuUsage();
  const statementsAtStart = statements;
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  // The event-loop delay of the sampled phase only: the histogram starts at the first tick and is read at
  // each tick, so an end-to-end run's provisioning and close (ticks come only while voters arrive) are
  // left out of it.
  let ticks = 0;
  let loopP99 = 0;
  let loopMax = 0;
  const tick = () => {
    if (ticks++ === 0) loopDelay.reset();
    else {
      loopP99 = loopDelay.percentile(99);
      loopMax = loopDelay.max;
    }
    projectionLag.push(app.projections.lagMs());
    const status = app.ledger?.anchoring.status();
    const at = status?.lastFinalAt?.getTime() ?? 0;
    // One sample per anchoring round that finalised (lastLagMs belongs to that round's oldest entry).
    if (status && at !== lastFinalAt && status.lastLagMs !== null) anchoringLag.push(status.lastLagMs);
    lastFinalAt = at;
    const m = process.memoryUsage();
    peakRss = Math.max(peakRss, m.rss);
    peakHeap = Math.max(peakHeap, m.heapUsed);
  };
  const timer = options.ownTimer ? setInterval(tick, 100) : undefined;
  return {
    tick,
    stop: (): LoadSamples => {
      clearInterval(timer);
      loopDelay.disable();
      const used = process.cpuUsage(cpu);
      return {
        projectionLag, anchoringLag, statements: statements - statementsAtStart, cpuMicros: used.user + used.system,
        loopDelayP99Ms: Math.round((ticks > 1 ? loopP99 : loopDelay.percentile(99)) / 1e6), loopDelayMaxMs: Math.round((ticks > 1 ? loopMax : loopDelay.max) / 1e6),
        peakRssMiB: Math.round(peakRss / 2 ** 20), peakHeapMiB: Math.round(peakHeap / 2 ** 20), maxRssMiB: Math.round(resourceUsage().maxRSS / 1024),
      };
    },
  };
};

/** Waits until projections and anchoring have caught up with everything appended so far. */
const caughtUp = async (app: RunningApp, timeoutMs = 300_000) => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await app.projections.settled();
      break;
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
  }
  for (;;) {
    const s = app.ledger?.anchoring.status();
    if (!s || (s.finalSize >= s.size && s.pendingEntries === 0) || Date.now() > deadline) return;
    await new Promise((r) => setTimeout(r, 50));
  }
};

/**
 * BENCH_APP_PROFILE=DIR: a CPU profile of the app process from each sampleStart to its sampleStop (the
 * load run and its catch-up, not start-up or provisioning), and of an end-to-end run's load step,
 * written to DIR as a .cpuprofile file.
 */
let profiles = 0;
const profiler = ((p) => p && { start: p.start, stop: () => p.stop(`app-${process.pid}-${++profiles}`) })(cpuProfilerFor(process.env.BENCH_APP_PROFILE));

const serve = async () => {
  const secret = Buffer.from(process.env.BENCH_SERVER_SECRET!, 'hex');
  // BENCH_ANCHOR_INTERVAL_MS: try another anchoring round interval (the app's ANCHOR_INTERVAL_MS).
  const anchorInterval: Record<string, string> = process.env.BENCH_ANCHOR_INTERVAL_MS ? { ANCHOR_INTERVAL_MS: process.env.BENCH_ANCHOR_INTERVAL_MS } : {};
  const env = { SERVER_SECRET: secret.toString('hex'), DATABASE_POOL_SIZE: process.env.BENCH_POOL ?? '10', ...anchorInterval };
  // BENCH_DATABASE_URL / BENCH_DATA_DIR: start on a database and data directory the bench seeded (bench 'history').
  const app = process.env.BENCH_DATABASE_URL
    ? await startTestApp(env, { db: connectPostgres(process.env.BENCH_DATABASE_URL, Number(process.env.BENCH_POOL ?? 10)), dataDir: process.env.BENCH_DATA_DIR! })
    : await startTestApp(env);
  startTrace(app);
  let current: ReturnType<typeof sampler> | null = null;
  const handle = async (req: Request): Promise<unknown> => {
    switch (req.cmd) {
      case 'provision': {
        const voters = await provisionVoters({ db: app.db.kysely, eventStore: app.eventStore, serverSecret: secret, nodeEnv: 'test' }, { count: req.count });
        const q = budgetPollDefinition().questions[0]!;
        await writeVotersFile(req.file, { questionId: q.id, optionIds: q.options.map((o) => o.id), maxChoices: q.maxChoices }, voters);
        await caughtUp(app);
        return null;
      }
      case 'watchSettled': {
        // The tamper watch's first passes after a start digest every bucket and then compare the older
        // ones a window a pass; this waits for a pass that began after this call, so that what follows
        // measures the passes of a running vote.
        const target = (app.ledger?.tamperPasses() ?? 0) + 2;
        const deadline = Date.now() + 600_000;
        while (app.ledger && app.ledger.tamperPasses() < target && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        return null;
      }
      case 'openPoll': {
        const pollId = await openBudgetPoll(app.eventStore, official);
        await caughtUp(app);
        return pollId;
      }
      case 'sampleStart':
        kinds?.clear();
        current = sampler(app);
        await profiler?.start();
        return null;
      case 'sampleStop': {
        const s = current!;
        current = null;
        // The lags of the run's last ballots count too: keep sampling until both have caught up.
        if (req.untilCaughtUp) await caughtUp(app);
        await profiler?.stop();
        s.tick();
        printKinds();
        return s.stop();
      }
      case 'endToEnd': {
        // Lags are sampled during the load phase only (the driver ticks every 100 ms while voters
        // arrive): provisioning appends a burst of citizen events that is not what voters see.
        const s = sampler(app, { ownTimer: false });
        kinds?.clear();
        // Memory through every step, the app's and each ledger node's (its children running the node's main).
        const rssBySteps: Record<string, { appMiB: number; nodeMiB: number }> = {};
        let step = 'provision';
        const mib = (bytes: number) => Math.round(bytes / 2 ** 20);
        const watch = setInterval(() => {
          const { own, children } = rssOfProcessAndChildren(process.pid, 'ledger/node/main');
          const peak = (rssBySteps[step] ??= { appMiB: 0, nodeMiB: 0 });
          peak.appMiB = Math.max(peak.appMiB, mib(own));
          for (const rss of children.values()) peak.nodeMiB = Math.max(peak.nodeMiB, mib(rss));
        }, 250);
        const databaseUrl = (app.db as { url?: string }).url;
        try {
          const result = await runEndToEnd(app, secret, {
            ...req.options,
            onSample: s.tick,
            // BENCH_APP_PROFILE: the end-to-end run's profile covers the load step (every voter's page and ballot).
            onStep: (next) => {
              if (next === 'load') void profiler?.start();
              if (step === 'load') void profiler?.stop();
              step = next;
            },
            ...(databaseUrl ? { provisionInChild: { databaseUrl } } : {}),
          });
          printKinds();
          return { result, samples: { ...s.stop(), rssBySteps } };
        } finally {
          clearInterval(watch);
        }
      }
      case 'heap': {
        const gc = (globalThis as { gc?: () => void }).gc;
        gc?.();
        const m = process.memoryUsage();
        return { heapUsedMiB: Math.round(m.heapUsed / 2 ** 20), rssMiB: Math.round(m.rss / 2 ** 20), gc: gc !== undefined } satisfies HeapReport;
      }
      case 'explain':
        return explainWatchQueries(app.db.kysely);
      case 'stop':
        return null;
    }
  };
  process.on('message', (req: Request) => {
    handle(req).then(
      (result) => {
        process.send!({ id: req.id, result }, () => {
          if (req.cmd !== 'stop') return;
          // Dropping the test database WITH (FORCE) ends connections a pool still holds: pg re-emits that.
          process.on('uncaughtException', () => undefined);
          app.stop().catch(() => undefined).finally(() => process.exit(0));
        });
      },
      (error: unknown) => process.send!({ id: req.id, error: String((error as Error)?.stack ?? error) }),
    );
  });
  // The bench died: do not linger (the ledger nodes are our children and go with us).
  process.on('disconnect', () => {
    process.on('uncaughtException', () => undefined);
    app.stop().catch(() => undefined).finally(() => process.exit(1));
  });
  process.send!({ id: 0, result: app.url });
};

/** The bench's handle on the app process. */
export interface AppProcess {
  url: string;
  pid: number;
  provision(count: number, file: string): Promise<void>;
  openPoll(): Promise<string>;
  /** Waits until the tamper watch has finished two passes more than it had (the first after a start digests every bucket). */
  watchSettled(): Promise<void>;
  sampleStart(): Promise<void>;
  sampleStop(untilCaughtUp: boolean): Promise<LoadSamples>;
  endToEnd(options: Omit<EndToEndOptions, 'onSample'>): Promise<{ result: EndToEndResult; samples: LoadSamples }>;
  heap(): Promise<HeapReport>;
  /** EXPLAIN ANALYZE of the per-round and per-pass queries on the app's database as it is now. */
  explain(): Promise<string>;
  stop(): Promise<void>;
}

/** Forks the app host; `execArgv` extra flags (e.g. `--cpu-prof`) come from BENCH_APP_NODE_FLAGS. */
export const startAppProcess = async (serverSecret: Buffer, pool: number, env: Record<string, string> = {}): Promise<AppProcess> => {
  const extra = (env.BENCH_APP_NODE_FLAGS ?? process.env.BENCH_APP_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--serve'], {
    // The heap flags `npm start` sets (docs/DEPLOYMENT.md).
    execArgv: ['--max-semi-space-size=64', '--heap-growing-percent=50', '--import', 'tsx', ...extra],
    env: { ...process.env, ...env, BENCH_SERVER_SECRET: serverSecret.toString('hex'), BENCH_POOL: String(pool) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiting = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  child.on('message', (m: { id: number; result?: unknown; error?: string }) => {
    const w = waiting.get(m.id);
    waiting.delete(m.id);
    if (m.error) w?.reject(new Error(m.error));
    else w?.resolve(m.result);
  });
  child.on('exit', (code) => {
    for (const w of waiting.values()) w.reject(new Error(`app process exited with ${code}`));
    waiting.clear();
  });
  type Untagged = Request extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;
  const call = <T>(req: Untagged): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++;
      waiting.set(id, { resolve, reject });
      child.send({ ...req, id });
    });
  const url = await new Promise<string>((resolve, reject) => waiting.set(0, { resolve, reject }));
  return {
    url,
    pid: child.pid!,
    provision: (count, file) => call({ cmd: 'provision', count, file }),
    openPoll: () => call({ cmd: 'openPoll' }),
    watchSettled: () => call({ cmd: 'watchSettled' }),
    sampleStart: () => call({ cmd: 'sampleStart' }),
    sampleStop: (untilCaughtUp) => call({ cmd: 'sampleStop', untilCaughtUp }),
    endToEnd: (options) => call({ cmd: 'endToEnd', options }),
    heap: () => call({ cmd: 'heap' }),
    explain: () => call({ cmd: 'explain' }),
    stop: async () => {
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      await call({ cmd: 'stop' });
      await exited;
    },
  };
};

if (process.argv.includes('--serve')) await serve();
