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
  /**
   * Equal Shares outcomes already computed for these same projects and ballots (the caller keeps one map
   * per election): `equalshares/add1` and `equalshares/add1-comparison` share their costly part.
   */
  memo?: MesMemo;
  /** Called with both outcomes and the voters who prefer each, when there is a comparison step. */
  onComparison?: (c: { mes: string[]; greedy: string[]; preferMes: number; preferGreedy: number }) => void;
}

/** A cache of Equal Shares outcomes for one election (see {@link MesOptions.memo}); opaque. */
export type MesMemo = Map<string, unknown>;

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
  const hex = (x < 0n ? -x : x).toString(16);
  return (hex.length - 1) * 4 + (32 - Math.clz32(parseInt(hex[0]!, 16)));
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
  /** Every cost as a whole number of `costUnit`ths (costUnit: the least common denominator). */
  costUnit: bigint;
  costN: bigint[];
  approvers: Int32Array[];
  /** Room for one project's approvers' money. */
  scratch: Float64Array;
}

/**
 * One MES run with a fixed total budget, cost utilities. Returns indices into `inst` in funding order.
 *
 * Speed: every voter's money is kept as a double in one typed array, and a project's payment is found
 * without sorting its approvers: start from cost / payers, cap the approvers who have less, recompute, and
 * repeat until no one more is capped (the payment only grows, so this ends; one or two passes over the
 * approvers in practice). Projects are looked at in order of a lower bound on their payment per unit of
 * utility, which only grows as money is spent (the reference's "effective vote count" cut-off), so most
 * are never evaluated in a round.
 *
 * Exactness: the doubles only decide where they cannot be wrong. A running bound on the doubles' error is
 * kept (how far any voter's double can be from their exact money, and each payment's error); whenever a
 * voter's money is within that bound of a payment, a project's money is within it of its cost, or two
 * candidates are within it of each other, the decision is made exactly, on BigInt rationals. Voters with
 * the same payment history form a class whose exact money is computed only when such a decision needs it.
 */
