/**
 * Equal Shares runs on worker threads, for `equalSharesAdd1With` (pb:tally): add1 makes one run per +1
 * per voter (179 on a 15,000-voter Warsaw file), each independent of the others given its budget, so the
 * runs after the one the loop is reading are made ahead, in parallel: the main thread and one worker per
 * other core each take the next budget not yet taken. The loop reads the outcomes in order and stops at
 * the first that does not fit; the runs made ahead of it are thrown away (at most a few).
 *
 * The domain stays synchronous and pure: a worker calls the same `equalSharesRunPerVoter` on its own copy
 * of the prepared ballots. A worker that fails to start or dies only costs speed: its budgets are run on
 * the main thread. This module is also the workers' entry (from the esbuild bundle pb:tally runs, it is
 * that bundle; under tsx, this file with tsx's loader).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { equalSharesRunPerVoter, type MesInstance } from '../domain/budgetRules.ts';

const ROLE = 'equal-shares-runs';

/** `series` numbers the runsFrom calls: an answer to an earlier one is not mixed in. */
interface Job {
  series: number;
  perVoter: bigint;
}
interface Done extends Job {
  winners: number[];
}

if (!isMainThread && (workerData as { role?: string } | null)?.role === ROLE) {
  let inst: MesInstance | undefined;
  parentPort!.on('message', (message: { inst: MesInstance } | Job) => {
    if ('inst' in message) inst = message.inst;
    else parentPort!.postMessage({ ...message, winners: equalSharesRunPerVoter(inst!, message.perVoter) } satisfies Done);
  });
  parentPort!.postMessage('ready');
}

/**
 * A worker running this module. Under tsx (tests, `tsx src/cli/...`) the module is TypeScript: the worker
 * registers tsx's loader through its API (the ESM build tsx's package.json names; a worker takes no
 * --import flag, and tsx's own --import entry does nothing in a worker), then imports the module.
 */
function startWorker(own: URL): Worker {
  const workerData = { role: ROLE };
  if (!own.pathname.endsWith('.ts')) return new Worker(own, { workerData });
  const manifest = createRequire(own).resolve('tsx/package.json');
  const { exports } = JSON.parse(readFileSync(manifest, 'utf8')) as { exports: Record<string, { import: { default: string } }> };
  const api = new URL(exports['./esm/api']!.import.default, pathToFileURL(manifest)).href;
  const boot = `import(${JSON.stringify(api)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(own.href)}); });`;
  return new Worker(boot, { eval: true, workerData });
}

/**
 * add1's runs go to worker threads from this many approvals a run reads (distinct ballots' approvals):
 * a worker costs tens of milliseconds of CPU to start and to warm up its compiler, more than a small
 * election's whole add1 (Wieliczka 2023: 7,050, Świecie 2023: 2,356; Wola 2025: 52,824 and Praga-Południe
 * 2020: 128,176 take hundreds of milliseconds on one thread).
 */
const PARALLEL_FROM = 20_000;

/**
 * How many worker threads should make add1's runs beside the main thread, for runs that each read
 * `approvals` approvals: one per core the last minute's load average leaves idle (at least half idle),
 * none below PARALLEL_FROM. A worker only helps on a core nobody else wants. Praga-Południe's whole
 * command on the shared 2-vCPU machine: at load 5-11 a worker made it slower (2.9 s against 2.7 s, median
 * of 8 each in turn: the two threads share one core, and the worker adds its start-up and its compiler's
 * warm-up); at load 1.3-1.4 a little faster (0.70 s against 0.725 s, median of 6 each in turn).
 */
export function add1WorkerCount(approvals: number, cores = availableParallelism(), load = loadavg()[0]!): number {
  if (approvals < PARALLEL_FROM) return 0;
  return Math.max(0, Math.min(cores - 1, Math.round(cores - load)));
}

interface Lane {
  worker: Worker;
  /** Budgets sent and not yet answered. */
  busy: Set<bigint>;
  /** Loaded: it is given runs only then (the main thread would otherwise wait for a worker still starting). */
  ready: boolean;
  alive: boolean;
}

export interface ParallelEqualShares {
  /**
   * Starts the runs at `from`, `from` + 1, ... per voter on the workers now, while the main thread does
   * other work (pb:tally counts the other rules meanwhile); `runsFrom` with the same instance and `from`
   * reads them. Optional.
   */
  start: (inst: MesInstance, from: bigint) => void;
  /** Outcomes of the runs at `from`, `from` + 1, ... per voter, in order (see equalSharesAdd1With). */
  runsFrom: (inst: MesInstance, from: bigint) => AsyncIterable<number[]>;
  /** Stops the workers. */
  close: () => Promise<void>;
  /** How many runs each thread made, the main thread first (for --timing). */
  readonly runsMade: number[];
  /** Settles when every worker is loaded or gone (runs do not wait for it). */
  readonly ready: Promise<void>;
}

