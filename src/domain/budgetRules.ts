/**
 * Participatory-budget outcome rules over approval ballots: greedy by approvals and the Method of Equal
 * Shares (cost utilities, `add1` completion) exactly as described in shared/data/pabulib/README.md.
 *
 * Pure and browser-safe: the ledger nodes and the portal recount with this same code, so every decision
 * that floating point could flip (ties, "fits", "can afford") is settled with exact rationals (BigInt).
 */
import type { BudgetRule, PollDefinition } from './pollDefinition.ts';

export interface BudgetProject {
  id: string;
  /** Non-negative, finite. Whole currency units in practice; fractions are handled exactly. */
  cost: number;
}

export interface MesOptions {
  /** 'add1' (default): the completion the Pabulib cities used; 'none': a single run with the real budget. */
  completion?: 'add1' | 'none';
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

/** Exact value of a finite double: doubling a double is exact, so this terminates with a power of two. */
function qOf(x: number): Q {
  let d = 1n;
  while (!Number.isInteger(x)) {
    x *= 2;
    d *= 2n;
  }
  return q(BigInt(x), d);
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
 * is left and skipping the ones that do not. Ties go to the lower cost, then to the lower id (code-point
 * order). Projects with no approval are never funded (nobody asked for them).
 *
 * @returns funded project ids, in funding order.
 */
export function greedyByApprovals(
  projects: readonly BudgetProject[],
  approvals: ReadonlyMap<string, number> | Readonly<Record<string, number>>,
  budget: number,
): string[] {
  checkProjects(projects);
  checkAmount('budget', budget);
  const count = (id: string): number => {
    const v = approvals instanceof Map ? approvals.get(id) : Object.hasOwn(approvals, id) ? (approvals as Record<string, number>)[id] : 0;
    return v ?? 0;
  };
  const order = projects
    .map((p) => ({ p, votes: count(p.id) }))
    .filter((x) => x.votes > 0)
    .sort((a, b) => b.votes - a.votes || a.p.cost - b.p.cost || compareIds(a.p.id, b.p.id));
  let left = qOf(budget);
  const funded: string[] = [];
  for (const { p } of order) {
    const c = qOf(p.cost);
    if (qCmp(c, left) <= 0) {
      funded.push(p.id);
      left = qSub(left, c);
    }
  }
  return funded;
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
function mesFixed(inst: MesInstance, budget: Q): number[] {
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
 * the outcome is not exhaustive and the next outcome still fits; keep the last outcome that fits. Where
 * the reference would loop forever (every eligible project funded but a no-approval project still fits),
 * we stop: no larger budget can fund more.
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
  let winners = mesFixed(inst, total);

  if ((options.completion ?? 'add1') === 'add1') {
    const allCostsQ = projects.map((p) => qOf(p.cost));
    const nB = BigInt(n);
    let perVoter = total.n / (total.d * nB); // floor(B / n), as an integer
    let current = sumCost(inst.costQ, winners);
    for (;;) {
      const funded = new Set(winners.map((w) => inst.ids[w]!));
      const exhaustive = projects.every((p, i) => funded.has(p.id) || qCmp(qAdd(current, allCostsQ[i]!), total) > 0);
      if (exhaustive || winners.length === inst.ids.length) break;
      perVoter += 1n;
      const next = mesFixed(inst, { n: perVoter * nB, d: 1n });
      const nextCost = sumCost(inst.costQ, next);
      if (qCmp(nextCost, total) > 0) break;
      winners = next;
      current = nextCost;
    }
  }
  return winners.map((w) => inst.ids[w]!);
}

// ---------------------------------------------------------------------------------------------------

/**
 * The outcome of a budget poll under the rule its definition names (`equal-shares` uses `add1`).
 * The projects are the options of the poll's single question; each must have a cost.
 *
 * @param ballots approved project ids per counted voter (one entry per voter).
 */
export function budgetOutcome(def: PollDefinition, ballots: readonly (readonly string[])[]): BudgetOutcome {
  if (!def.budget) throw new RangeError(`poll ${def.pollId} has no budget`);
  if (def.questions.length !== 1) throw new RangeError(`budget poll ${def.pollId} must have exactly one question`);
  const projects = def.questions[0]!.options.map((o) => {
    if (o.cost === undefined) throw new RangeError(`project ${JSON.stringify(o.id)} has no cost`);
    return { id: o.id, cost: o.cost };
  });
  const { rule, total } = def.budget;
  let funded: string[];
  if (rule === 'greedy') {
    const approvals = new Map<string, number>();
    for (const ballot of ballots) for (const id of new Set(ballot)) approvals.set(id, (approvals.get(id) ?? 0) + 1);
    funded = greedyByApprovals(projects, approvals, total);
  } else if (rule === 'equal-shares') {
    funded = methodOfEqualShares(projects, ballots, total, { completion: 'add1' });
  } else {
    const never: never = rule;
    throw new RangeError(`unknown budget rule ${String(never)}`);
  }
  const costQ = new Map(projects.map((p) => [p.id, qOf(p.cost)]));
  const totalCost = qToNumber(funded.reduce((sum, id) => qAdd(sum, costQ.get(id)!), Q0));
  return { rule, funded, totalCost };
}
