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
 * One election prepared for Equal Shares, once: every run of it (add1 makes hundreds) and every Equal
 * Shares rule counted with the same memo reuse it.
 *
 * Voters who cast the same ballot hold the same money in every round of every run (they pay the same
 * each time, or all run out together), so each distinct ballot is one group, weighted by the number of
 * voters who cast it: exact, and fewer entries to read (11,426 groups for 14,897 voters in Warszawa
 * 2020 Praga-Południe). Groups are ordered by their ballots (sorted project indices), so a project's
 * approvers sit in few stretches of the money array. Plain data (typed arrays, strings, numbers,
 * bigints): it can be sent to a worker thread.
 */
export interface MesInstance {
  /** Every voter, empty ballots included: each gets budget / voters. */
  voters: number;
  /** Every project given, in the given order, with its cost and the number of voters approving it. */
  projectIds: string[];
  projectCost: number[];
  approvals: Float64Array;
  /** Voters per group; a group's projects (indices into projectIds) are ballotProjects[ballotStart[g]..ballotStart[g + 1]). */
  weight: Float64Array;
  ballotStart: Int32Array;
  ballotProjects: Int32Array;
  /** Per project given: its index among the eligible projects (positive cost, approved by someone), or -1. */
  eligibleOf: Int32Array;
  /** The eligible projects, in the given order: id, cost, voters approving it. */
  ids: string[];
  cost: Float64Array;
  approverCount: Float64Array;
  /** Eligible project e's approving groups (ascending) and their weights: from approverStart[e] to approverStart[e + 1]. */
  approverStart: Int32Array;
  approverGroups: Int32Array;
  approverWeights: Float64Array;
  /** Every eligible cost as a whole number of `costUnit`ths (costUnit: their least common denominator). */
  costUnit: bigint;
  costN: bigint[];
}

/** Groups the ballots (see {@link MesInstance}); throws RangeError for a ballot naming an unknown project. */
export function equalSharesInstance(projects: readonly BudgetProject[], ballots: readonly (readonly string[])[]): MesInstance {
  checkProjects(projects);
  const P = projects.length;
  const index = new Map(projects.map((p, i) => [p.id, i]));
  // Groups found by a hash of the sorted project indices, each candidate compared in full (no string
  // per ballot: a single run of a large election would spend more on keys than on counting). Every
  // distinct ballot's sorted indices lie one after another in `pool` (group c's from keyStart[c] to
  // keyStart[c + 1]): one array for all, not one typed array per group (11,426 in Praga-Południe, a
  // third of the grouping's time in allocation and garbage collection).
  const groupsByHash = new Map<number, number[]>();
  let pool = new Int32Array(1 << 12);
  const keyStart: number[] = [0];
  const counts: number[] = [];
  const lastVoter = new Int32Array(P).fill(-1);
  const sameKey = (c: number, at: number, k: number): boolean => {
    const from = keyStart[c]!;
    if (keyStart[c + 1]! - from !== k) return false;
    for (let j = 0; j < k; j++) if (pool[from + j] !== pool[at + j]) return false;
    return true;
  };
  for (let voter = 0; voter < ballots.length; voter++) {
    const ballot = ballots[voter]!;
    // The next key is written at the end of the pool, and kept there only if it is new.
    const at = keyStart[counts.length]!;
    if (at + ballot.length > pool.length) {
      const grown = new Int32Array(Math.max(2 * pool.length, at + ballot.length));
      grown.set(pool.subarray(0, at));
      pool = grown;
    }
    let k = 0;
    for (const id of ballot) {
      const i = index.get(id);
      if (i === undefined) throw new RangeError(`ballot ${voter} approves unknown project ${JSON.stringify(id)}`);
      // A project named twice on one ballot is one approval.
      if (lastVoter[i] === voter) continue;
      lastVoter[i] = voter;
      // Sorted as it is read (insertion: ballots are short).
      let j = at + k++;
      for (; j > at && pool[j - 1]! > i; j--) pool[j] = pool[j - 1]!;
      pool[j] = i;
    }
    if (k === 0) continue;
    let hash = k;
    for (let j = 0; j < k; j++) hash = (Math.imul(hash, 31) + pool[at + j]!) | 0;
    const candidates = groupsByHash.get(hash);
    let g = -1;
    if (candidates) {
      for (const c of candidates) {
        if (sameKey(c, at, k)) {
          g = c;
          break;
        }
      }
    }
    if (g >= 0) {
      counts[g]!++;
      continue;
    }
    if (candidates) candidates.push(counts.length);
    else groupsByHash.set(hash, [counts.length]);
    keyStart.push(at + k);
    counts.push(1);
  }
  const G = counts.length;
  const byBallot = Array.from({ length: G }, (_, g) => g).sort((x, y) => {
    const a = keyStart[x]!;
    const b = keyStart[y]!;
    const la = keyStart[x + 1]! - a;
    const lb = keyStart[y + 1]! - b;
    for (let k = 0; k < la && k < lb; k++) if (pool[a + k] !== pool[b + k]) return pool[a + k]! - pool[b + k]!;
    return la - lb;
  });
  const weight = new Float64Array(G);
  const ballotStart = new Int32Array(G + 1);
  const ballotProjects = new Int32Array(keyStart[G]!);
  const approvals = new Float64Array(P);
  let at = 0;
  byBallot.forEach((old, g) => {
    weight[g] = counts[old]!;
    ballotStart[g] = at;
    for (let j = keyStart[old]!; j < keyStart[old + 1]!; j++) {
      const i = pool[j]!;
      ballotProjects[at++] = i;
      approvals[i]! += counts[old]!;
    }
  });
  ballotStart[G] = at;
  const eligibleOf = new Int32Array(P).fill(-1);
  const eligible: number[] = [];
  projects.forEach((p, i) => {
    if (p.cost > 0 && approvals[i]! > 0) {
      eligibleOf[i] = eligible.length;
      eligible.push(i);
    }
  });
  const E = eligible.length;
  const approverStart = new Int32Array(E + 1);
  for (let k = 0; k < at; k++) if (eligibleOf[ballotProjects[k]!]! >= 0) approverStart[eligibleOf[ballotProjects[k]!]! + 1]!++;
  for (let e = 0; e < E; e++) approverStart[e + 1]! += approverStart[e]!;
  const approverGroups = new Int32Array(approverStart[E]!);
  const approverWeights = new Float64Array(approverStart[E]!);
  const next = approverStart.slice(0, E);
  for (let g = 0; g < G; g++) {
    for (let k = ballotStart[g]!; k < ballotStart[g + 1]!; k++) {
      const e = eligibleOf[ballotProjects[k]!]!;
      if (e >= 0) {
        approverGroups[next[e]!] = g;
        approverWeights[next[e]!++] = weight[g]!;
      }
    }
  }
  const costQ = eligible.map((i) => qOf(projects[i]!.cost));
  let costUnit = 1n;
  for (const c of costQ) costUnit = (costUnit / gcd(costUnit, c.d)) * c.d;
  return {
    voters: ballots.length,
    projectIds: projects.map((p) => p.id),
    projectCost: projects.map((p) => p.cost),
    approvals,
    weight,
    ballotStart,
    ballotProjects,
    eligibleOf,
    ids: eligible.map((i) => projects[i]!.id),
    cost: Float64Array.from(eligible, (i) => projects[i]!.cost),
    approverCount: Float64Array.from(eligible, (i) => approvals[i]!),
    approverStart,
    approverGroups,
    approverWeights,
    costUnit,
    costN: costQ.map((c) => c.n * (costUnit / c.d)),
  };
}

