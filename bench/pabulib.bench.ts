import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { budgetOutcome } from '../src/domain/budgetRules.ts';
import { pabulibApprovals, pabulibToPollDefinition, parsePabulib, serializePabulib, type PabulibFile } from '../src/domain/pabulib.ts';
import { fmt, type Bench } from './harness.ts';

/**
 * Pabulib: (1) `pb:tally` on real files, the counting itself in this process and the whole command as a
 * child process; (2) the cost of `pb:import` before the first ballot, the command as it is against the
 * flow before issue 16 (bench/pbImportBaseline.ts: storage opened first with the whole composition root
 * loaded, file read after), measured in the same run, each as a child process on PGlite, on a fresh
 * data directory (PGlite's initdb included) and on one already made, for a good file and a bad one.
 */
const root = fileURLToPath(new URL('..', import.meta.url));
const shared = fileURLToPath(new URL('../test/pabulib/files/', import.meta.url));
const files = fileURLToPath(new URL('../test/pabulib/files/', import.meta.url));

/** A 15,150-voter file from Wola 2025's 5,050 real ballots, each voter three times under new ids. */
const tripled = (pb: PabulibFile): PabulibFile => {
  const votes = [0, 1, 2].flatMap((k) => pb.votes.map((v) => ({ ...v, voterId: `${v.voterId}-${k}`, fields: { ...v.fields, voter_id: `${v.voterId}-${k}` } })));
  const meta = { ...pb.meta, num_votes: String(votes.length) };
  return { ...pb, meta, votes };
};

const run = (args: string[], env: Record<string, string>): { ms: number; rssMb: number; code: number | null } => {
  const started = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', 'node', '--import', 'tsx', ...args], { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8' });
  const ms = performance.now() - started;
  const rssKb = Number((r.stderr.trim().split('\n').at(-1) ?? '0').trim());
  return { ms, rssMb: Math.round(rssKb / 1024), code: r.status };
};

export const pabulibBench: Bench = {
  name: 'pabulib',
  title: 'Pabulib: pb:tally, and pb:import before the first ballot',
  async run() {
    const lines: string[] = [];
    const load = () => loadavg().map((x) => x.toFixed(1)).join(' / ');
    lines.push(`Load average at the start: ${load()} (2 cores shared by 8 engineers running tests: expect noise).`, '');

    const tmp = mkdtempSync(join(tmpdir(), 'pb-bench-'));
    const wola = parsePabulib(readFileSync(join(shared, 'Poland_Warszawa_2025_Wola.pb'), 'utf8'));
    const big = join(tmp, 'Wola_x3_15150.pb');
    writeFileSync(big, serializePabulib(tripled(wola)));
    const cases: [string, string][] = [
      ['Warszawa 2025 Wola (greedy)', join(shared, 'Poland_Warszawa_2025_Wola.pb')],
      ['Wola ×3, 15,150 voters (greedy)', big],
      ['Świecie 2023 (equalshares/add1)', join(shared, 'Poland_Swiecie_2023.pb')],
      ['Wieliczka 2023 (equalshares/add1-comparison)', join(files, 'Poland_Wieliczka_2023_Green_Budget.pb')],
    ];
    lines.push('### pb:tally', '', '| file | voters | parse | count (file\'s rule) | whole command (child process, all rules) |', '|---|---|---|---|---|');
    for (const [label, path] of cases) {
      const text = readFileSync(path, 'utf8');
      let t = performance.now();
      const pb = parsePabulib(text);
      const parseMs = performance.now() - t;
      const def = pabulibToPollDefinition(pb, { pollId: 'bench', opensAt: '2000-01-01T00:00:00Z', closesAt: '2000-01-02T00:00:00Z' });
      const counts: number[] = [];
      for (let i = 0; i < 3; i++) {
        t = performance.now();
        budgetOutcome(def, pabulibApprovals(pb));
        counts.push(performance.now() - t);
      }
      const cmd = run(['src/cli/pbTally.ts', path], {});
      lines.push(`| ${label} | ${fmt(pb.votes.length)} | ${parseMs.toFixed(0)} ms | ${Math.min(...counts).toFixed(0)} ms (best of 3) | ${fmt(Math.round(cmd.ms))} ms, ${cmd.rssMb} MB |`);
    }

    lines.push('', '### pb:import before the first ballot (no --cast: create, schedule, open)', '');
    lines.push('| file | data directory | before issue 16 | now | ratio |', '|---|---|---|---|---|');
    const good = join(shared, 'Netherlands_Assen_2024.pb');
    const bad = join(tmp, 'bad.pb');
    writeFileSync(bad, readFileSync(good, 'utf8').replace('num_votes;84', 'num_votes;85'));
    for (const [label, path] of [['Assen 2024 (84 voters)', good], ['the same, cut short (META num_votes 85)', bad]] as const) {
      // BENCH_PB_FRESH=0 skips the fresh data directories (PGlite's initdb takes minutes on a starved machine).
      for (const fresh of process.env.BENCH_PB_FRESH === '0' ? [false] : [true, false]) {
        const dirs = [join(tmp, `old-${label.length}-${fresh}`), join(tmp, `new-${label.length}-${fresh}`)];
        if (!fresh) for (const d of dirs) run(['src/cli/pbImport.ts', good], { DATA_DIR: d, SEED_DEMO_DATA: 'false' });
        const old = run(['bench/pbImportBaseline.ts', path], { DATA_DIR: dirs[0]!, SEED_DEMO_DATA: 'false' });
        const now = run(['src/cli/pbImport.ts', path], { DATA_DIR: dirs[1]!, SEED_DEMO_DATA: 'false' });
        lines.push(`| ${label} | ${fresh ? 'new (PGlite initdb)' : 'existing'} | ${fmt(Math.round(old.ms))} ms, ${old.rssMb} MB | ${fmt(Math.round(now.ms))} ms, ${now.rssMb} MB | ${(now.ms / old.ms).toFixed(2)} |`);
      }
    }
    rmSync(tmp, { recursive: true, force: true });
    lines.push('', `Load average at the end: ${load()}.`);
    return lines.join('\n');
  },
};
