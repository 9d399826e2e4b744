import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { isMainThread } from 'node:worker_threads';
import {
  approvalCounts,
  budgetOutcome,
  add1FirstPerVoter,
  budgetProjectsOf,
  equalSharesAdd1With,
  equalSharesInstanceFor,
  greedyOptionsOf,
  greedySteps,
  type MesMemo,
  type MesRound,
} from '../domain/budgetRules.ts';
import {
  PABULIB_RULES,
  PabulibParseError,
  pabulibApprovals,
  pabulibBudget,
  pabulibRuleInfo,
  pabulibToPollDefinition,
  parsePabulib,
  type PabulibFile,
} from '../domain/pabulib.ts';
import type { PollDefinition } from '../domain/pollDefinition.ts';
import { add1WorkerCount, parallelEqualShares, type ParallelEqualShares } from '../infra/parallelEqualShares.ts';

/**
 * `npm run pb:tally -- FILE.pb [--rule NAME] [--compare] [--timing] [--workers N]`: the outcome of a Pabulib file under each rule
 * this project computes (or only `--rule`), by the same domain code the polls, the ledger nodes and the
 * portal count with, without a database. `--compare` shows where the outcome differs from the file's
 * `selected` and why: for greedy, each project's approvals and the budget left when it was looked at;
 * for Equal Shares, each round's chosen project, the payment and what the voters had left.
 */
const usage = `usage: npm run pb:tally -- <file.pb> [--rule <${PABULIB_RULES.filter((r) => pabulibRuleInfo(r).reproduces).join('|')}>] [--compare] [--timing] [--workers <n>]`;

// One formatter: toLocaleString builds a new one on each call (about a millisecond each).
const moneyFormat = new Intl.NumberFormat('en-US', { minimumFractionDigits: 0, maximumFractionDigits: 2 });
const money = (x: number) => moneyFormat.format(x);

/** The poll definition of a file, counted with the rule `ruleName` (the file's own when absent). */
function definitionUnder(pb: PabulibFile, ruleName: string | undefined): PollDefinition {
  const def = pabulibToPollDefinition(pb, { pollId: 'pb-tally', opensAt: '2000-01-01T00:00:00Z', closesAt: '2000-01-02T00:00:00Z' });
  if (ruleName === undefined) return def;
  const info = pabulibRuleInfo(ruleName);
  const { minApprovals } = pabulibBudget(pb);
  def.budget = {
    total: def.budget!.total,
    currency: def.budget!.currency,
    ...info.budget,
    ...(info.budget.rule === 'greedy' && ruleName !== 'greedy' && minApprovals !== undefined ? { minApprovals } : {}),
  };
  return def;
}

/** Whether a definition is counted with Equal Shares and add1 completion. */
const isAdd1 = (def: PollDefinition) => def.budget!.rule === 'equal-shares' && (def.budget!.completion ?? 'add1') === 'add1';

