/**
 * Participatory-budget outcome rules over approval ballots, as Pabulib files name them: greedy by
 * approvals (also with a minimum number of approvals, `greedy-threshold`, and stopping at the first
 * project that does not fit, `greedy-no-skip`) and the Method of Equal Shares with cost utilities
 * (equalshares.net), with or without `add1` completion and with or without the comparison step.
 *
 * Pure and browser-safe: the ledger nodes and the portal recount with this same code.
 *
 * Money is exact. Amounts arrive as JSON numbers written in decimal (a budget of 322239.55); each is read
 * back as the decimal it was written as (its shortest round-trip digits, `decimalOf`), never as the binary
 * fraction a double holds, and every decision (ties, "fits", "can afford", sums) is made on BigInt
 * rationals. Doubles appear only in Equal Shares as a filter that orders and prunes candidates, with a
 * bound on their error: whenever two values are within that bound the decision is made exactly.
 * Hand-written because no maintained library computes these rules in JavaScript.
 */
import type { BudgetRule, PollBudget, PollDefinition } from './pollDefinition.ts';

export interface BudgetProject {
  id: string;
  /** Non-negative, finite. Whole currency units in practice; fractions are handled exactly. */
  cost: number;
}

export interface GreedyOptions {
  /** Projects with fewer approvals are never funded (Pabulib `greedy-threshold`). Default 1. */
  minApprovals?: number;
  /** Stop at the first project that does not fit instead of skipping it (Pabulib `greedy-no-skip`). */
  stopAtFirstMisfit?: boolean;
}

export interface MesOptions {
  /** 'add1' (default): the completion the Pabulib cities used; 'none': a single run with the real budget. */
  completion?: 'add1' | 'none';
  /**
   * 'satisfaction': the comparison step of equalshares.net (Pabulib `...-comparison`): the outcome is
   * compared with greedy by approvals, and greedy's is taken when more voters approve more of its
   * projects than of Equal Shares' projects than the other way round. Default 'none'.
   */
  comparison?: 'none' | 'satisfaction';
  /** Called once per funded project of the final Equal Shares run (for explanations). */
  trace?: (round: MesRound) => void;
  /**
   * Called after the final Equal Shares run with what each project's supporters had left at its end,
   * so a project that was not funded can be explained (its supporters could not pay for it).
   */
  onDone?: (moneyBehind: (projectId: string) => number) => void;
  /** Called with both outcomes and the voters who prefer each, when there is a comparison step. */
  onComparison?: (c: { mes: string[]; greedy: string[]; preferMes: number; preferGreedy: number }) => void;
}

/** One round of Equal Shares, for explanations: what was bought and what the voters had left after. */
export interface MesRound {
  round: number;
  project: string;
  cost: number;
  /** The payment of each supporter who could pay it in full (the others paid all they had). */
  payment: number;
  /** Supporters who paid `payment`, and supporters who paid everything they had left (less). */
  payingInFull: number;
  payingAllTheyHad: number;
  /** After the round, over all voters: how many still have money, and their money left. */
  votersWithMoney: number;
  moneyLeft: number;
  minLeft: number;
  maxLeft: number;
  /** Per-voter budget of this run (the real one, or the one add1 settled on). */
  perVoterBudget: number;
}

export interface BudgetOutcome {
  rule: BudgetRule;
  /** Funded project ids in the order the rule funded them. */
  funded: string[];
  totalCost: number;
}

// ---------------------------------------------------------------------------------------------------
// Exact rationals. Small on purpose: only what the rules need. Denominator always > 0, reduced.

interface Q {
  n: bigint;
  d: bigint;
}

const Q0: Q = { n: 0n, d: 1n };