/**
 * One Equal Shares run where each voter gets `perVoter` (a whole amount): the eligible projects funded
 * (indices into `inst.ids`), in funding order. What add1 runs over and over; pure, for worker threads.
 */
export function equalSharesRunPerVoter(inst: MesInstance, perVoter: bigint): number[] {
  return mesFixed(inst, { n: perVoter * BigInt(inst.voters), d: 1n });
}

/** The arrays of one run, as large as the instance needs (per group, per approval, per project). */
interface MesWorkspace {
  money: Float64Array;
  cappedAt: Int32Array;
  cappedLog: Int32Array;
  historyNode: Int32Array;
  historyLevel: Int32Array;
  groups: Int32Array;
  weights: Float64Array;
  low: Float64Array;
  lowW: Float64Array;
  listEnd: Int32Array;
  roundOf: Int32Array;
  order: Int32Array;
  evP: Int32Array;
  active: Float64Array;
  lastRhoF: Float64Array;
  lastLo: Float64Array;
  bound: Float64Array;
  evMetric: Float64Array;
  evErr: Float64Array;
  evRhoF: Float64Array;
  evErrRho: Float64Array;
  removed: Uint8Array;
  evNear: Uint8Array;
  copied: Uint8Array;
  /** paymentInDoubles' last affordable payment: the payment, its error bound, whether a decision was near. */
  rho: number;
  errRho: number;
  near: boolean;
}

function newWorkspace(inst: MesInstance): MesWorkspace {
  const G = inst.weight.length;
  const A = inst.approverGroups.length;
  const P = inst.ids.length;
  let longest = 0;
  for (let p = 0; p < P; p++) longest = Math.max(longest, inst.approverStart[p + 1]! - inst.approverStart[p]!);
  return {
    money: new Float64Array(G),
    cappedAt: new Int32Array(G),
    cappedLog: new Int32Array(G),
    historyNode: new Int32Array(G),
    historyLevel: new Int32Array(G),
    groups: new Int32Array(A),
    weights: new Float64Array(A),
    low: new Float64Array(longest),
    lowW: new Float64Array(longest),
    listEnd: new Int32Array(P),
    roundOf: new Int32Array(P),
    order: new Int32Array(P),
    evP: new Int32Array(P),
    active: new Float64Array(P),
    lastRhoF: new Float64Array(P),
    lastLo: new Float64Array(P),
    bound: new Float64Array(P),
    evMetric: new Float64Array(P),
    evErr: new Float64Array(P),
    evRhoF: new Float64Array(P),
    evErrRho: new Float64Array(P),
    removed: new Uint8Array(P),
    evNear: new Uint8Array(P),
    copied: new Uint8Array(P),
    rho: 0,
    errRho: 0,
    near: false,
  };
}

/** The arrays the runs on an instance reuse (add1 runs hundreds, one after another): no garbage per run. */
const workspaces = new WeakMap<MesInstance, MesWorkspace>();
function workspaceOf(inst: MesInstance): MesWorkspace {
  let ws = workspaces.get(inst);
  if (!ws) {
    ws = newWorkspace(inst);
    workspaces.set(inst, ws);
  }
  return ws;
}

/** What {@link paymentInDoubles} found. */
const UNAFFORDABLE = 0;
const NEAR_UNAFFORDABLE = 1;
const AFFORDABLE = 2;

/**
 * How far below a payment found the lower bound on a project's next payment is kept (relative): the
 * doubles' error bounds are near 1e-13 relative, so a group below the bound is never within them of a
 * payment, and the scan needs no running maximum of those groups (a fifth of its time).
 */
const LOW_MARGIN = 1e-9;