async function report(
  pb: PabulibFile,
  ballots: string[][],
  memo: MesMemo,
  parallel: ParallelEqualShares | undefined,
  ruleName: string,
  compare: boolean,
  out: (line: string) => void,
): Promise<boolean> {
  const def = definitionUnder(pb, ruleName);
  const rounds: MesRound[] = [];
  let behind: ((id: string) => number) | undefined;
  let comparison: { mes: string[]; greedy: string[]; preferMes: number; preferGreedy: number } | undefined;
  const started = performance.now();
  // add1's runs on every core; budgetOutcome then finds the outcome in the memo.
  if (parallel && isAdd1(def)) await equalSharesAdd1With(memo, budgetProjectsOf(def), ballots, def.budget!.total, parallel.runsFrom);
  const outcome = budgetOutcome(def, ballots, compare ? { memo, trace: (r) => rounds.push(r), onDone: (f) => (behind = f), onComparison: (c) => (comparison = c) } : { memo });
  const ms = performance.now() - started;
  const projects = new Map(pb.projects.map((p) => [p.id, p]));
  const official = new Set(pb.projects.filter((p) => p.selected).map((p) => p.id));
  const funded = new Set(outcome.funded);
  const notOurs = [...official].filter((id) => !funded.has(id));
  const notTheirs = outcome.funded.filter((id) => !official.has(id));
  const hasSelected = pb.projectColumns.includes('selected');
  const same = hasSelected && notOurs.length === 0 && notTheirs.length === 0;
  const verdict = !hasSelected ? 'the file has no selected column' : same ? 'equals the file\'s selected' : `differs from the file's selected (${notTheirs.length} more, ${notOurs.length} fewer)`;
  out(`${ruleName}: ${outcome.funded.length} projects, ${money(outcome.totalCost)} of ${money(def.budget!.total)} ${def.budget!.currency}; ${verdict} [${ms.toFixed(0)} ms]`);
  if (!compare) return same;

  const approvals = approvalCounts(ballots);
  const miscounted = pb.projects.filter((p) => p.votes !== undefined && p.votes !== (approvals.get(p.id) ?? 0));
  if (miscounted.length > 0) {
    out(`  the file's votes column differs from its VOTES rows for ${miscounted.length} projects (e.g. ${miscounted.slice(0, 3).map((p) => `${p.id}: column ${p.votes}, rows ${approvals.get(p.id) ?? 0}`).join('; ')}): the city counted ballots the file does not list, and the rules here count the rows`);
  }
  const label = (id: string) => `${id} (${money(projects.get(id)!.cost)}, ${approvals.get(id) ?? 0} approvals${projects.get(id)!.name ? `, ${projects.get(id)!.name!.slice(0, 50)}` : ''})`;
  out(`  funded, in order: ${outcome.funded.join(', ')}`);
  if (def.budget!.rule === 'greedy') {
    const steps = greedySteps(budgetProjectsOf(def), approvals, def.budget!.total, greedyOptionsOf(def.budget!));
    const byId = new Map(steps.map((s) => [s.id, s]));
    const why = (id: string) => {
      const s = byId.get(id);
      if (!s) return 'nobody approved it';
      return `${s.reason}; ${money(Number(s.leftBefore))} left when it came up, it costs ${money(projects.get(id)!.cost)}`;
    };
    for (const id of notOurs) out(`  selected in the file, not funded here: ${label(id)}: ${why(id)}`);
    for (const id of notTheirs) out(`  funded here, not selected in the file: ${label(id)}: ${why(id)}`);
    const tied = steps.filter((s, i) => steps.some((t, j) => i !== j && t.approvals === s.approvals && (t.funded !== s.funded)));
    if (!same && tied.length > 0) out(`  ties on approvals decided here by lower cost, then lower id: ${tied.map((s) => s.id).join(', ')}`);
  } else {
    out(`  Equal Shares run with ${money(rounds[0]?.perVoterBudget ?? def.budget!.total / Math.max(1, ballots.length))} per voter (${ballots.length} voters)`);
    out('  round  project  cost  payment  paid-in-full  paid-all-they-had  voters-with-money  money-left  min-left  max-left');
    for (const r of rounds) {
      out(`  ${r.round}  ${r.project}  ${money(r.cost)}  ${money(r.payment)}  ${r.payingInFull}  ${r.payingAllTheyHad}  ${r.votersWithMoney}  ${money(r.moneyLeft)}  ${money(r.minLeft)}  ${money(r.maxLeft)}`);
    }
    if (comparison) {
      const took = outcome.funded.length === comparison.greedy.length && comparison.greedy.every((id) => funded.has(id)) && !(comparison.mes.every((id) => funded.has(id)) && comparison.mes.length === funded.size) ? 'greedy' : 'Equal Shares';
      out(`  comparison step: ${comparison.preferMes} voters prefer Equal Shares (${comparison.mes.length} projects), ${comparison.preferGreedy} prefer greedy (${comparison.greedy.length} projects): kept ${took}`);
    }
    for (const id of notOurs) {
      const left = behind?.(id);
      out(`  selected in the file, not funded here: ${label(id)}: ${left === undefined ? 'not eligible' : `its supporters had ${money(left)} left at the end, it costs ${money(projects.get(id)!.cost)}`}`);
    }
    for (const id of notTheirs) out(`  funded here, not selected in the file: ${label(id)}`);
  }
  return same;
}