function mesFixed(inst: MesInstance, budget: Q, trace?: (round: MesRound) => void, onDone?: MesOptions['onDone']): number[] {
  const n = inst.voters;
  const P = inst.ids.length;
  const EPS = Number.EPSILON;
  const b0Q = q(budget.n, budget.d * BigInt(n));
  const b0F = qToNumber(b0Q);
  const mF = new Float64Array(n).fill(b0F);
  // Classes: 0 = nothing left, 1 = paid nothing yet; k >= 2 is parent[k] after paying round paidIn[k]'s payment.
  const winners: number[] = [];
  const classOf = new Int32Array(n).fill(1);
  let classCap = 1024;
  let classes = 2;
  let parent = new Int32Array(classCap);
  let paidIn = new Int32Array(classCap).fill(-1);
  let valueF = new Float64Array(classCap);
  valueF[1] = b0F;
  // Per class, scratch for one round: its new class + 1 (0 = not seen yet), and how many of it were capped.
  let next = new Int32Array(classCap);
  let capCount = new Int32Array(classCap);
  const newClass = (from: number, round: number, value: number): number => {
    if (classes === classCap) {
      classCap *= 2;
      parent = resized(parent, classCap);
      paidIn = resized(paidIn, classCap);
      valueF = resized(valueF, classCap);
      next = resized(next, classCap);
      capCount = resized(capCount, classCap);
    }
    parent[classes] = from;
    paidIn[classes] = round;
    valueF[classes] = value;
    return classes++;
  };
  /**
   * Exact money is an integer count of units that shrink as rounds pass: after L rounds the unit is
   * 1 / (D0 * scale[L]), scale[L] being the product of the first L rounds' payer counts u_r, so that round
   * r's payment (cost - what the capped payers had) / u_r is a whole number x_r of round r+1's units. No
   * gcd is ever needed. Computed only when a decision needs it, then kept.
   */
  const D0 = (inst.costUnit / gcd(inst.costUnit, b0Q.d)) * b0Q.d;
  const costN0 = D0 === inst.costUnit ? inst.costN : inst.costN.map((c) => c * (D0 / inst.costUnit));
  const scale: bigint[] = [1n];
  const exactN = new Map<number, bigint>([
    [0, 0n],
    [1, b0Q.n * (D0 / b0Q.d)],
  ]);
  const roundWinner: number[] = [];
  const roundU: bigint[] = [];
  const roundX: (bigint | undefined)[] = [];
  const roundCapped: { k: number; cnt: number }[][] = [];
  /** Upper bound on |double - exact| of any voter's money. */
  let errM = 2 * EPS * b0F;

  /** Round r's payment in round r+1's units. */
  const roundPayment = (r: number): bigint => {
    let x = roundX[r];
    if (x === undefined) {
      x = costN0[roundWinner[r]!]! * scale[r]!;
      for (const { k, cnt } of roundCapped[r]!) x -= BigInt(cnt) * moneyAt(k, r);
      roundX[r] = x;
    }
    return x;
  };
  /** Exact money of class k after `level` rounds, in that level's units. */
  const moneyAt = (k: number, level: number): bigint => {
    if (k === 0) return 0n;
    let m = exactN.get(k);
    if (m === undefined) {
      const r = paidIn[k]!;
      m = moneyAt(parent[k]!, r) * roundU[r]! - roundPayment(r);
      exactN.set(k, m);
    }
    const at = paidIn[k]! + 1;
    return at === level ? m : m * (scale[level]! / scale[at]!);
  };
  const toQ = (units: bigint, level: number): Q => ({ n: units, d: D0 * scale[level]! });

  interface FloatEval {
    affordable: boolean;
    /** Some decision was within the error bound: only an exact evaluation can tell. */
    near: boolean;
    rhoF: number;
    errRho: number;
  }
  // The last payment found for each project (payments only grow), and a buffer for approvers below a threshold.
  const lastRhoF = new Float64Array(P);
  for (let p = 0; p < P; p++) lastRhoF[p] = inst.cost[p]! / inst.approvers[p]!.length;
  const low = inst.scratch;
  const UNAFFORDABLE: FloatEval = { affordable: false, near: false, rhoF: Infinity, errRho: 0 };
  const NEAR_UNAFFORDABLE: FloatEval = { affordable: false, near: true, rhoF: Infinity, errRho: 0 };
  /**
   * One pass over the approvers sums their money and keeps aside those below a threshold (twice the last
   * payment found); the capped set is then settled on those alone. Voters with nothing left are capped
   * voters who pay 0. If the payment reaches the threshold, the pass is repeated keeping every approver.
   */
  const evalFloat = (p: number, threshold = 2 * lastRhoF[p]!): FloatEval => {
    const voters = inst.approvers[p]!;
    const cost = inst.cost[p]!;
    const a = voters.length;
    let sum = 0;
    let b = 0;
    let zeros = 0;
    for (let i = 0; i < a; i++) {
      const m = mF[voters[i]!]!;
      sum += m;
      low[b] = m;
      b += m < threshold ? 1 : 0;
      zeros += m === 0 ? 1 : 0;
    }
    // Voters with nothing left hold exactly 0: no error from them.
    const errSum = (a - zeros) * errM + a * EPS * (sum + cost);
    if (sum < cost - errSum) return UNAFFORDABLE;
    if (sum <= cost + errSum) return NEAR_UNAFFORDABLE;
    let capN = zeros;
    let rho = cost / (a - zeros);
    for (let iter = 0; ; iter++) {
      const errRho = ((capN - zeros) * errM + (capN + 2) * EPS * cost) / (a - capN) + 2 * EPS * rho;
      const tol = 4 * (errM + errRho);
      // Approvers not kept aside have at least `threshold`: neither capped nor near while rho + tol is below it.
      if (rho + tol >= threshold) return evalFloat(p, Infinity);
      let s = 0;
      let c = 0;
      for (let i = 0; i < b; i++) {
        const m = low[i]!;
        if (m < rho) {
          s += m;
          c++;
        }
      }
      if (c === capN) {
        let near = false;
        for (let i = 0; i < b; i++) if (Math.abs(low[i]! - rho) <= tol) near = true;
        lastRhoF[p] = rho;
        return { affordable: true, near, rhoF: rho, errRho };
      }
      capN = c;
      if (capN >= a || iter > 64) return { affordable: true, near: true, rhoF: rho, errRho };
      rho = (cost - s) / (a - capN);
    }
  };

  /** A payment found exactly: x / u in the current level's units. */
  interface Exact {
    x: bigint;
    u: bigint;
  }
  /** Exact payment of project p (payers with less than it pay all they have), or null if unaffordable. */
  const evalExact = (p: number): Exact | null => {
    const level = winners.length;
    const counts = new Map<number, number>();
    for (const v of inst.approvers[p]!) {
      const k = classOf[v]!;
      if (k !== 0) counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    const classes = [...counts].map(([k, cnt]) => ({ m: moneyAt(k, level), cnt: BigInt(cnt) })).sort((x, y) => (x.m < y.m ? -1 : x.m > y.m ? 1 : 0));
    let rest = costN0[p]! * scale[level]!;
    let den = 0n;
    for (const c of classes) den += c.cnt;
    for (const { m, cnt } of classes) {
      // The payment would be rest / den; a class with less money pays all it has.
      if (rest > den * m) {
        rest -= cnt * m;
        den -= cnt;
      } else {
        return { x: rest, u: den };
      }
    }
    return null;
  };
  const exactToNumber = (e: Exact): number => qToNumber({ n: e.x, d: e.u * D0 * scale[winners.length]! });

  /** Exact: lower payment per unit of cost wins; ties to the lower cost, then more approvals, then lower id. */
  const beats = (a: number, ea: Exact, b: number, eb: Exact): boolean => {
    const l = ea.x * eb.u * costN0[b]!;
    const r = eb.x * ea.u * costN0[a]!;
    if (l !== r) return l < r;
    if (costN0[a] !== costN0[b]) return costN0[a]! < costN0[b]!;
    const va = inst.approvers[a]!.length;
    const vb = inst.approvers[b]!.length;
    if (va !== vb) return va > vb;
    return compareIds(inst.ids[a]!, inst.ids[b]!) < 0;
  };

  // Lower bounds on each candidate's payment per unit of utility; they only grow as money is spent. The
  // candidates are kept in order of their bounds (insertion sort: only the evaluated ones move, upwards).
  const bound = new Float64Array(P);
  const order = new Int32Array(P);
  let live = P;
  for (let p = 0; p < P; p++) {
    bound[p] = (1 - 1e-12) / inst.approvers[p]!.length;
    order[p] = p;
  }
  const removed = new Uint8Array(P);
  const sortAndCompact = () => {
    let w = 0;
    for (let i = 0; i < live; i++) if (!removed[order[i]!]) order[w++] = order[i]!;
    live = w;
    for (let i = 1; i < live; i++) {
      const x = order[i]!;
      const bx = bound[x]!;
      let j = i - 1;
      while (j >= 0 && (bound[order[j]!]! > bx || (bound[order[j]!]! === bx && order[j]! > x))) {
        order[j + 1] = order[j]!;
        j--;
      }
      order[j + 1] = x;
    }
  };

  while (live > 0) {
    sortAndCompact();
    if (live === 0) break;
    const evaluated: { p: number; metric: number; err: number; fe: FloatEval }[] = [];
    let bestMetric = Infinity;
    let bestErr = 0;
    for (let i = 0; i < live; i++) {
      const p = order[i]!;
      if (bound[p]! > bestMetric + bestErr) break;
      let fe = evalFloat(p);
      if (!fe.affordable) {
        const exact = fe.near ? evalExact(p) : null;
        if (exact === null) {
          removed[p] = 1;
          continue;
        }
        // Exactly affordable after all (its approvers' money is its cost, to the last grosz): rare.
        const rhoF = exactToNumber(exact);
        fe = { affordable: true, near: true, rhoF, errRho: 4 * EPS * rhoF };
      }
      const cost = inst.cost[p]!;
      const metric = fe.rhoF / cost;
      const err = (4 * (fe.errRho + errM)) / cost + 4 * EPS * metric;
      bound[p] = metric - err;
      evaluated.push({ p, metric, err, fe });
      if (metric < bestMetric) {
        bestMetric = metric;
        bestErr = err;
      }
    }
    if (evaluated.length === 0) break;
    // Everything within the error bounds of the best is compared exactly, with the README's tie-breaks.
    const close = evaluated.filter((e) => e.metric - e.err <= bestMetric + bestErr);
    let win: { p: number; fe: FloatEval; rho?: Exact } | undefined;
    if (close.length === 1 && !close[0]!.fe.near) {
      win = { p: close[0]!.p, fe: close[0]!.fe };
    } else {
      for (const e of close) {
        const rho = evalExact(e.p);
        if (rho === null) {
          removed[e.p] = 1;
          continue;
        }
        if (!win || beats(e.p, rho, win.p, win.rho!)) win = { p: e.p, fe: e.fe, rho };
      }
      if (!win) continue; // the close ones were not affordable after all: evaluate the round again
    }
    const p = win.p;
    const round = winners.length;
    const rhoF = win.rho ? exactToNumber(win.rho) : win.fe.rhoF;
    const errRho = win.rho ? 2 * EPS * rhoF : win.fe.errRho;
    // Who pays all they have: decided exactly when the payment was, else by the doubles (none was near).
    const touched: number[] = [];
    let payingInFull = 0;
    let payingAll = 0;
    const voters = inst.approvers[p]!;
    for (let i = 0; i < voters.length; i++) {
      const v = voters[i]!;
      const k = classOf[v]!;
      if (k === 0) continue;
      let nk = next[k]! - 1;
      if (nk < 0) {
        const capped = win.rho ? moneyAt(k, round) * win.rho.u <= win.rho.x : valueF[k]! < rhoF;
        nk = capped ? 0 : newClass(k, round, valueF[k]! - rhoF);
        next[k] = nk + 1;
        touched.push(k);
      }
      if (nk === 0) {
        payingAll++;
        capCount[k]!++;
        mF[v] = 0;
      } else {
        payingInFull++;
        mF[v] = valueF[nk]!;
      }
      classOf[v] = nk;
    }
    const capped: { k: number; cnt: number }[] = [];
    for (const k of touched) {
      if (next[k] === 1) capped.push({ k, cnt: capCount[k]! });
      next[k] = 0;
      capCount[k] = 0;
    }
    roundWinner.push(p);
    roundU.push(win.rho ? win.rho.u : BigInt(payingInFull));
    roundCapped.push(capped);
    roundX.push(win.rho?.x);
    scale.push(scale[round]! * roundU[round]!);
    errM += errRho + 2 * EPS * b0F;
    winners.push(p);
    removed[p] = 1;
    if (trace) {
      const level = winners.length;
      const perClass = new Map<number, number>();
      for (let v = 0; v < n; v++) perClass.set(classOf[v]!, (perClass.get(classOf[v]!) ?? 0) + 1);
      let withMoney = 0;
      let left = 0n;
      let min: bigint | undefined;
      let max = 0n;
      for (const [k, count] of perClass) {
        const m = moneyAt(k, level);
        left += BigInt(count) * m;
        if (m > 0n) withMoney += count;
        if (min === undefined || m < min) min = m;
        if (m > max) max = m;
      }
      const num = (units: bigint) => Number(qToFixed(toQ(units, level), 2));
      trace({
        round: level,
        project: inst.ids[p]!,
        cost: inst.cost[p]!,
        payment: num(roundPayment(round)),
        payingInFull,
        payingAllTheyHad: payingAll,
        votersWithMoney: withMoney,
        moneyLeft: num(left),
        minLeft: num(min ?? 0n),
        maxLeft: num(max),
        perVoterBudget: Number(qToFixed(b0Q, 2)),
      });
    }
  }
  if (onDone) {
    const position = new Map(inst.ids.map((id, i) => [id, i]));
    const level = winners.length;
    onDone((projectId) => {
      const p = position.get(projectId);
      if (p === undefined) return 0;
      const perClass = new Map<number, number>();
      for (const v of inst.approvers[p]!) perClass.set(classOf[v]!, (perClass.get(classOf[v]!) ?? 0) + 1);
      let left = 0n;
      for (const [k, count] of perClass) left += BigInt(count) * moneyAt(k, level);
      return Number(qToFixed(toQ(left, level), 2));
    });
  }
  return winners;
}

/** A copy of `a` with `length` entries (the new ones 0). */
function resized<T extends Int32Array | Float64Array>(a: T, length: number): T {
  const b = new (a.constructor as new (n: number) => T)(length);
  b.set(a);
  return b;
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
  // Voters seated next to those with the same or similar ballots (in order of their ballots' sorted
  // project indices): a project's approvers then sit in few stretches of the money array, which the
  // evaluation reads over and over. Only where each voter's money is kept changes; no decision.
  const memoKey = `${options.completion ?? 'add1'} ${budget}`;
  const known = options.memo?.get(memoKey) as { winners: number[]; runBudget: Q } | undefined;
  // One run (no completion, or an outcome already known) reads each project a few times only: sorting
  // the ballots would cost more than it saves.
  const seatByBallot = (options.completion ?? 'add1') === 'add1' && !known;
  const keys = seatByBallot ? ballots.map((b) => [...new Set(b)].map((id) => index.get(id)!).sort((x, y) => x - y)) : [];
  const byBallot = seatByBallot ? keys.map((_, v) => v).sort((x, y) => {
    const a = keys[x]!;
    const b = keys[y]!;
    for (let k = 0; k < a.length && k < b.length; k++) if (a[k] !== b[k]) return a[k]! - b[k]!;
    return a.length - b.length || x - y;
  }) : ballots.map((_, v) => v);
  const seat = new Int32Array(n);
  byBallot.forEach((v, s) => (seat[v] = s));
  const inst: MesInstance = {
    voters: n,
    ids: eligible.map(({ p }) => p.id),
    cost: eligible.map(({ p }) => p.cost),
    costQ: eligible.map(({ p }) => qOf(p.cost)),
    costUnit: 1n,
    costN: [],
    approvers: eligible.map(({ i }) => Int32Array.from(lists[i]!, (v) => seat[v]!).sort()),
    scratch: new Float64Array(Math.max(0, ...eligible.map(({ i }) => lists[i]!.length))),
  };
  for (const c of inst.costQ) inst.costUnit = (inst.costUnit / gcd(inst.costUnit, c.d)) * c.d;
  inst.costN = inst.costQ.map((c) => c.n * (inst.costUnit / c.d));
  const total = qOf(budget);
  let runBudget = known?.runBudget ?? total;
  let winners = known?.winners ?? mesFixed(inst, total);

  if (!known && (options.completion ?? 'add1') === 'add1') {
    // As Pabulib's checker counts add1 (and so the cities' files, Wieliczka 2023 among them): from
    // floor(B / n) per voter, raise by 1 while the outcome still fits the real budget; no stop at an
    // exhaustive outcome (stopping there funds 31 projects in Wieliczka where the official count is 30).
    // Costs and the budget as whole numbers of one common unit, so "fits" is an integer sum.
    const unit = (inst.costUnit / gcd(inst.costUnit, total.d)) * total.d;
    const costUnits = inst.costN.map((c) => c * (unit / inst.costUnit));
    const totalUnits = total.n * (unit / total.d);
    const nB = BigInt(n);
    let perVoter = total.n / (total.d * nB); // floor(B / n), as an integer
    for (;;) {
      if (winners.length === inst.ids.length) break; // every eligible project funded: more money changes nothing
      perVoter += 1n;
      const nextBudget = { n: perVoter * nB, d: 1n };
      const next = mesFixed(inst, nextBudget);
      let spent = 0n;
      for (const w of next) spent += costUnits[w]!;
      if (spent > totalUnits) break;
      winners = next;
      runBudget = nextBudget;
    }
  }
  options.memo?.set(memoKey, { winners, runBudget });
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
export function budgetOutcome(def: PollDefinition, ballots: readonly (readonly string[])[], mesExtras: Pick<MesOptions, 'trace' | 'onComparison' | 'onDone' | 'memo'> = {}): BudgetOutcome {
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
