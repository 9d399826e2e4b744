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