/** The most money a group of list[start..end) holds below `lo` (0 if none). */
function mostBelow(groups: Int32Array, money: Float64Array, start: number, end: number, lo: number): number {
  let most = 0;
  for (let i = start; i < end; i++) {
    const m = money[groups[i]!]!;
    if (m < lo && m > most) most = m;
  }
  return most;
}

/**
 * Project p's payment in doubles, in a run of {@link mesFixed} whose doubles are off by at most `errM` per
 * group (see there). `full`: nothing assumed (no group counted as paying all it has before it is compared
 * with a payment, every group set aside): the fallback when the payment reaches twice the last one. For an
 * affordable project, the payment, its error bound, and whether some decision was within the error bound
 * (then only an exact evaluation can tell) are left in ws.rho, ws.errRho and ws.near.
 *
 * A module function, not a closure inside mesFixed: each run makes its closures anew, and V8 kept
 * deoptimizing the closure's compiled code at a branch its first runs had not taken (hundreds of times
 * over add1's runs, each time back to the interpreter for a while).
 */
function paymentInDoubles(inst: MesInstance, ws: MesWorkspace, p: number, full: boolean, errM: number): number {
  const EPS = Number.EPSILON;
  const { listEnd, active, lastLo, lastRhoF, copied, money: mF, groups: listG, weights: listW, low, lowW } = ws;
  const start = inst.approverStart[p]!;
  const end = listEnd[p]!;
  const a = active[p]!;
  const c = inst.cost[p]!;
  const lo = full ? 0 : lastLo[p]!;
  const hi = full ? Infinity : 2 * lastRhoF[p]!;
  let sum = 0;
  let zeros = 0;
  // Below `lo`: paying all they have (lo is a lower bound on the payment).
  let s = 0;
  let capN = 0;
  let b = 0;
  let keep = start;
  // Without branches on the money (whether a group is below lo or hi is a coin toss for the CPU's
  // branch predictor): comparisons as 0 or 1 that multiply. Twice as fast per group.
  const fromG = copied[p] ? listG : inst.approverGroups;
  const fromW = copied[p] ? listW : inst.approverWeights;
  copied[p] = 1;
  for (let i = start; i < end; i++) {
    const g = fromG[i]!;
    const m = mF[g]!;
    const w = fromW[i]!;
    // Compacting as it reads: a group with nothing left is not kept for the next scans.
    listG[keep] = g;
    listW[keep] = w;
    keep += +(m !== 0);
    zeros += +(m === 0) * w;
    const wm = w * m;
    sum += wm;
    const below = +(m < lo);
    s += below * wm;
    capN += below * w;
    low[b] = m;
    lowW[b] = w;
    b += +(m >= lo) & +(m < hi);
  }
  // The groups dropped from the list are gone for the next scans (this one still counts them).
  listEnd[p] = keep;
  active[p]! -= zeros;
  // Groups with nothing left hold exactly 0: no error from them.
  const errSum = (a - zeros) * errM + a * EPS * (sum + c);
  if (sum < c - errSum) return UNAFFORDABLE;
  // Within the error bound of the cost: only the exact sum can tell (test: grosze that add up exactly to the budget).
  if (sum <= c + errSum) return NEAR_UNAFFORDABLE;
  let rho = (c - s) / (a - capN);
  // The most a group set aside and found paying all it has holds (0 when none: money is never negative).
  let maxCapped = 0;
  // low[0..k) pay all they have; the rest of low have at least `rho`... once a pass finds no one new.
  let k = 0;
  for (let iter = 0; ; iter++) {
    let minUncapped = Infinity;
    let added = false;
    for (let i = k; i < b; i++) {
      const m = low[i]!;
      if (m < rho) {
        const w = lowW[i]!;
        s += w * m;
        capN += w;
        if (m > maxCapped) maxCapped = m;
        low[i] = low[k]!;
        lowW[i] = lowW[k]!;
        low[k] = m;
        lowW[k] = w;
        k++;
        added = true;
      } else if (m < minUncapped) minUncapped = m;
    }
    // Safety nets that no election reaches; both hand the decision to the exact evaluation. capN >= a:
    // while the error bounds hold, some approver holds at least the payment (their money exceeds the
    // cost by more than the doubles' error), so someone is always left to pay; this keeps a wrong bound
    // from dividing by zero. iter > 64: a bound on the cost, never on the outcome (the loop ends anyway,
    // after at most one pass per group set aside). A pass caps only groups that held at least the last
    // pass's payment, so the payment's rise shrinks each pass by at most the capped weight over the weight
    // still paying; for the rises to stay above the doubles' resolution (2^-52) for 65 passes, the
    // weight still paying would have to shrink by a factor of about 1e12 (voters). 20,000 fuzzed
    // elections, adversarial money included, ended within 5 passes.
    if (capN >= a || iter > 64) {
      ws.rho = rho;
      ws.errRho = Infinity;
      ws.near = true;
      return AFFORDABLE;
    }
    if (added) rho = (c - s) / (a - capN);
    const errRho = ((capN - zeros) * errM + (capN + 2) * EPS * c) / (a - capN) + 2 * EPS * rho;
    const tol = 4 * (errM + errRho);
    // Groups not set aside have at least `hi`: neither paying all they have nor near while rho + tol is below it.
    // Once the payment reaches `hi` they may be either: evaluated again with nothing assumed (test: a
    // payment that reaches twice the last one).
    if (rho + tol >= hi) return paymentInDoubles(inst, ws, p, true, errM);
    // A group set aside and not yet paying all it has is below the new payment: one more pass.
    if (minUncapped < rho) continue;
    // A group below `lo` is near only if lo is: `lo` is kept well below the payments found (see
    // LOW_MARGIN), so the groups below it are looked at again only when it is not. That happens when
    // the error bound is more than LOW_MARGIN of the payment (payments tiny next to the budget per voter),
    // and then a group counted below `lo` may hold, exactly, at least the payment (test: a voter counted
    // below its lower bound is within the error bound of it).
    if (lo > rho - tol) maxCapped = Math.max(maxCapped, mostBelow(listG, mF, start, keep, lo));
    const near = rho - maxCapped <= tol || minUncapped - rho <= tol;
    ws.rho = rho;
    ws.errRho = errRho;
    ws.near = near;
    lastRhoF[p] = rho;
    if (!near) lastLo[p] = Math.max(lastLo[p]!, rho - errRho - LOW_MARGIN * rho);
    return AFFORDABLE;
  }
}