function gcd(a: bigint, b: bigint): bigint {
  if (a < 0n) a = -a;
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

function q(n: bigint, d: bigint): Q {
  if (d < 0n) [n, d] = [-n, -d];
  const g = gcd(n, d);
  return g > 1n ? { n: n / g, d: d / g } : { n, d };
}

/**
 * The decimal an amount was written as: `322239.55` is 32223955/100, not the binary fraction the double
 * holds. JavaScript prints a double with the fewest digits that read back to it, so a decimal of up to 15
 * significant digits comes back exactly as written (Pabulib amounts have at most 2 decimals).
 */
export function decimalOf(x: number): { units: bigint; scale: number } {
  if (!Number.isFinite(x)) throw new RangeError(`not a finite amount: ${x}`);
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(String(x));
  if (!m) throw new RangeError(`not a decimal amount: ${x}`);
  const [, sign, int, frac = '', exp = '0'] = m;
  let digits = int! + frac;
  let scale = frac.length - Number(exp);
  if (scale < 0) {
    digits += '0'.repeat(-scale);
    scale = 0;
  }
  const units = BigInt(digits);
  return { units: sign === '-' ? -units : units, scale };
}

function qOf(x: number): Q {
  const { units, scale } = decimalOf(x);
  return q(units, 10n ** BigInt(scale));
}

/** An exact rational as a decimal string, rounded half up to `places` decimals (for explanations). */
function qToFixed(a: Q, places = 2): string {
  const f = 10n ** BigInt(places);
  const neg = a.n < 0n;
  const n = neg ? -a.n : a.n;
  const scaled = (n * f * 2n + a.d) / (2n * a.d);
  const int = scaled / f;
  const frac = (scaled % f).toString().padStart(places, '0');
  return `${neg && scaled !== 0n ? '-' : ''}${int}${places > 0 ? `.${frac}` : ''}`;
}

const qAdd = (a: Q, b: Q): Q => q(a.n * b.d + b.n * a.d, a.d * b.d);
const qSub = (a: Q, b: Q): Q => q(a.n * b.d - b.n * a.d, a.d * b.d);
const qCmp = (a: Q, b: Q): number => {
  const l = a.n * b.d;
  const r = b.n * a.d;
  return l < r ? -1 : l > r ? 1 : 0;
};

function bitLength(x: bigint): number {
  return (x < 0n ? -x : x).toString(2).length;
}

/** Nearest double, also for numerators and denominators beyond 1e308. */
function qToNumber(a: Q): number {
  const shift = Math.max(bitLength(a.n), bitLength(a.d)) - 900;
  if (shift <= 0) return Number(a.n) / Number(a.d);
  const s = BigInt(shift);
  return Number(a.n >> s) / Number(a.d >> s);
}

/** Code-point order, the same in every JS engine and locale. */
function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function checkAmount(what: string, x: number): void {
  if (!Number.isFinite(x) || x < 0) throw new RangeError(`${what} must be a finite non-negative number, got ${x}`);
}

function checkProjects(projects: readonly BudgetProject[]): void {
  const seen = new Set<string>();
  for (const p of projects) {
    if (seen.has(p.id)) throw new RangeError(`duplicate project id ${JSON.stringify(p.id)}`);
    seen.add(p.id);
    checkAmount(`cost of project ${JSON.stringify(p.id)}`, p.cost);
  }
}

// ---------------------------------------------------------------------------------------------------
// Greedy

/**
 * Greedy by approvals: projects in order of approvals (most first), funding each whose cost fits in what
 * is left and skipping the ones that do not. Ties keep the order the projects are given in. Projects with
 * no approval are never funded (nobody asked for them).
 *
 * @returns funded project ids, in funding order.
 */
export function greedyByApprovals(
  projects: readonly BudgetProject[],
  approvals: ReadonlyMap<string, number> | Readonly<Record<string, number>>,
  budget: number,
  options: GreedyOptions = {},
): string[] {
  return greedySteps(projects, approvals, budget, options).filter((s) => s.funded).map((s) => s.id);
}

/** Why greedy funded a project or not, in the order it looked at them (for explanations). */
export interface GreedyStep {
  id: string;
  approvals: number;
  funded: boolean;
  /** Budget left before looking at this project, as an exact decimal string. */
  leftBefore: string;
  reason: 'funded' | 'does not fit' | 'below the approval threshold' | 'after the first project that did not fit';
}

/** Greedy, one step per project in its order, with the reason for each decision. */
export function greedySteps(
  projects: readonly BudgetProject[],
  approvals: ReadonlyMap<string, number> | Readonly<Record<string, number>>,
  budget: number,
  options: GreedyOptions = {},
): GreedyStep[] {
  checkProjects(projects);
  checkAmount('budget', budget);
  const minApprovals = Math.max(1, options.minApprovals ?? 1);
  const count = (id: string): number => {
    const v = approvals instanceof Map ? approvals.get(id) : Object.hasOwn(approvals, id) ? (approvals as Record<string, number>)[id] : 0;
    return v ?? 0;
  };
  const costQ = new Map(projects.map((p) => [p.id, qOf(p.cost)]));
  // Ties keep the order the projects are given in (a Pabulib file's order, a poll's option order), as
  // Pabulib's checker does: real files with ties (Łódź 2024 Katedralna, Gdynia 2020) fund the one listed first.
  const order = projects
    .map((p, i) => ({ p, i, votes: count(p.id) }))
    .filter((x) => x.votes > 0)
    .sort((a, b) => b.votes - a.votes || a.i - b.i);
  let left = qOf(budget);
  let stopped = false;
  const steps: GreedyStep[] = [];
  for (const { p, votes } of order) {
    const step = { id: p.id, approvals: votes, leftBefore: qToFixed(left, 2) };
    const c = costQ.get(p.id)!;
    if (votes < minApprovals) steps.push({ ...step, funded: false, reason: 'below the approval threshold' });
    else if (stopped) steps.push({ ...step, funded: false, reason: 'after the first project that did not fit' });
    else if (qCmp(c, left) <= 0) {
      steps.push({ ...step, funded: true, reason: 'funded' });
      left = qSub(left, c);
    } else {
      steps.push({ ...step, funded: false, reason: 'does not fit' });
      if (options.stopAtFirstMisfit) stopped = true;
    }
  }
  return steps;
}

// ---------------------------------------------------------------------------------------------------
// Method of Equal Shares

/**
 * A fixed instance: eligible projects (positive cost, at least one approver, as in the reference code)
 * with their approvers as voter indices.
 */
interface MesInstance {
  voters: number;
  ids: string[];
  cost: number[];
  costQ: Q[];
  approvers: Int32Array[];
}

/**
 * One MES run with a fixed total budget, cost utilities. Returns indices into `inst` in funding order.
 *
 * Speed: voters are grouped into budget classes. A class is "paid in full in rounds S", so its money is
 * b0 - sum of rho_r over r in S; class 0 holds the voters with nothing left. Evaluating a project is one
 * pass over its approvers (a histogram by class) plus a walk over the classes present, in doubles.
 *
 * Exactness: doubles only order and prune. All money is also kept exactly as BigInt numerators over one
 * common denominator D (b0, every cost and every past payment rho_r are integers times 1/D; D grows by
 * the winner's payer count when needed), so exact sums and comparisons need no gcd. Whenever two
 * candidates are within a tolerance of each other, or a class's money is within a tolerance of a
 * payment, the decision is made exactly. The winner's payment is always computed exactly.
 */
function mesFixed(inst: MesInstance, budget: Q, trace?: (round: MesRound) => void, onDone?: MesOptions['onDone']): number[] {
  const n = inst.voters;
  // Common denominator: b0 = budget / n and every cost must be integers over D.
  let D = budget.d * BigInt(n);
  for (const c of inst.costQ) D = (D / gcd(D, c.d)) * c.d;
  let b0N = (budget.n * D) / (budget.d * BigInt(n));
  let costN = inst.costQ.map((c) => (c.n * D) / c.d);
  const rhoN: bigint[] = []; // payment of round r, times D
  let epoch = 0; // bumps when D changes, invalidating memoised exact money
  const b0F = qToNumber(q(b0N, D));

  const classOf = new Int32Array(n).fill(1);
  const valueF: number[] = [0, b0F];
  const paidRounds: number[][] = [[], []];
  const memoN: bigint[] = [0n, b0N];
  const memoEpoch: number[] = [0, 0];
  let counts = new Int32Array(64);

  /** Exact money of a voter in class k, times D. */
  const moneyN = (k: number): bigint => {
    if (k === 0) return 0n;
    if (memoEpoch[k] !== epoch) {
      let v = b0N;
      for (const r of paidRounds[k]!) v -= rhoN[r]!;
      memoN[k] = v;
      memoEpoch[k] = epoch;
    }
    return memoN[k]!;
  };

  interface Hist {
    classes: number[]; // non-zero classes present, by ascending float money
    cnt: number[]; // parallel to classes
    nonZero: number;
  }
  const histogram = (p: number): Hist => {
    if (counts.length < valueF.length) counts = new Int32Array(valueF.length * 2);
    const cs = counts;
    const cls = classOf;
    const voters = inst.approvers[p]!;
    const touched: number[] = [];
    for (let i = 0; i < voters.length; i++) {
      const k = cls[voters[i]!]!;
      const c = cs[k]!;
      cs[k] = c + 1;
      if (c === 0 && k !== 0) touched.push(k);
    }
    const keys = new Float64Array(touched.length);
    for (let i = 0; i < touched.length; i++) keys[i] = valueF[touched[i]!]!;
    const order = Array.from(touched.keys()).sort((a, b) => keys[a]! - keys[b]!);
    const classes = new Array<number>(order.length);
    const cnt = new Array<number>(order.length);
    let nonZero = 0;
    for (let i = 0; i < order.length; i++) {
      const k = touched[order[i]!]!;
      classes[i] = k;
      cnt[i] = cs[k]!;
      nonZero += cs[k]!;
      cs[k] = 0;
    }
    cs[0] = 0;
    return { classes, cnt, nonZero };
  };

  interface FloatEval {
    rhoF: number;
    split: number; // classes[0..split) are capped (pay all they have)
    near: boolean; // some comparison was too close to trust
    affordable: boolean;
  }
  // Generous bound on the rounding error of the doubles (sums over up to millions of voters).
  const tolerance = (p: number): number => 1e-9 * (b0F + inst.cost[p]!);
  const walkFloat = (p: number, h: Hist): FloatEval => {
    const cost = inst.cost[p]!;
    const tol = tolerance(p);
    let paid = 0;
    let den = h.nonZero;
    let near = false;
    for (let i = 0; i < h.classes.length; i++) {
      const v = valueF[h.classes[i]!]!;
      const share = (cost - paid) / den;
      if (Math.abs(share - v) <= tol) near = true;
      if (share > v) {
        paid += h.cnt[i]! * v;
        den -= h.cnt[i]!;
      } else {
        return { rhoF: share, split: i, near, affordable: true };
      }
    }
    return { rhoF: Infinity, split: h.classes.length, near: near || cost - paid <= tol * Math.max(1, h.nonZero), affordable: false };
  };

  /** rho = x / (u * D): payers with more money than rho pay rho, the others pay all they have. */
  interface Exact {
    x: bigint;
    u: bigint;
    rhoF: number;
  }
  const cappedExact = (k: number, e: Exact): boolean => k === 0 || moneyN(k) * e.u <= e.x;
  /** Exact payment of project p, or null when its approvers cannot afford it. */
  const evalExact = (p: number): Exact | null => {
    const h = histogram(p);
    const fe = walkFloat(p, h);
    const tol = tolerance(p);
    if (fe.affordable) {
      // The split the doubles found, checked exactly where a class's money is close to the payment.
      let capN = 0;
      let capped = 0n;
      for (let i = 0; i < fe.split; i++) {
        capN += h.cnt[i]!;
        capped += BigInt(h.cnt[i]!) * moneyN(h.classes[i]!);
      }
      const e: Exact = { x: costN[p]! - capped, u: BigInt(h.nonZero - capN), rhoF: 0 };
      e.rhoF = qToNumber({ n: e.x, d: e.u * D });
      let ok = true;
      for (let i = 0; i < h.classes.length && ok; i++) {
        const k = h.classes[i]!;
        if (Math.abs(valueF[k]! - e.rhoF) > tol) continue;
        const m = moneyN(k) * e.u;
        ok = i < fe.split ? m <= e.x : m >= e.x;
      }
      if (ok) return e;
    } else if (!fe.near) {
      return null;
    }
    // Rare: the doubles were too close to call. Redo the walk entirely in integers.
    const order = h.classes.map((k, i) => ({ c: BigInt(h.cnt[i]!), m: moneyN(k) })).sort((a, b) => (a.m < b.m ? -1 : a.m > b.m ? 1 : 0));
    let rest = costN[p]!;
    let den = BigInt(h.nonZero);
    for (const { c, m } of order) {
      if (rest > den * m) {
        rest -= c * m;
        den -= c;
      } else {
        return { x: rest, u: den, rhoF: qToNumber({ n: rest, d: den * D }) };
      }
    }
    return null;
  };

  /** Exact: lower rho/cost wins; ties to the lower cost, then more approvals, then lower id. */
  const beats = (a: number, ea: Exact, b: number, eb: Exact): boolean => {
    const l = ea.x * eb.u * costN[b]!;
    const r = eb.x * ea.u * costN[a]!;
    if (l !== r) return l < r;
    if (costN[a] !== costN[b]) return costN[a]! < costN[b]!;
    const va = inst.approvers[a]!.length;
    const vb = inst.approvers[b]!.length;
    if (va !== vb) return va > vb;
    return compareIds(inst.ids[a]!, inst.ids[b]!) < 0;
  };

  // Candidates with a lower bound on their payment per unit of utility (rho / cost); it only grows as
  // money is spent, so a candidate whose bound is clearly worse than the best so far can be skipped.
  const remaining = new Map<number, number>();
  for (let p = 0; p < inst.ids.length; p++) remaining.set(p, 1 / inst.approvers[p]!.length);
  const winners: number[] = [];

  while (remaining.size > 0) {
    const sorted = [...remaining.entries()].sort((a, b) => a[1] - b[1] || a[0] - b[0]);
    const evaluated: { p: number; metric: number; err: number }[] = [];
    let best: { metric: number; err: number } | undefined;
    for (const [p, bound] of sorted) {
      if (best && bound > best.metric + best.err) break;
      const fe = walkFloat(p, histogram(p));
      let rhoF = fe.rhoF;
      if (!fe.affordable) {
        const ex = fe.near ? evalExact(p) : null;
        if (!ex) {
          remaining.delete(p);
          continue;
        }
        rhoF = ex.rhoF;
      }
      const cost = inst.cost[p]!;
      const metric = rhoF / cost;
      const err = (2 * tolerance(p)) / cost;
      remaining.set(p, metric - err);
      evaluated.push({ p, metric, err });
      if (!best || metric < best.metric) best = { metric, err };
    }
    if (!best) break;
    const bestF = best;
    // Everything within the tolerances of the best is compared exactly, with the README's tie-breaks.
    let win: { p: number; ex: Exact } | undefined;
    for (const e of evaluated) {
      if (e.metric - e.err > bestF.metric + bestF.err) continue;
      const ex = evalExact(e.p);
      if (!ex) {
        remaining.delete(e.p);
        continue;
      }
      if (!win || beats(e.p, ex, win.p, win.ex)) win = { p: e.p, ex };
    }
    if (!win) continue; // the near candidates turned out unaffordable: evaluate the round again
    const { p, ex } = win;
    // Decide who is capped before D changes (moneyN is in the current scale).
    const next = new Int32Array(valueF.length).fill(-1);
    const round = rhoN.length;
    let payingInFull = 0;
    let payingAll = 0;
    for (const v of inst.approvers[p]!) {
      const k = classOf[v]!;
      if (k === 0) continue;
      let nk = next[k]!;
      if (nk < 0) {
        if (cappedExact(k, ex)) nk = 0;
        else {
          nk = valueF.length;
          valueF.push(valueF[k]! - ex.rhoF);
          paidRounds.push([...paidRounds[k]!, round]);
          memoN.push(0n);
          memoEpoch.push(-1);
        }
        next[k] = nk;
      }
      if (nk === 0) payingAll++;
      else payingInFull++;
      classOf[v] = nk;
    }
    // rho * D = x / u; scale D by u / gcd(x, u) so that it becomes an integer again.
    const g = gcd(ex.x, ex.u);
    const f = ex.u / g;
    if (f !== 1n) {
      D *= f;
      b0N *= f;
      costN = costN.map((c) => c * f);
      for (let r = 0; r < rhoN.length; r++) rhoN[r]! *= f;
      epoch++;
    }
    rhoN.push(ex.x / g);
    winners.push(p);
    remaining.delete(p);
    if (trace) {
      epoch++; // D may have changed: recompute every class's exact money
      const perClass = new Map<number, number>();
      for (let v = 0; v < n; v++) perClass.set(classOf[v]!, (perClass.get(classOf[v]!) ?? 0) + 1);
      let withMoney = 0;
      let left = 0n;
      let min: bigint | undefined;
      let max = 0n;
      for (const [k, count] of perClass) {
        const m = moneyN(k);
        left += BigInt(count) * m;
        if (m > 0n) withMoney += count;
        if (min === undefined || m < min) min = m;
        if (m > max) max = m;
      }
      const num = (x: bigint, d: bigint = D) => Number(qToFixed(q(x, d), 2));
      trace({
        round: winners.length,
        project: inst.ids[p]!,
        cost: inst.cost[p]!,
        payment: num(rhoN[rhoN.length - 1]!),
        payingInFull,
        payingAllTheyHad: payingAll,
        votersWithMoney: withMoney,
        moneyLeft: num(left),
        minLeft: num(min ?? 0n),
        maxLeft: num(max),
        perVoterBudget: num(b0N),
      });
    }
  }
  if (onDone) {
    epoch++;
    const position = new Map(inst.ids.map((id, i) => [id, i]));
    onDone((projectId) => {
      const p = position.get(projectId);
      if (p === undefined) return 0;
      let left = 0n;
      for (const v of inst.approvers[p]!) left += moneyN(classOf[v]!);
      return Number(qToFixed(q(left, D), 2));
    });
  }
  return winners;
}

function sumCost(costs: readonly Q[], chosen: Iterable<number>): Q {
  let s = Q0;
  for (const i of chosen) s = qAdd(s, costs[i]!);
  return s;
}

/**
 * Method of Equal Shares with cost utilities (equalshares.net), in the variant of the Pabulib README:
 * each voter gets budget / voters; a project is bought by its approvers paying equally, each capped by
 * what they have left; among affordable projects the lowest payment per unit of utility (payment / cost)
 * wins; ties go to the lower cost, then more approvals, then (our addition, where the reference would
 * stop with an error) the lower id. Projects with cost 0 or no approver are never funded (as in the
 * reference).
 *
 * `add1` completion: after a run with the real budget, restart from floor(B/n)*n and raise it by n while
 * the next outcome still fits; keep the last outcome that fits. Where the reference would loop forever
 * (every eligible project funded), we stop: no larger budget can fund more.
 *
 * Comparison step (`comparison: 'satisfaction'`): the outcome is compared with greedy by approvals over
 * every project (ties in the given order); each voter prefers the outcome with more projects they
 * approve, and greedy's outcome is taken only if more voters prefer it.
 *
 * @param ballots approved project ids per voter; voters with empty ballots still count in n.
 * @returns funded project ids, in funding order.
 */
export function methodOfEqualShares(
  projects: readonly BudgetProject[],
  ballots: readonly (readonly string[])[],
  budget: number,
  options: MesOptions = { completion: 'add1' },
): string[] {
  checkProjects(projects);
  checkAmount('budget', budget);
  const n = ballots.length;
  if (n === 0) return [];
  const index = new Map(projects.map((p, i) => [p.id, i]));
  const lists: number[][] = projects.map(() => []);
  ballots.forEach((ballot, voter) => {
    for (const id of new Set(ballot)) {
      const i = index.get(id);
      if (i === undefined) throw new RangeError(`ballot ${voter} approves unknown project ${JSON.stringify(id)}`);
      lists[i]!.push(voter);
    }
  });
  const eligible = projects.map((p, i) => ({ p, i })).filter(({ p, i }) => p.cost > 0 && lists[i]!.length > 0);
  const inst: MesInstance = {
    voters: n,
    ids: eligible.map(({ p }) => p.id),
    cost: eligible.map(({ p }) => p.cost),
    costQ: eligible.map(({ p }) => qOf(p.cost)),
    approvers: eligible.map(({ i }) => Int32Array.from(lists[i]!)),
  };
  const total = qOf(budget);
  let runBudget = total;
  let winners = mesFixed(inst, total);

  if ((options.completion ?? 'add1') === 'add1') {
    // As Pabulib's checker counts add1 (and so the cities' files, Wieliczka 2023 among them): from
    // floor(B / n) per voter, raise by 1 while the outcome still fits the real budget; no stop at an
    // exhaustive outcome (stopping there funds 31 projects in Wieliczka where the official count is 30).
    const nB = BigInt(n);
    let perVoter = total.n / (total.d * nB); // floor(B / n), as an integer
    for (;;) {
      if (winners.length === inst.ids.length) break; // every eligible project funded: more money changes nothing
      perVoter += 1n;
      const nextBudget = { n: perVoter * nB, d: 1n };
      const next = mesFixed(inst, nextBudget);
      if (qCmp(sumCost(inst.costQ, next), total) > 0) break;
      winners = next;
      runBudget = nextBudget;
    }
  }
  if (options.trace || options.onDone) mesFixed(inst, runBudget, options.trace, options.onDone);
  const mes = winners.map((w) => inst.ids[w]!);
  if ((options.comparison ?? 'none') === 'none') return mes;
  const greedy = greedyForComparison(projects, lists, total);
  const prefer = comparisonVotes(n, lists, index, mes, greedy);
  options.onComparison?.({ mes, greedy, preferMes: prefer.mes, preferGreedy: prefer.greedy });
  return prefer.greedy > prefer.mes ? greedy : mes;
}

/**
 * The greedy outcome Equal Shares is compared with (equalshares.net's `utilitarianCompletion` from
 * nothing): every project in order of approvals, most first, ties in the order given (the file's),
 * each funded if it fits in what is left.
 */
function greedyForComparison(projects: readonly BudgetProject[], lists: readonly number[][], total: Q): string[] {
  const order = projects.map((p, i) => ({ p, i })).sort((a, b) => lists[b.i]!.length - lists[a.i]!.length || a.i - b.i);
  let left = total;
  const out: string[] = [];
  for (const { p } of order) {
    const c = qOf(p.cost);
    if (qCmp(c, left) <= 0) {
      out.push(p.id);
      left = qSub(left, c);
    }
  }
  return out;
}

/**
 * The comparison step: each voter's satisfaction with an outcome is the number of its projects they
 * approve; count the voters who are more satisfied with each outcome.
 */
function comparisonVotes(
  voters: number,
  lists: readonly number[][],
  index: ReadonlyMap<string, number>,
  mes: readonly string[],
  greedy: readonly string[],
): { mes: number; greedy: number } {
  const satisfaction = (outcome: readonly string[]) => {
    const s = new Int32Array(voters);
    for (const id of outcome) for (const v of lists[index.get(id)!]!) s[v]!++;
    return s;
  };
  const a = satisfaction(mes);
  const b = satisfaction(greedy);
  let preferMes = 0;
  let preferGreedy = 0;
  for (let v = 0; v < voters; v++) {
    if (a[v]! > b[v]!) preferMes++;
    else if (b[v]! > a[v]!) preferGreedy++;
  }
  return { mes: preferMes, greedy: preferGreedy };
}

// ---------------------------------------------------------------------------------------------------

/** The rule options a poll's budget names (absent fields keep the meaning they always had). */
export function greedyOptionsOf(budget: PollBudget): GreedyOptions {
  return {
    ...(budget.minApprovals !== undefined ? { minApprovals: budget.minApprovals } : {}),
    ...(budget.stopAtFirstMisfit ? { stopAtFirstMisfit: true } : {}),
  };
}

export function mesOptionsOf(budget: PollBudget): MesOptions {
  return { completion: budget.completion ?? 'add1', comparison: budget.comparison ?? 'none' };
}

/** The projects of a budget poll (the options of its single question), each with its cost. */
export function budgetProjectsOf(def: PollDefinition): BudgetProject[] {
  if (!def.budget) throw new RangeError(`poll ${def.pollId} has no budget`);
  if (def.questions.length !== 1) throw new RangeError(`budget poll ${def.pollId} must have exactly one question`);
  return def.questions[0]!.options.map((o) => {
    if (o.cost === undefined) throw new RangeError(`project ${JSON.stringify(o.id)} has no cost`);
    return { id: o.id, cost: o.cost };
  });
}

/** Approvals per project id, each ballot counted once per project. */
export function approvalCounts(ballots: readonly (readonly string[])[]): Map<string, number> {
  const approvals = new Map<string, number>();
  for (const ballot of ballots) for (const id of new Set(ballot)) approvals.set(id, (approvals.get(id) ?? 0) + 1);
  return approvals;
}

/** The exact sum of some amounts, as the nearest double (the decimal itself when it has <= 15 digits). */
export function sumAmounts(amounts: readonly number[]): number {
  return qToNumber(amounts.reduce((sum, a) => qAdd(sum, qOf(a)), Q0));
}

/**
 * The outcome of a budget poll under the rule and options its definition names (`equal-shares` uses
 * `add1` unless `completion` says otherwise). The projects are the options of the poll's single
 * question; each must have a cost.
 *
 * @param ballots approved project ids per counted voter (one entry per voter).
 */
export function budgetOutcome(def: PollDefinition, ballots: readonly (readonly string[])[], mesExtras: Pick<MesOptions, 'trace' | 'onComparison' | 'onDone'> = {}): BudgetOutcome {
  const projects = budgetProjectsOf(def);
  const budget = def.budget!;
  const { rule, total } = budget;
  let funded: string[];
  if (rule === 'greedy') {
    funded = greedyByApprovals(projects, approvalCounts(ballots), total, greedyOptionsOf(budget));
  } else if (rule === 'equal-shares') {
    funded = methodOfEqualShares(projects, ballots, total, { ...mesOptionsOf(budget), ...mesExtras });
  } else {
    const never: never = rule;
    throw new RangeError(`unknown budget rule ${String(never)}`);
  }
  const cost = new Map(projects.map((p) => [p.id, p.cost]));
  return { rule, funded, totalCost: sumAmounts(funded.map((id) => cost.get(id)!)) };
}