let parsedAt = 0;

const main = async (): Promise<number> => {
  // Milliseconds since this process started: Node's own start plus loading this command.
  const startedAt = performance.now();
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { rule: { type: 'string' }, compare: { type: 'boolean' }, timing: { type: 'boolean' }, workers: { type: 'string' } },
  });
  const path = positionals[0];
  const workers = values.workers === undefined ? undefined : Number(values.workers);
  if (!path || positionals.length > 1 || (workers !== undefined && !(Number.isInteger(workers) && workers >= 0))) {
    console.error(usage);
    return 2;
  }
  let pb: PabulibFile;
  try {
    pb = parsePabulib(readFileSync(path, 'utf8'));
    parsedAt = performance.now();
  } catch (error) {
    if (error instanceof PabulibParseError || (error as NodeJS.ErrnoException).code === 'ENOENT') {
      console.error(`${path}: ${(error as Error).message}`);
      return 2;
    }
    throw error;
  }
  const own = pabulibBudget(pb);
  const rules = values.rule !== undefined ? [values.rule] : PABULIB_RULES.filter((r) => pabulibRuleInfo(r).reproduces && (r !== 'greedy-threshold' || own.minApprovals !== undefined));
  for (const r of rules) {
    try {
      pabulibRuleInfo(r);
    } catch (error) {
      console.error((error as Error).message);
      return 2;
    }
  }
  const log = (line: string) => console.log(line);
  log(`${path}: ${pb.votes.length} votes, ${pb.projects.length} projects; the file's rule: ${own.ruleName}${own.reproduces ? '' : ' (not computed here: shown under the rules that are)'}`);
  let fileRuleSame = true;
  // One count of the ballots for every rule; the Equal Shares rules share their runs (add1 and
  // add1-comparison differ only in the last step).
  const ballots = pabulibApprovals(pb);
  const memo: MesMemo = new Map();
  // Started before the first rule is counted, so the workers are loaded by the time add1 needs them.
  const add1Rule = ballots.length > 0 ? rules.find((r) => isAdd1(definitionUnder(pb, r))) : undefined;
  let parallel: ParallelEqualShares | undefined;
  if (add1Rule !== undefined) {
    // The ballots prepared here are the ones every Equal Shares rule then reuses through the memo.
    const def = definitionUnder(pb, add1Rule);
    const inst = equalSharesInstanceFor(memo, budgetProjectsOf(def), ballots);
    const count = workers ?? add1WorkerCount(inst.approverGroups.length);
    if (count > 0) {
      // The workers make add1's runs while this thread counts the rules before it.
      parallel = parallelEqualShares({ workers: count });
      parallel.start(inst, add1FirstPerVoter(inst, def.budget!.total));
    }
  }
  try {
    for (const r of rules) {
      const same = await report(pb, ballots, memo, parallel, r, values.compare === true && (values.rule !== undefined || r === own.ruleName), (line) => log(`${r === own.ruleName ? '* ' : '  '}${line}`));
      if (r === own.ruleName) fileRuleSame = same;
    }
  } finally {
    await parallel?.close();
  }
  if (values.timing) {
    const end = performance.now();
    const runs = parallel && parallel.runsMade.some((n) => n > 0) ? ` (add1 runs: ${parallel.runsMade[0]} on the main thread, ${parallel.runsMade.slice(1).join(' + ')} on ${parallel.runsMade.length - 1} worker thread(s))` : '';
    log(`timing: start-up ${startedAt.toFixed(0)} ms (Node and loading this command), reading and parsing ${(parsedAt - startedAt).toFixed(0)} ms, counting ${(end - parsedAt).toFixed(0)} ms${runs}, total ${end.toFixed(0)} ms in this process`);
  }
  return fileRuleSame ? 0 : 1;
};

// The module is also the entry of pb:tally's worker threads (see parallelEqualShares): they only run.
if (isMainThread) {
  try {
    process.exitCode = await main();
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 2;
  }
}
