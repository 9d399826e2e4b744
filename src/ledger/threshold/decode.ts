/**
 * ristretto255 decoding (RFC 9496 §4.3.1) with a faster field squaring than the generic one: the
 * inverse square root at its heart is ~250 squarings modulo p = 2^255 - 19, and folding the high half
 * back with ×19 (2^255 ≡ 19) costs half of BigInt's `%`. The opening decodes four points per ballot
 * (its ephemeral and three nodes' shares), so this halves the largest part of the opener's work.
 * Same answers as @noble/curves' `fromBytes` (threshold.spec compares them on valid and invalid
 * encodings); the point it returns is noble's own.
 */
import { ed25519, ristretto255 } from '@noble/curves/ed25519.js';

const P = (1n << 255n) - 19n;
const LOW = (1n << 255n) - 1n;
const D = 0x52036cee2b6ffe738cc740797779e89800700a4d4141d8ab75eb4dca135978a3n;
const SQRT_M1 = 19681161376707505956807079304988542015446066515923890162744021073123829784752n;

const mod = (a: bigint): bigint => {
  const r = a % P;
  return r < 0n ? r + P : r;
};
/** a·b reduced to below 2^256 (not fully): inputs below 2^256. */
const fold = (t: bigint): bigint => {
  t = (t & LOW) + 19n * (t >> 255n);
  return (t & LOW) + 19n * (t >> 255n);
};
const mul = (a: bigint, b: bigint): bigint => fold(a * b);
const sqrN = (a: bigint, n: number): bigint => {
  for (let i = 0; i < n; i++) a = fold(a * a);
  return a;
};

/** x^((p-5)/8) = x^(2^252 - 3), the addition chain of ref10. */
function pow22523(x: bigint): bigint {
  const b2 = mul(fold(x * x), x); // x^3
  const b4 = mul(sqrN(b2, 2), b2); // x^15
  const b5 = mul(sqrN(b4, 1), x); // x^31
  const b10 = mul(sqrN(b5, 5), b5);
  const b20 = mul(sqrN(b10, 10), b10);
  const b40 = mul(sqrN(b20, 20), b20);
  const b80 = mul(sqrN(b40, 40), b40);
  const b160 = mul(sqrN(b80, 80), b80);
  const b240 = mul(sqrN(b160, 80), b80);
  const b250 = mul(sqrN(b240, 10), b10);
  return mod(mul(sqrN(b250, 2), x));
}

/** SQRT_RATIO_M1(1, v): { isValid, value } with value the non-negative root of 1/v (or of i/v). */
function invSqrt(v: bigint): { isValid: boolean; value: bigint } {
  const u = 1n;
  const v3 = mod(v * v * v);
  const v7 = mod(v3 * v3 * v);
  const pow = pow22523(mod(u * v7));
  let x = mod(u * v3 * pow);
  const vx2 = mod(v * x * x);
  const root2 = mod(x * SQRT_M1);
  const useRoot1 = vx2 === u;
  const useRoot2 = vx2 === mod(-u);
  const noRoot = vx2 === mod(-u * SQRT_M1);
  if (useRoot2 || noRoot) x = root2;
  if ((x & 1n) === 1n) x = mod(-x);
  return { isValid: useRoot1 || useRoot2, value: x };
}

/** The point a canonical ristretto255 encoding stands for; throws Error on anything else. */
export function decodeRistretto(bytes: Uint8Array): InstanceType<typeof ristretto255.Point> {
  if (bytes.length !== 32) throw new Error('invalid ristretto255 encoding: 32 bytes expected');
  let s = 0n;
  for (let i = 31; i >= 0; i--) s = (s << 8n) | BigInt(bytes[i]!);
  // Canonical (below p, top bit clear) and non-negative (even).
  if (s >= P || (s & 1n) === 1n) throw new Error('invalid ristretto255 encoding 1');
  const s2 = mod(s * s);
  const u1 = mod(1n - s2); // 1 + a s², a = -1
  const u2 = mod(1n + s2); // 1 - a s²
  const u2sq = mod(u2 * u2);
  const v = mod(-D * mod(u1 * u1) - u2sq); // a d u1² - u2²
  const { isValid, value: inv } = invSqrt(mod(v * u2sq));
  const dx = mod(inv * u2);
  const dy = mod(inv * dx * v);
  let x = mod(2n * s * dx);
  if ((x & 1n) === 1n) x = mod(-x);
  const y = mod(u1 * dy);
  const t = mod(x * y);
  if (!isValid || (t & 1n) === 1n || y === 0n) throw new Error('invalid ristretto255 encoding 2');
  return new ristretto255.Point(new ed25519.Point(x, y, 1n, t));
}

/**
 * Extended twisted-Edwards coordinates (X, Y, Z, T), a = -1, kept below 2^259 between operations and
 * reduced with `fold`: the same formulas as noble's add (add-2008-hwcd) and double (dbl-2008-hwcd),
 * about twice as fast without its generic `%`. Used only by msm128's sums over public points.
 */
interface Ext {
  X: bigint;
  Y: bigint;
  Z: bigint;
  T: bigint;
}
const P4 = 4n * P;
const P8 = 8n * P;
const ZERO_EXT: Ext = { X: 0n, Y: 1n, Z: 1n, T: 0n };