/** One sequence of runs: from `from` on, `want` the next the loop reads, `next` the next not taken yet. */
interface Series {
  id: number;
  inst: MesInstance;
  from: bigint;
  want: bigint;
  next: bigint;
  results: Map<bigint, number[]>;
}

/**
 * Starts the workers now (one per core beyond the first, or `workers`), so that they are loaded by the
 * time the runs start; they get the ballots with `start` or the first `runsFrom`.
 */
export function parallelEqualShares(options: { workers?: number } = {}): ParallelEqualShares {
  const count = options.workers ?? Math.max(0, availableParallelism() - 1);
  const own = new URL(import.meta.url);
  let wake: () => void = () => {};
  let settle = () => {};
  const ready = new Promise<void>((resolve) => {
    settle = () => {
      if (lanes.every((lane) => lane.ready || !lane.alive)) resolve();
    };
  });
  const runsMade = new Array<number>(count + 1).fill(0);
  const lanes: Lane[] = [];
  let current: Series | undefined;
  // Runs are taken in order; each worker has up to two waiting (no idle gap between its runs), and no
  // run is taken more than `ahead` budgets beyond the one the loop is reading (the runs past the end of
  // the loop are thrown away: a few on a busy machine, more while the main thread is on other rules).
  const ahead = BigInt(4 * (count + 1));
  /** Gives each loaded worker runs up to its two. */
  const fill = () => {
    const c = current;
    if (!c) return;
    for (const lane of lanes) {
      while (lane.alive && lane.ready && lane.busy.size < 2 && c.next - c.want < ahead) {
        lane.busy.add(c.next);
        lane.worker.postMessage({ series: c.id, perVoter: c.next++ } satisfies Job);
      }
    }
  };
  for (let i = 0; i < count; i++) {
    let worker: Worker;
    try {
      worker = startWorker(own);
    } catch {
      break;
    }
    const lane: Lane = { worker, busy: new Set(), ready: false, alive: true };
    worker.on('message', (done: Done | 'ready') => {
      if (done === 'ready') {
        lane.ready = true;
      } else if (current && done.series === current.id) {
        lane.busy.delete(done.perVoter);
        current.results.set(done.perVoter, done.winners);
        runsMade[i + 1]!++;
      } else return;
      settle();
      fill();
      wake();
    });
    const gone = () => {
      lane.alive = false;
      settle();
      wake();
    };
    worker.on('error', gone);
    worker.on('exit', gone);
    lanes.push(lane);
  }

  const start = (inst: MesInstance, from: bigint): Series => {
    if (current && current.inst === inst && current.from === from && current.want === from) return current;
    current = { id: (current?.id ?? 0) + 1, inst, from, want: from, next: from, results: new Map() };
    for (const lane of lanes) {
      // Queued before any run, also for a worker still loading.
      if (lane.alive) lane.worker.postMessage({ inst });
      lane.busy.clear();
    }
    fill();
    return current;
  };

  async function* runsFrom(inst: MesInstance, from: bigint): AsyncGenerator<number[]> {
    const c = start(inst, from);
    const runHere = (perVoter: bigint) => {
      c.results.set(perVoter, equalSharesRunPerVoter(inst, perVoter));
      runsMade[0]!++;
    };
    for (;;) {
      fill();
      const outcome = c.results.get(c.want);
      if (outcome) {
        c.results.delete(c.want++);
        yield outcome;
        continue;
      }
      const onAWorker = lanes.some((lane) => lane.alive && lane.busy.has(c.want));
      if (!onAWorker) {
        // Not taken yet, or its worker died: run it here.
        runHere(c.want);
        if (c.next <= c.want) c.next = c.want + 1n;
      } else if (c.next - c.want < ahead) {
        runHere(c.next++);
      } else {
        await new Promise<void>((resolve) => (wake = resolve));
        continue;
      }
      // Let the workers' answers in before looking again.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  settle();
  return {
    start: (inst, from) => void start(inst, from),
    runsFrom,
    runsMade,
    ready,
    close: async () => {
      await Promise.all(lanes.map((lane) => lane.worker.terminate()));
    },
  };
}