/**
 * One MES run with a fixed total budget, cost utilities. Returns indices into `inst.ids` in funding order.
 *
 * Speed: each group's money is a double in one typed array. A project's payment is found without sorting
 * its approvers: one pass sums their money, counts as paying all they have those below a lower bound on
 * the payment (its last payment found, less that one's error: payments only grow as money is spent) and
 * sets aside those between that bound and twice the last payment; the set-aside ones are then settled in
 * one or two passes (a payment is final when no one left is below it). Projects are looked at in order of
 * a lower bound on their payment per unit of utility, which only grows (the reference's "effective vote
 * count" cut-off), so most are not evaluated in a round.
 *
 * Exactness: the doubles only decide where they cannot be wrong. A running bound on the doubles' error is
 * kept (how far any group's double can be from its exact money, and each payment's error); whenever a
 * group's money is within that bound of a payment, a project's money is within it of its cost, or two
 * candidates are within it of each other, the decision is made exactly, on BigInt integers. A group's
 * exact money follows from its payment history alone (which funded projects it paid for in full; a group
 * that paid all it had holds 0), so it is computed only when such a decision needs it, once per distinct
 * history (see `moneyAt`).
 */
function mesFixed(inst: MesInstance, budget: Q, trace?: (round: MesRound) => void, onDone?: MesOptions['onDone']): number[] {
  const n = inst.voters;
  const P = inst.ids.length;
  const G = inst.weight.length;
  const { weight, approverCount, approverStart, cost, ballotStart, ballotProjects, eligibleOf } = inst;
  const EPS = Number.EPSILON;
  const b0Q = q(budget.n, budget.d * BigInt(n));
  const b0F = qToNumber(b0Q);
  // A run that reports after it ends (trace, onDone) keeps its own arrays; the others reuse the last run's.
  const ws = trace || onDone ? newWorkspace(inst) : workspaceOf(inst);
  /** Each group's money; exactly 0 when (and only when) it paid all it had left. */
  const mF = ws.money.fill(b0F);
  /** The round in which each group paid all it had left (-1: not yet). */
  const cappedAt = ws.cappedAt.fill(-1);
  // Each project's approving groups and their weights, from approverStart[p] to listEnd[p], for this
  // run: each scan drops the groups that have nothing left (they pay nothing and change no payment).
  // `active` counts the voters in the list.
  // A project's list is copied from the instance by its first scan of the run (most are never read).
  const listG = ws.groups;
  const listW = ws.weights;
  const copied = ws.copied.fill(0);
  const ensureList = (p: number): void => {
    if (copied[p]) return;
    listG.set(inst.approverGroups.subarray(approverStart[p]!, approverStart[p + 1]!), approverStart[p]!);
    listW.set(inst.approverWeights.subarray(approverStart[p]!, approverStart[p + 1]!), approverStart[p]!);
    copied[p] = 1;
  };
  const listEnd = ws.listEnd;
  listEnd.set(approverStart.subarray(1));
  const active = ws.active;
  active.set(approverCount);
  /** The round in which each project was funded (-1: not yet). */
  const roundOf = ws.roundOf.fill(-1);
  const winners: number[] = [];
  let cappedWeight = 0;

  /**
   * Exact money is a whole number of units that shrink as rounds pass: after L rounds the unit is
   * 1 / (D0 * scale[L]), scale[L] being the product of the first L rounds' payer counts u_r (voters who
   * paid the payment in full), so that round r's payment (cost - what the voters who paid all they had
   * held) / u_r is a whole number x_r of round r+1's units. No gcd is ever needed.
   */
  const D0 = (inst.costUnit / gcd(inst.costUnit, b0Q.d)) * b0Q.d;
  const costN0 = D0 === inst.costUnit ? inst.costN : inst.costN.map((c) => c * (D0 / inst.costUnit));
  const scale: bigint[] = [1n];
  const roundU: bigint[] = [];
  const roundX: (bigint | undefined)[] = [];
  /** The groups that paid all they had in round r: cappedLog[cappedFrom[r]] up to cappedLog[cappedFrom[r + 1]] (each group once at most). */
  const cappedLog = ws.cappedLog;
  let cappedCount = 0;
  const cappedFrom: number[] = [0];
  /** Upper bound on |double - exact| of any group's money. */
  let errM = 2 * EPS * b0F;

  const ratios = new Map<number, bigint>();
  /** scale[to] / scale[from]: the product of the payer counts of rounds from..to-1. */
  const ratio = (from: number, to: number): bigint => {
    if (from === to) return 1n;
    const key = from * (P + 1) + to;
    let r = ratios.get(key);
    if (r === undefined) {
      r = scale[to]! / scale[from]!;
      ratios.set(key, r);
    }
    return r;
  };
  /**
   * Round r's payment in round r+1's units: its cost less what the groups that paid all they had held.
   * Such a group held b0 less the payments of the earlier rounds it paid in full (every funded project on
   * its ballot: it had not run out before), so what they held is summed per earlier round (their weight
   * that paid it), not per group: a few dozen products of the rounds' payments instead of one exact
   * money per group (a round can cap thousands of groups, each with its own payment history).
   */
  const roundPayment = (r: number): bigint => {
    let x = roundX[r];
    if (x === undefined) {
      const paidBy = new Float64Array(r);
      let cappedW = 0;
      for (let i = cappedFrom[r]!; i < cappedFrom[r + 1]!; i++) {
        const g = cappedLog[i]!;
        cappedW += weight[g]!;
        for (let k = ballotStart[g]!; k < ballotStart[g + 1]!; k++) {
          const e = eligibleOf[ballotProjects[k]!]!;
          const t = e < 0 ? -1 : roundOf[e]!;
          if (t >= 0 && t < r) paidBy[t]! += weight[g]!;
        }
      }
      // The sum over the earlier rounds t of paidBy[t] * x_t in round r's units (x_t is in round t+1's:
      // times the payer counts of rounds t+1 .. r-1), by Horner's rule.
      let paid = 0n;
      for (let t = 0; t < r; t++) paid = paid * roundU[t]! + (paidBy[t]! > 0 ? BigInt(paidBy[t]!) * roundPayment(t) : 0n);
      x = (costN0[winners[r]!]! - BigInt(cappedW) * nodeMoney[0]!) * scale[r]! + paid;
      roundX[r] = x;
    }
    return x;
  };
  // Payment histories as a tree: node 0 paid nothing; a child paid its parent's payments and then round
  // r's in full. nodeMoney is its exact money in the units of level nodeLevel (its last round + 1).
  const nodeMoney: bigint[] = [b0Q.n * (D0 / b0Q.d)];
  const nodeLevel: number[] = [0];
  const child = new Map<number, number>();
  const childOf = (node: number, r: number): number => {
    const key = node * P + r;
    let c = child.get(key);
    if (c === undefined) {
      // The money first, then the node's index: were working out the payment ever to add nodes, they
      // would take the index this node was given (the code before a4a67d3 did: its round payment built
      // other groups' histories, and in ~2% of random elections with exact ties a node got another's money).
      const money = nodeMoney[node]! * ratio(nodeLevel[node]!, r) * roundU[r]! - roundPayment(r);
      c = nodeMoney.length;
      nodeMoney.push(money);
      nodeLevel.push(r + 1);
      child.set(key, c);
    }
    return c;
  };
  // Per group, the node of its payment history before level historyLevel[g] (kept: asked again and again).
  const historyNode = ws.historyNode.fill(0);
  const historyLevel = ws.historyLevel.fill(0);
  /** Exact money of group g after `level` rounds, in that level's units. */
  const moneyAt = (g: number, level: number): bigint => {
    const c = cappedAt[g]!;
    if (c >= 0 && c < level) return 0n;
    // Before it paid all it had, a group paid in full every funded project on its ballot.
    const from = level >= historyLevel[g]! ? historyLevel[g]! : 0;
    const paid: number[] = [];
    for (let i = ballotStart[g]!; i < ballotStart[g + 1]!; i++) {
      const e = eligibleOf[ballotProjects[i]!]!;
      const r = e < 0 ? -1 : roundOf[e]!;
      if (r >= from && r < level) paid.push(r);
    }
    if (paid.length > 1) paid.sort((x, y) => x - y);
    let node = from === 0 ? 0 : historyNode[g]!;
    for (const r of paid) node = childOf(node, r);
    if (level >= historyLevel[g]!) {
      historyNode[g] = node;
      historyLevel[g] = level;
    }
    return nodeMoney[node]! * ratio(nodeLevel[node]!, level);
  };
  const toQ = (units: bigint, level: number): Q => ({ n: units, d: D0 * scale[level]! });

  /** A payment found exactly: x / u in the current level's units. */
  interface Exact {
    x: bigint;
    u: bigint;
  }
  /** Exact payment of project p (payers with less than it pay all they have), or null if unaffordable. */
  const evalExact = (p: number): Exact | null => {
    const level = winners.length;
    const groups: { m: bigint; w: bigint }[] = [];
    ensureList(p);
    for (let i = approverStart[p]!; i < listEnd[p]!; i++) {
      const g = listG[i]!;
      if (cappedAt[g]! < 0) groups.push({ m: moneyAt(g, level), w: BigInt(weight[g]!) });
    }
    groups.sort((x, y) => (x.m < y.m ? -1 : x.m > y.m ? 1 : 0));
    let rest = costN0[p]! * scale[level]!;
    let den = 0n;
    for (const c of groups) den += c.w;
    for (const { m, w } of groups) {
      // The payment would be rest / den; a group with less money pays all it has.
      if (rest > den * m) {
        rest -= w * m;
        den -= w;
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
    if (approverCount[a] !== approverCount[b]) return approverCount[a]! > approverCount[b]!;
    return compareIds(inst.ids[a]!, inst.ids[b]!) < 0;
  };

  // Per project: the last payment found, and a lower bound on its exact payment now (payments only grow).
  // low, lowW: the groups set aside by one evaluation, their money and weight.
  const { lastRhoF, lastLo, low, lowW } = ws;
  for (let p = 0; p < P; p++) {
    // Nobody pays less than cost / approvers.
    lastRhoF[p] = cost[p]! / approverCount[p]!;
    lastLo[p] = lastRhoF[p]! * (1 - LOW_MARGIN);
  }
  // What evalFloat found for an affordable project (see paymentInDoubles).
  let evRho = 0;
  let evErrRho = 0;
  let evNear = false;
  const evalFloat = (p: number, full: boolean): number => {
    const found = paymentInDoubles(inst, ws, p, full, errM);
    evRho = ws.rho;
    evErrRho = ws.errRho;
    evNear = ws.near;
    return found;
  };

  // Lower bounds on each candidate's payment per unit of utility; they only grow as money is spent. The
  // candidates are kept in order of their bounds (insertion sort: only the evaluated ones move, upwards).
  const { bound, order } = ws;
  let live = P;
  for (let p = 0; p < P; p++) {
    bound[p] = (1 - 1e-12) / approverCount[p]!;
    order[p] = p;
  }
  const removed = ws.removed.fill(0);
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
  // The candidates evaluated in a round.
  const { evP, evMetric, evErr, evRhoF, evErrRho: evErrRho_, evNear: evNear_ } = ws;
  const evExact: (Exact | undefined)[] = [];
  const fixLater: number[] = [];
  let spentN = 0n;

  while (live > 0) {
    sortAndCompact();
    if (live === 0) break;
    let count = 0;
    let bestMetric = Infinity;
    let bestErr = 0;
    for (let i = 0; i < live; i++) {
      const p = order[i]!;
      if (bound[p]! > bestMetric + bestErr) break;
      let exact: Exact | undefined;
      const found = evalFloat(p, false);
      if (found !== AFFORDABLE) {
        const e = found === NEAR_UNAFFORDABLE ? evalExact(p) : null;
        if (e === null) {
          removed[p] = 1;
          continue;
        }
        // Exactly affordable after all (its approvers' money is its cost, to the last grosz): rare.
        exact = e;
        evRho = exactToNumber(e);
        evErrRho = 4 * EPS * evRho;
        evNear = true;
      }
      const c = cost[p]!;
      const metric = evRho / c;
      const err = (4 * (evErrRho + errM)) / c + 4 * EPS * metric;
      bound[p] = metric - err;
      evP[count] = p;
      evMetric[count] = metric;
      evErr[count] = err;
      evRhoF[count] = evRho;
      evErrRho_[count] = evErrRho;
      evNear_[count] = evNear ? 1 : 0;
      evExact[count] = exact;
      count++;
      if (metric < bestMetric) {
        bestMetric = metric;
        bestErr = err;
      }
    }
    if (count === 0) break;
    // Everything within the error bounds of the best is compared exactly, with the README's tie-breaks.
    const cutoff = bestMetric + bestErr;
    let close = 0;
    let only = 0;
    for (let j = 0; j < count; j++) {
      if (evMetric[j]! - evErr[j]! <= cutoff) {
        close++;
        only = j;
      }
    }
    let p = -1;
    let rhoF = 0;
    let errRho = 0;
    let exact: Exact | undefined;
    if (close === 1 && !evNear_[only]) {
      p = evP[only]!;
      rhoF = evRhoF[only]!;
      errRho = evErrRho_[only]!;
    } else {
      for (let j = 0; j < count; j++) {
        if (!(evMetric[j]! - evErr[j]! <= cutoff)) continue;
        const e = evExact[j] ?? evalExact(evP[j]!);
        if (e === null) {
          removed[evP[j]!] = 1;
          continue;
        }
        if (p < 0 || beats(evP[j]!, e, p, exact!)) {
          p = evP[j]!;
          exact = e;
        }
      }
      if (p < 0) continue; // the close ones were not affordable after all: evaluate the round again
      rhoF = exactToNumber(exact!);
      errRho = 2 * EPS * rhoF;
    }
    const round = winners.length;
    // Who pays all they have: decided exactly when the payment was, else by the doubles (none was near).
    let payingInFull = 0;
    let payingAll = 0;
    ensureList(p);
    // Locals, not the variables the closures above share: the loop then reads and writes no context slot
    // per group.
    const groups = listG;
    const weights = listW;
    const money = mF;
    const capped = cappedAt;
    const log = cappedLog;
    const end = listEnd[p]!;
    let logged = cappedCount;
    for (let i = approverStart[p]!; i < end; i++) {
      const g = groups[i]!;
      const m = money[g]!;
      if (m === 0) continue;
      const w = weights[i]!;
      if (exact ? moneyAt(g, round) * exact.u <= exact.x : m < rhoF) {
        money[g] = 0;
        capped[g] = round;
        log[logged++] = g;
        payingAll += w;
      } else {
        const left = m - rhoF;
        money[g] = left;
        // Only where the payment was exact: the money left is positive, but its double may not be.
        if (!(left > 0)) fixLater.push(g);
        payingInFull += w;
      }
    }
    cappedCount = logged;
    cappedWeight += payingAll;
    cappedFrom.push(cappedCount);
    roundU.push(exact ? exact.u : BigInt(payingInFull));
    roundX.push(exact?.x);
    scale.push(scale[round]! * roundU[round]!);
    errM += errRho + 2 * EPS * b0F;
    winners.push(p);
    roundOf[p] = round;
    removed[p] = 1;
    spentN += costN0[p]!;
    for (const g of fixLater) mF[g] = qToNumber(toQ(moneyAt(g, round + 1), round + 1));
    fixLater.length = 0;
    if (trace) {
      const level = winners.length;
      const num = (units: bigint) => Number(qToFixed(toQ(units, level), 2));
      trace({
        round: level,
        project: inst.ids[p]!,
        cost: cost[p]!,
        payment: num(roundPayment(round)),
        payingInFull,
        payingAllTheyHad: payingAll,
        votersWithMoney: n - cappedWeight,
        moneyLeft: Number(qToFixed({ n: b0Q.n * (D0 / b0Q.d) * BigInt(n) - spentN, d: D0 }, 2)),
        ...extremes(level),
        perVoterBudget: Number(qToFixed(b0Q, 2)),
      });
    }
  }

  /** The least and the most money a voter has left after `level` rounds, exactly (for explanations). */
  function extremes(level: number): { minLeft: number; maxLeft: number } {
    // Voters with an empty ballot never pay: they keep b0.
    let grouped = 0;
    for (let g = 0; g < G; g++) grouped += weight[g]!;
    const b0 = grouped < n ? nodeMoney[0]! * scale[level]! : undefined;
    let minF = Infinity;
    let maxF = -Infinity;
    for (let g = 0; g < G; g++) {
      if (cappedAt[g]! >= 0) continue;
      if (mF[g]! < minF) minF = mF[g]!;
      if (mF[g]! > maxF) maxF = mF[g]!;
    }
    let min = cappedWeight > 0 ? 0n : b0;
    let max = b0 ?? (cappedWeight > 0 ? 0n : undefined);
    for (let g = 0; g < G; g++) {
      if (cappedAt[g]! >= 0) continue;
      if (cappedWeight === 0 && mF[g]! <= minF + 2 * errM) {
        const m = moneyAt(g, level);
        if (min === undefined || m < min) min = m;
      }
      if (mF[g]! >= maxF - 2 * errM) {
        const m = moneyAt(g, level);
        if (max === undefined || m > max) max = m;
      }
    }
    const num = (units: bigint | undefined) => Number(qToFixed(toQ(units ?? 0n, level), 2));
    return { minLeft: num(min), maxLeft: num(max) };
  }

  if (onDone) {
    const position = new Map(inst.ids.map((id, i) => [id, i]));
    const level = winners.length;
    onDone((projectId) => {
      const p = position.get(projectId);
      if (p === undefined) return 0;
      let left = 0n;
      ensureList(p);
      for (let i = approverStart[p]!; i < listEnd[p]!; i++) left += BigInt(listW[i]!) * moneyAt(listG[i]!, level);
      return Number(qToFixed(toQ(left, level), 2));
    });
  }
  return winners;
}

/** The per-voter budget of add1's first step: floor(B / n) + 1. */
export function add1FirstPerVoter(inst: MesInstance, budget: number): bigint {
  const total = qOf(budget);
  return total.n / (total.d * BigInt(inst.voters)) + 1n;
}

/** The add1 outcome kept, with the total budget of the run that gave it. */
interface Add1Outcome {
  winners: number[];
  runBudget: Q;
}

/**
 * The add1 completion's loop, for whoever makes the runs: as Pabulib's checker counts add1 (and so the
 * cities' files, Wieliczka 2023 among them), from floor(B / n) per voter raise by 1 while the outcome
 * still fits the real budget; no stop at an exhaustive outcome (stopping there funds 31 projects in
 * Wieliczka where the official count is 30). It asks for the runs at floor(B / n) + 1, + 2, ... per voter
 * in that order ({@link next}); take() each outcome in that order. Where the reference would loop
 * forever (every eligible project funded), it stops: no larger budget can fund more.
 */
export class Add1Search {
  /** Per-voter budget of the next run the loop needs; undefined once the loop is over. */
  next: bigint | undefined;
  private kept: Add1Outcome;
  private readonly costUnits: bigint[];
  private readonly totalUnits: bigint;

  /** @param first the outcome of the run with the real budget (kept if no add1 step fits). */
  constructor(
    private readonly inst: MesInstance,
    budget: number,
    first: number[],
  ) {
    const total = qOf(budget);
    this.kept = { winners: first, runBudget: total };
    // Costs and the budget as whole numbers of one common unit, so "fits" is an integer sum.
    const unit = (inst.costUnit / gcd(inst.costUnit, total.d)) * total.d;
    this.costUnits = inst.costN.map((c) => c * (unit / inst.costUnit));
    this.totalUnits = total.n * (unit / total.d);
    this.next = this.exhausted(first) ? undefined : add1FirstPerVoter(inst, budget);
  }

  /** The outcome of the run at `next` per voter. */
  take(outcome: number[]): void {
    if (this.next === undefined) throw new RangeError('the add1 loop is over');
    let spent = 0n;
    for (const w of outcome) spent += this.costUnits[w]!;
    if (spent > this.totalUnits) {
      this.next = undefined;
      return;
    }
    this.kept = { winners: outcome, runBudget: { n: this.next * BigInt(this.inst.voters), d: 1n } };
    this.next = this.exhausted(outcome) ? undefined : this.next + 1n;
  }

  get outcome(): Add1Outcome {
    return this.kept;
  }

  private exhausted(outcome: readonly number[]): boolean {
    return outcome.length === this.inst.ids.length;
  }
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
 * the next outcome still fits; keep the last outcome that fits (see {@link Add1Search}).
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
  if (ballots.length === 0) return [];
  const inst = equalSharesInstanceFor(options.memo, projects, ballots);
  const completion = options.completion ?? 'add1';
  const memoKey = `${completion} ${budget}`;
  let kept = options.memo?.get(memoKey) as Add1Outcome | undefined;
  if (!kept) {
    const total = qOf(budget);
    // The run with the real budget is also add1's first: pb:tally counts `equalshares` before it.
    const first = (options.memo?.get(`none ${budget}`) as Add1Outcome | undefined)?.winners ?? mesFixed(inst, total);
    kept = { winners: first, runBudget: total };
    if (completion === 'add1') {
      const search = new Add1Search(inst, budget, first);
      while (search.next !== undefined) search.take(equalSharesRunPerVoter(inst, search.next));
      kept = search.outcome;
    }
    options.memo?.set(memoKey, kept);
  }
  if (options.trace || options.onDone) mesFixed(inst, kept.runBudget, options.trace, options.onDone);
  const mes = kept.winners.map((w) => inst.ids[w]!);
  if ((options.comparison ?? 'none') === 'none') return mes;
  const greedy = greedyForComparison(inst, qOf(budget));
  const prefer = comparisonVotes(inst, mes, greedy);
  options.onComparison?.({ mes, greedy, preferMes: prefer.mes, preferGreedy: prefer.greedy });
  return prefer.greedy > prefer.mes ? greedy : mes;
}

/**
 * Equal Shares with add1 whose runs are made by `runsFrom` (pb:tally runs them on worker threads): the
 * outcome is kept in `memo`, where {@link methodOfEqualShares} (and {@link budgetOutcome}) with that memo
 * find it. `runsFrom(inst, k)` yields the outcomes of {@link equalSharesRunPerVoter} at k, k + 1, ...
 * per voter, in order; the loop stops reading at the first that does not fit (it may have run ahead).
 */
export async function equalSharesAdd1With(
  memo: MesMemo,
  projects: readonly BudgetProject[],
  ballots: readonly (readonly string[])[],
  budget: number,
  runsFrom: (inst: MesInstance, perVoter: bigint) => AsyncIterable<number[]>,
): Promise<void> {
  checkProjects(projects);
  checkAmount('budget', budget);
  if (ballots.length === 0 || memo.has(`add1 ${budget}`)) return;
  const inst = equalSharesInstanceFor(memo, projects, ballots);
  let first = (memo.get(`none ${budget}`) as Add1Outcome | undefined)?.winners;
  if (!first) {
    first = mesFixed(inst, qOf(budget));
    memo.set(`none ${budget}`, { winners: first, runBudget: qOf(budget) });
  }
  const search = new Add1Search(inst, budget, first);
  if (search.next !== undefined) {
    for await (const outcome of runsFrom(inst, search.next)) {
      search.take(outcome);
      if (search.next === undefined) break;
    }
  }
  if (search.next !== undefined) throw new RangeError('the runs ended before the add1 loop did');
  memo.set(`add1 ${budget}`, search.outcome);
}

/**
 * The election's prepared ballots, kept in `memo` for every Equal Shares rule counted with it (built once
 * per election; rebuilt if the projects or ballots differ from those it was built for).
 */
export function equalSharesInstanceFor(memo: MesMemo | undefined, projects: readonly BudgetProject[], ballots: readonly (readonly string[])[]): MesInstance {
  const known = memo?.get('instance') as { projects: readonly BudgetProject[]; ballots: readonly (readonly string[])[]; inst: MesInstance } | undefined;
  const same =
    known !== undefined &&
    known.ballots === ballots &&
    known.projects.length === projects.length &&
    known.projects.every((p, i) => p.id === projects[i]!.id && p.cost === projects[i]!.cost);
  if (same) return known.inst;
  const inst = equalSharesInstance(projects, ballots);
  memo?.set('instance', { projects: projects.map((p) => ({ ...p })), ballots, inst });
  return inst;
}

/**
 * The greedy outcome Equal Shares is compared with (equalshares.net's `utilitarianCompletion` from
 * nothing): every project in order of approvals, most first, ties in the order given (the file's),
 * each funded if it fits in what is left.
 */
function greedyForComparison(inst: MesInstance, total: Q): string[] {
  const order = inst.projectIds.map((_, i) => i).sort((a, b) => inst.approvals[b]! - inst.approvals[a]! || a - b);
  let left = total;
  const out: string[] = [];
  for (const i of order) {
    const c = qOf(inst.projectCost[i]!);
    if (qCmp(c, left) <= 0) {
      out.push(inst.projectIds[i]!);
      left = qSub(left, c);
    }
  }
  return out;
}

/**
 * The comparison step: each voter's satisfaction with an outcome is the number of its projects they
 * approve; count the voters who are more satisfied with each outcome.
 */
function comparisonVotes(inst: MesInstance, mes: readonly string[], greedy: readonly string[]): { mes: number; greedy: number } {
  const index = new Map(inst.projectIds.map((id, i) => [id, i]));
  const inMes = new Uint8Array(inst.projectIds.length);
  const inGreedy = new Uint8Array(inst.projectIds.length);
  for (const id of mes) inMes[index.get(id)!] = 1;
  for (const id of greedy) inGreedy[index.get(id)!] = 1;
  let preferMes = 0;
  let preferGreedy = 0;
  for (let g = 0; g < inst.weight.length; g++) {
    let a = 0;
    let b = 0;
    for (let k = inst.ballotStart[g]!; k < inst.ballotStart[g + 1]!; k++) {
      a += inMes[inst.ballotProjects[k]!]!;
      b += inGreedy[inst.ballotProjects[k]!]!;
    }
    if (a > b) preferMes += inst.weight[g]!;
    else if (b > a) preferGreedy += inst.weight[g]!;
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
  // Per project, its count and the last ballot that counted it (a project twice on one ballot counts
  // once, with no Set per ballot): one map lookup per approval.
  const tally = new Map<string, { count: number; lastBallot: number }>();
  for (let b = 0; b < ballots.length; b++) {
    for (const id of ballots[b]!) {
      const t = tally.get(id);
      if (t === undefined) tally.set(id, { count: 1, lastBallot: b });
      else if (t.lastBallot !== b) {
        t.count++;
        t.lastBallot = b;
      }
    }
  }
  const approvals = new Map<string, number>();
  for (const [id, t] of tally) approvals.set(id, t.count);
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