function addExt(p: Ext, q: Ext): Ext {
  const A = fold(p.X * q.X);
  const B = fold(p.Y * q.Y);
  const C = fold(fold(p.T * D) * q.T);
  const Dd = fold(p.Z * q.Z);
  const E = fold((p.X + p.Y) * (q.X + q.Y)) - A - B + P8;
  const F = Dd - C + P4;
  const G = Dd + C;
  const H = B + A;
  return { X: fold(E * F), Y: fold(G * H), Z: fold(F * G), T: fold(E * H) };
}

function doubleExt(p: Ext): Ext {
  const A = fold(p.X * p.X);
  const B = fold(p.Y * p.Y);
  const C = 2n * fold(p.Z * p.Z);
  const s = p.X + p.Y;
  const E = fold(s * s) - A - B + P8;
  const G = B - A + P4;
  const F = G - C + P8;
  const H = P8 - A - B;
  return { X: fold(E * F), Y: fold(G * H), Z: fold(F * G), T: fold(E * H) };
}

type RistrettoPoint = InstanceType<typeof ristretto255.Point>;
const toExt = (p: RistrettoPoint): Ext => {
  const ep = (p as unknown as { ep: Ext }).ep;
  return { X: ep.X, Y: ep.Y, Z: ep.Z, T: ep.T };
};
const fromExt = (e: Ext): RistrettoPoint => new ristretto255.Point(new ed25519.Point(mod(e.X), mod(e.Y), mod(e.Z), mod(e.T)));

/**
 * Σ s_j P_j for scalars below 2^128: Pippenger's bucket method over the 128 bits only, skipping empty
 * digits, with the window sized to the batch. Public data only (not constant time).
 */
export function msm128Ext(points: readonly RistrettoPoint[], scalars: readonly bigint[]): RistrettoPoint {
  const n = points.length;
  if (n === 0) return ristretto255.Point.ZERO;
  const c = n < 32 ? 3 : n < 256 ? 5 : n < 1024 ? 7 : n < 8192 ? 9 : 11;
  const mask = (1n << BigInt(c)) - 1n;
  const windows = Math.ceil(128 / c);
  const ext = points.map(toExt);
  const digits = scalars.map((s) => {
    if (s < 0n || s >= 1n << 128n) throw new RangeError('msm128 takes scalars below 2^128');
    const d = new Uint16Array(windows);
    for (let w = 0; w < windows; w++) d[w] = Number((s >> BigInt(w * c)) & mask);
    return d;
  });
  const buckets: (Ext | null)[] = new Array(1 << c);
  let sum: Ext | null = null;
  for (let w = windows - 1; w >= 0; w--) {
    if (sum) for (let k = 0; k < c; k++) sum = doubleExt(sum);
    buckets.fill(null);
    for (let j = 0; j < n; j++) {
      const d = digits[j]![w]!;
      if (d !== 0) buckets[d] = buckets[d] ? addExt(buckets[d]!, ext[j]!) : ext[j]!;
    }
    let running: Ext | null = null;
    let windowSum: Ext | null = null;
    for (let b = buckets.length - 1; b > 0; b--) {
      if (buckets[b]) running = running ? addExt(running, buckets[b]!) : buckets[b]!;
      if (running) windowSum = windowSum ? addExt(windowSum, running) : running;
    }
    if (windowSum) sum = sum ? addExt(sum, windowSum) : windowSum;
  }
  return fromExt(sum ?? ZERO_EXT);
}

const INVSQRT_A_MINUS_D = 54469307008909316920995813868745141605393597292927456921205312896311721017578n;

/** The canonical encoding of a point (RFC 9496 §4.3.2), the same bytes as noble's `toBytes`. */
export function encodeRistretto(p: RistrettoPoint): Uint8Array {
  let { X, Y } = toExt(p);
  const { Z, T } = toExt(p);
  X = mod(X);
  Y = mod(Y);
  const u1 = mod((Z + Y) * (Z - Y));
  const u2 = mod(X * Y);
  const { value: invsqrt } = invSqrt(mod(u1 * mod(u2 * u2)));
  const d1 = mod(invsqrt * u1);
  const d2 = mod(invsqrt * u2);
  const zInv = mod(d1 * d2 * T);
  let den: bigint;
  if ((mod(T * zInv) & 1n) === 1n) {
    const x = mod(Y * SQRT_M1);
    Y = mod(X * SQRT_M1);
    X = x;
    den = mod(d1 * INVSQRT_A_MINUS_D);
  } else {
    den = d2;
  }
  if ((mod(X * zInv) & 1n) === 1n) Y = mod(-Y);
  let s = mod((Z - Y) * den);
  if ((s & 1n) === 1n) s = mod(-s);
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) {
    out[i] = Number(s & 0xffn);
    s >>= 8n;
  }
  return out;
}

/** Σ c_i P_i for small signed integer coefficients (Lagrange coefficients), in the fast coordinates. */
export function smallCombination(points: readonly RistrettoPoint[], coefficients: readonly bigint[]): RistrettoPoint {
  let acc = ZERO_EXT;
  points.forEach((p, i) => {
    const c = coefficients[i]!;
    if (c === 0n) return;
    let e = toExt(p);
    if (c < 0n) e = { X: P4 - e.X, Y: e.Y, Z: e.Z, T: P4 - e.T };
    let k = c < 0n ? -c : c;
    let term: Ext | null = null;
    for (let base = e; k > 0n; k >>= 1n, base = doubleExt(base)) if (k & 1n) term = term ? addExt(term, base) : base;
    acc = addExt(acc, term!);
  });
  return fromExt(acc);
}
