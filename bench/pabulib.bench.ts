import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as now from '../src/domain/budgetRules.ts';
import * as nowPb from '../src/domain/pabulib.ts';
import { fmt, loadAverage, type Bench } from './harness.ts';

/**
 * Pabulib, each figure against a baseline measured in the same run:
 * (1) `pb:tally`, per rule per file: the counting in this process, now against the domain code of
 *     BASELINE (main before the Equal Shares rewrite, taken out of git into node_modules/.cache), and
 *     the whole command as a user runs it (a child process: start-up, parsing, every rule) against the
 *     baseline's command under tsx;
 * (2) `pb:import` before the first ballot (no --cast: create, schedule, open), now against the flow
 *     before the Pabulib work (bench/pbImportBaseline.ts under tsx: storage opened first with the whole
 *     composition root loaded, and PGlite's initdb on a new data directory, PGLITE_INITDB_COPY=0), on a
 *     new data directory and on one already made, for a good file and a bad one.
 * BENCH_PB_QUICK=1 (or a load average above 4) leaves out the two largest files' baseline add1 runs
 * (tens of seconds each) and the new data directories.
 */
const BASELINE = 'f4d040e';
/**
 * Main before the module-function payment scan, the exact round payments per earlier round, the
 * load-aware worker count and the split-only vote parse (pb:tally then: 0.85-0.92 s on Praga-Południe on
 * a quiet machine, with one worker thread).
 */
const MAIN_BEFORE = 'ec3c036';
const root = fileURLToPath(new URL('..', import.meta.url));
const files = fileURLToPath(new URL('../test/pabulib/files/', import.meta.url));

type RulesModule = typeof now;
type PabulibModule = typeof nowPb;

/** The baseline's src/domain and pb:tally, extracted from git once (node_modules resolve from there). */
const baselineDir = (): string => {
  const dir = join(root, 'node_modules/.cache/civic-vote', `pb-baseline-${BASELINE}`);
  if (!existsSync(join(dir, 'src/cli/pbTally.ts'))) {
    mkdirSync(dir, { recursive: true });
    const tar = execFileSync('git', ['archive', BASELINE, 'src/domain', 'src/cli/pbTally.ts'], { cwd: root, maxBuffer: 1 << 28 });
    execFileSync('tar', ['-x', '-C', dir], { input: tar });
  }
  return dir;
};

/** MAIN_BEFORE's pb:tally as one esbuild bundle, as scripts/runBundled.mjs builds it (packages resolve from node_modules). */
const mainBeforeBundle = async (): Promise<string> => {
  const dir = join(root, 'node_modules/.cache/civic-vote', `pb-main-${MAIN_BEFORE}`);
  const out = join(dir, 'pbTally.mjs');
  if (!existsSync(out)) {
    mkdirSync(dir, { recursive: true });
    const tar = execFileSync('git', ['archive', MAIN_BEFORE, 'src'], { cwd: root, maxBuffer: 1 << 28 });
    execFileSync('tar', ['-x', '-C', dir], { input: tar });
    const { build } = await import('esbuild');
    await build({ entryPoints: [join(dir, 'src/cli/pbTally.ts')], bundle: true, packages: 'external', platform: 'node', format: 'esm', target: 'node20', outfile: out, logLevel: 'warning' });
  }
  return out;
};

/** The file's poll definition counted under `rule` (as pb:tally does), with either version's code. */
const countUnder = (rules: RulesModule, pbm: PabulibModule, text: string, rule: string): (() => number) => {
  const pb = pbm.parsePabulib(text);
  const def = pbm.pabulibToPollDefinition(pb, { pollId: 'bench', opensAt: '2000-01-01T00:00:00Z', closesAt: '2000-01-02T00:00:00Z' });
  const info = pbm.pabulibRuleInfo(rule);
  const { minApprovals } = pbm.pabulibBudget(pb);
  def.budget = { total: def.budget!.total, currency: def.budget!.currency, ...info.budget, ...(info.budget.rule === 'greedy' && rule !== 'greedy' && minApprovals !== undefined ? { minApprovals } : {}) };
  const ballots = pbm.pabulibApprovals(pb);
  return () => rules.budgetOutcome(def, ballots).funded.length;
};

const timed = (fn: () => unknown): number => {
  const t = performance.now();
  fn();
  return performance.now() - t;
};

/** A child process under /usr/bin/time: wall time and peak RSS. */
const run = (cmd: string[], env: Record<string, string> = {}): { ms: number; rssMb: number; code: number | null; out: string } => {
  const started = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', ...cmd], { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 1 << 26 });
  const ms = performance.now() - started;
  const rssKb = Number((r.stderr.trim().split('\n').at(-1) ?? '0').trim());
  return { ms, rssMb: Math.round(rssKb / 1024), code: r.status, out: r.stdout };
};

const tsxBin = join(root, 'node_modules/.bin/tsx');

