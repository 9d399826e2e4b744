import { readFileSync, writeFileSync, existsSync, readdirSync, mkdirSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';
import { cpus, loadavg, totalmem, platform, release } from 'node:os';
import { fileURLToPath } from 'node:url';

/**
 * Benchmarks write one section each into BENCHMARKS.md between `<!-- bench:NAME -->` markers, so one
 * benchmark can be re-run without erasing the others. Figures are reported as ratios against a baseline
 * measured in the same run: these machines are shared and noisy.
 */
export interface Bench {
  name: string;
  title: string;
  run(): Promise<string>;
}

const file = fileURLToPath(new URL('../BENCHMARKS.md', import.meta.url));

export const machineLine = (): string =>
  `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, ${platform()} ${release()}, Node ${process.version}`;

export const writeSection = (bench: Bench, body: string): void => {
  const start = `<!-- bench:${bench.name} -->`;
  const end = `<!-- /bench:${bench.name} -->`;
  const section = `${start}\n## ${bench.title}\n\nMeasured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC on ${machineLine()}.\n\n${body.trim()}\n${end}`;
  let text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n\n`npm run bench` (all) or `npm run bench -- NAME` (one) rewrites its section of this file.\n';
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  text = from >= 0 && to > from ? text.slice(0, from) + section + text.slice(to + end.length) : `${text.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, text);
};

export const perSecond = (count: number, ms: number): number => Math.round((count * 1000) / ms);

export const fmt = (n: number): string => n.toLocaleString('en-US');

export const time = async (fn: () => Promise<unknown>): Promise<number> => {
  const started = performance.now();
  await fn();
  return performance.now() - started;
};

/** Percentile of already sorted numbers. */
export const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

/** One line of /proc/PID/stat per process on the machine now (a process that ended meanwhile is left out). */
const procStats = function* (): Generator<{ pid: number; comm: string; fields: string[] }> {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    const close = stat.lastIndexOf(')');
    // fields: what follows the command name, from the state on ([1] ppid, [11] utime, [21] rss in pages).
    yield { pid: Number(entry), comm: stat.slice(stat.indexOf('(') + 1, close), fields: stat.slice(close + 2).split(' ') };
  }
};

/**
 * CPU seconds (utime + stime, 100 Hz) of every process on the machine now, by pid, with the role
 * `roleOf` gives it from its pid, parent pid and command name: where the cores went during a run.
 * This process's own line also counts its reaped children (cutime, cstime): a runner that ended.
 */
export const cpuByProcess = <Role extends string>(roleOf: (pid: number, ppid: number, comm: string) => Role): Map<number, { role: Role; seconds: number }> => {
  const out = new Map<number, { role: Role; seconds: number }>();
  for (const { pid, comm, fields } of procStats()) {
    const own = pid === process.pid ? Number(fields[13]) + Number(fields[14]) : 0;
    out.set(pid, { role: roleOf(pid, Number(fields[1]), comm), seconds: (Number(fields[11]) + Number(fields[12]) + own) / 100 });
  }
  return out;
};

/**
 * CPU seconds by role between two samples, per process, so that a process that ended during the run
 * (a PostgreSQL backend) never counts negative; its last slice is missed.
 */
export const cpuDeltaByRole = <Role extends string>(roles: readonly Role[], before: Map<number, { role: Role; seconds: number }>, after: Map<number, { role: Role; seconds: number }>): Record<Role, number> => {
  const sums = Object.fromEntries(roles.map((r) => [r, 0])) as Record<Role, number>;
  for (const [pid, { role, seconds }] of after) sums[role] = (sums[role] ?? 0) + Math.max(0, seconds - (before.get(pid)?.seconds ?? 0));
  return sums;
};

/**
 * Resident set size (bytes) of a process and of its children now, from /proc: the app host's own
 * figure and its ledger nodes' (they are its children). A process that ended is left out.
 */
export const rssOfProcessAndChildren = (pid: number, childCommand?: string): { own: number; children: Map<number, number> } => {
  const page = 4096;
  let own = 0;
  const children = new Map<number, number>();
  for (const p of procStats()) {
    const rss = Number(p.fields[21]) * page;
    if (p.pid === pid) own = rss;
    else if (Number(p.fields[1]) === pid && (childCommand === undefined || commandLine(p.pid).includes(childCommand))) children.set(p.pid, rss);
  }
  return { own, children };
};

const commandLine = (pid: number): string => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
};

/** The machine's 1, 5 and 15 minute load averages, one decimal each: every bench states it beside its figures. */
export const loadAverage = (separator = ', '): string => loadavg().map((l) => l.toFixed(1)).join(separator);

/** What a bench that needs PostgreSQL answers without one. */
export const NEEDS_POSTGRES = 'Needs PostgreSQL: run with TEST_DATABASE_URL set (npm run bench sets it).';

/**
 * A CPU profiler of this process through the inspector (1 ms samples), or null without `dir`: each
 * start..stop(name) writes DIR/NAME.cpuprofile (read them with profileSummary.ts).
 */
export const cpuProfilerFor = (dir: string | undefined) => {
  if (!dir) return null;
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object) =>
    new Promise<any>((resolve, reject) => session.post(method, params ?? {}, (e, r) => (e ? reject(e) : resolve(r))));
  return {
    start: async () => {
      await post('Profiler.enable');
      await post('Profiler.setSamplingInterval', { interval: 1000 });
      await post('Profiler.start');
    },
    stop: async (name: string) => {
      const { profile } = await post('Profiler.stop');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, `${name}.cpuprofile`), JSON.stringify(profile));
    },
  };
};