export const pabulibBench: Bench = {
  name: 'pabulib',
  title: 'Pabulib: pb:tally per rule, and pb:import before the first ballot',
  async run() {
    const lines: string[] = [];
    const load = () => loadAverage(' / ');
    const quick = process.env.BENCH_PB_QUICK === '1' || loadavg()[0]! > 4;
    lines.push(`Load average at the start: ${load()} (2 cores shared with other engineers' tests: expect noise).${quick ? ' Quick run (load above 4 or BENCH_PB_QUICK=1): no baseline add1 on the two largest files, no new data directories.' : ''}`, '');

    const base = baselineDir();
    const old = (await import(pathToFileURL(join(base, 'src/domain/budgetRules.ts')).href)) as RulesModule;
    const oldPb = (await import(pathToFileURL(join(base, 'src/domain/pabulib.ts')).href)) as PabulibModule;
    const cases: [string, string][] = [
      ['Świecie 2023', 'Poland_Swiecie_2023.pb'],
      ['Warszawa 2025 Wola', 'Poland_Warszawa_2025_Wola.pb'],
      ['Wieliczka 2023', 'Poland_Wieliczka_2023_Green_Budget.pb'],
      ['Warszawa 2020 Praga-Południe', 'Poland_Warszawa_2020_Praga-Poludnie.pb'],
    ];
    const rules = ['greedy', 'greedy-no-skip', 'equalshares', 'equalshares-comparison', 'equalshares/add1', 'equalshares/add1-comparison'];
    lines.push(
      `### pb:tally: counting per rule, in one process (baseline: ${BASELINE}, before the Equal Shares rewrite; best of 3, a baseline run over 0.5 s once; ratio now / baseline)`,
      '',
      `| file | voters | ${rules.join(' | ')} |`,
      `|---|---|${rules.map(() => '---').join('|')}|`,
    );
    for (const [label, name] of cases) {
      const text = readFileSync(join(files, name), 'utf8');
      const voters = nowPb.parsePabulib(text).votes.length;
      const cells: string[] = [];
      for (const rule of rules) {
        const fresh = countUnder(now, nowPb, text, rule);
        const best = Math.min(...[0, 1, 2].map(() => timed(fresh)));
        const slow = rule.includes('add1') && voters > 5000 && quick;
        const oldRun = countUnder(old, oldPb, text, rule);
        const first = slow ? undefined : timed(oldRun);
        // Best of 3 for both, except a baseline run of over half a second (once is enough to compare).
        const before = first === undefined || first > 500 ? first : Math.min(first, timed(oldRun), timed(oldRun));
        const same = slow || countUnder(old, oldPb, text, rule)() === fresh();
        cells.push(`${before === undefined ? 'n/a' : `${fmt(Math.round(before))} →`} ${fmt(Math.round(best))} ms${before === undefined ? '' : ` (${(best / before).toFixed(2)})`}${same ? '' : ' DIFFERENT OUTCOME'}`);
      }
      lines.push(`| ${label} | ${fmt(voters)} | ${cells.join(' | ')} |`);
    }

    lines.push(
      '',
      '### pb:tally: the whole command as a user runs it (child process, every rule, the file\'s `selected` compared)',
      '',
      `Baseline: the baseline's pb:tally under tsx (once). Main before: ${MAIN_BEFORE}'s pb:tally from its own esbuild bundle, as npm run pb:tally ran it then (one add1 worker thread on a file of 20,000 approvals per run or more, whatever the load). Now: \`node scripts/runBundled.mjs src/cli/pbTally.ts\` (what \`npm run pb:tally\` runs; the bundle already built; add1 workers only on cores the load average leaves idle), and the same with \`--workers 1\` (a worker whatever the load). Main before and both nows: best of 3 and median of 3, taken in turn. Start-up is the same command on a missing file.`,
      '',
      '| file | voters | baseline | main before (best, median) | now (best, median) | now / main before (best, median) | now --workers 1 (best, median) | now / baseline | now: start-up / parse / count (from --timing, best run) |',
      '|---|---|---|---|---|---|---|---|---|',
    );
    const nowCmd = (path: string, extra: string[] = []) => ['node', join(root, 'scripts/runBundled.mjs'), join(root, 'src/cli/pbTally.ts'), path, ...extra];
    const oldCmd = (path: string) => [tsxBin, join(base, 'src/cli/pbTally.ts'), path];
    const mainBefore = await mainBeforeBundle();
    const mainCmd = (path: string) => ['node', mainBefore, path];
    run(nowCmd('/nonexistent.pb')); // builds the bundle if needed
    const missing = join(tmpdir(), 'no-such-file.pb');
    const oldStart = run(oldCmd(missing));
    const mainStart = run(mainCmd(missing));
    const nowStart = run(nowCmd(missing));
    const cell = (r: { ms: number; rssMb: number }) => `${fmt(Math.round(r.ms))} ms, ${r.rssMb} MB`;
    lines.push(`| (missing file: start-up only) | | ${cell(oldStart)} | ${cell(mainStart)} | ${cell(nowStart)} | ${(nowStart.ms / mainStart.ms).toFixed(2)} | | ${(nowStart.ms / oldStart.ms).toFixed(2)} | |`);
    type Run = ReturnType<typeof run>;
    const best = (xs: Run[]) => xs.reduce((a, b) => (b.ms < a.ms ? b : a));
    const median = (xs: Run[]) => [...xs].sort((a, b) => a.ms - b.ms)[Math.floor(xs.length / 2)]!;
    const both = (xs: Run[]) => `${fmt(Math.round(best(xs).ms))}, ${fmt(Math.round(median(xs).ms))} ms, ${best(xs).rssMb} MB`;
    for (const [label, name] of cases) {
      const path = join(files, name);
      const voters = nowPb.parsePabulib(readFileSync(path, 'utf8')).votes.length;
      const mains: Run[] = [];
      const nows: Run[] = [];
      const withWorker: Run[] = [];
      for (let i = 0; i < 3; i++) {
        mains.push(run(mainCmd(path)));
        nows.push(run(nowCmd(path, ['--timing'])));
        withWorker.push(run(nowCmd(path, ['--workers', '1'])));
      }
      const after = best(nows);
      const timing = /start-up (\d+) ms .*parsing (\d+) ms, counting (\d+) ms/.exec(after.out);
      const parts = timing ? `${timing[1]} / ${timing[2]} / ${timing[3]} ms` : '?';
      const before = quick && voters > 5000 ? undefined : run(oldCmd(path));
      const ratios = `${(after.ms / best(mains).ms).toFixed(2)}, ${(median(nows).ms / median(mains).ms).toFixed(2)}`;
      lines.push(
        `| ${label} (load ${loadavg()[0]!.toFixed(1)}) | ${fmt(voters)} | ${before ? cell(before) : 'n/a (quick run)'} | ${both(mains)} | ${both(nows)} | ${ratios} | ${both(withWorker)} | ${before ? (after.ms / before.ms).toFixed(2) : ''} | ${parts} |`,
      );
    }

    lines.push('', '### pb:import before the first ballot (no --cast: create, schedule, open)', '');
    lines.push(
      'Baseline: bench/pbImportBaseline.ts under tsx (storage first, whole composition root, PGlite initdb on a new directory). Now: `node --import tsx src/cli/pbImport.ts` (what `npm run pb:import` runs).',
      '',
      '| file | data directory | baseline | now | ratio |',
      '|---|---|---|---|---|',
    );
    const tmp = mkdtempSync(join(tmpdir(), 'pb-bench-'));
    const good = join(files, 'Netherlands_Assen_2024.pb');
    const bad = join(tmp, 'bad.pb');
    writeFileSync(bad, readFileSync(good, 'utf8').replace('num_votes;84', 'num_votes;85'));
    const nowImport = (path: string, dir: string) => run(['node', '--import', 'tsx', 'src/cli/pbImport.ts', path], { DATA_DIR: dir, SEED_DEMO_DATA: 'false' });
    const oldImport = (path: string, dir: string) =>
      run([tsxBin, 'bench/pbImportBaseline.ts', path], { DATA_DIR: dir, SEED_DEMO_DATA: 'false', PGLITE_INITDB_COPY: '0' });
    // The kept copy of initdb exists after the first new directory on a machine: make sure it does.
    nowImport(good, join(tmp, 'warm-up'));
    for (const [label, path] of [['Assen 2024 (84 voters)', good], ['the same, cut short (META num_votes 85)', bad]] as const) {
      for (const fresh of quick ? [false] : [true, false]) {
        const dirs = [join(tmp, `old-${label.length}-${fresh}`), join(tmp, `new-${label.length}-${fresh}`)];
        if (!fresh) for (const d of dirs) nowImport(good, d);
        // On an existing directory, three of each taken in turn and the median kept (the machine is noisy).
        const rounds = fresh ? 1 : 3;
        const befores: ReturnType<typeof run>[] = [];
        const afters: ReturnType<typeof run>[] = [];
        for (let i = 0; i < rounds; i++) {
          befores.push(oldImport(path, dirs[0]!));
          afters.push(nowImport(path, dirs[1]!));
        }
        const median = (xs: ReturnType<typeof run>[]) => [...xs].sort((x, y) => x.ms - y.ms)[Math.floor(xs.length / 2)]!;
        const before = median(befores);
        const after = median(afters);
        lines.push(`| ${label} | ${fresh ? 'new' : `existing (median of ${rounds})`} | ${fmt(Math.round(before.ms))} ms, ${before.rssMb} MB | ${fmt(Math.round(after.ms))} ms, ${after.rssMb} MB | ${(after.ms / before.ms).toFixed(2)} |`);
      }
    }
    rmSync(tmp, { recursive: true, force: true });
    lines.push('', `Load average at the end: ${load()}.`);
    return lines.join('\n');
  },
};
