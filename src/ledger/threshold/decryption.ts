/**
 * Threshold decryption of sealed ballots without ever forming the joint secret: node i publishes
 * D_ij = x_i R_j for each ballot j, any 3 nodes' shares combine with Lagrange coefficients into
 * K_j = Σ λ_i D_ij = x R_j, which opens the ballot (seal.ts).
 *
 * Each batch of shares carries one Chaum-Pedersen proof that log_G(Y_i) = log_{R_j}(D_ij) for every j
 * of the batch at once, batched as in RFC 9497 (VOPRF, "ComputeComposites"): weights ρ_j derived from a
 * hash of the whole statement give M = Σ ρ_j R_j and Z = Σ ρ_j D_ij, and one proof of
 * log_G(Y_i) = log_M(Z) stands for all of them (a single wrong D_ij makes it fail except with
 * probability 1/q). The Fiat-Shamir challenge hashes the whole statement: the group generator, the
 * node's verification key, the key id, poll, node number, batch number, every ballot id, R_j and D_ij,
 * and the prover's commitments (Bernhard-Pereira-Warinschi's "strong" Fiat-Shamir).
 */
import {
  G,
  hashFields,
  hashToScalar,
  invert,
  mod,
  mulPublic,
  Point,
  pointBytes,
  pointFromHex,
  pointToHex,
  randomScalar,
  scalarFromHex,
  scalarToHex,
  webRandom,
  type RandomBytes,
} from './group.ts';
import { THRESHOLD } from './vss.ts';
import { pippenger } from '@noble/curves/abstract/curve.js';

/** One ballot to open: its id and the ephemeral R of its encapsulation. */
export interface SealedItem {
  eventId: string;
  ephemeral: string;
}

/** Node `node`'s decryption shares for one batch of a poll's ballots, with their proof. */
export interface ShareBatch {
  keyId: string;
  pollId: string;
  node: number;
  batch: number;
  /** D_ij hex, in the order of the batch's items. */
  shares: string[];
  proof: { c: string; z: string };
}

interface Statement {
  keyId: string;
  pollId: string;
  node: number;
  batch: number;
  verificationKey: Point;
  items: readonly SealedItem[];
  ephemerals: readonly Point[];
  shares: readonly Point[];
}

function statementDigest(s: Statement): Uint8Array {
  const fields: (Uint8Array | string)[] = [pointBytes(G), s.keyId, s.pollId, String(s.node), String(s.batch), pointBytes(s.verificationKey), String(s.items.length)];
  s.items.forEach((item, j) => fields.push(item.eventId, pointBytes(s.ephemerals[j]!), pointBytes(s.shares[j]!)));
  return hashFields('decryption-statement', fields);
}

/**
 * M = Σ ρ_j R_j and Z = Σ ρ_j D_ij with ρ_j from the statement digest. The weights are 128 bits (small-
 * exponent batching, Bellare-Garay-Rabin: a wrong share passes with probability 2^-128) and the sums
 * are multi-scalar multiplications (Pippenger, from @noble/curves), several times faster than one
 * multiplication per point.
 */
function composites(digest: Uint8Array, ephemerals: readonly Point[], shares: readonly Point[]): { m: Point; z: Point } {
  if (ephemerals.length === 0) return { m: Point.ZERO, z: Point.ZERO };
  const weights = ephemerals.map((_, j) => hashToScalar('decryption-weight', [digest, String(j)]) & WEIGHT_MASK || 1n);
  return { m: pippenger(Point, [...ephemerals], weights), z: pippenger(Point, [...shares], weights) };
}
const WEIGHT_MASK = (1n << 128n) - 1n;

const challenge = (digest: Uint8Array, m: Point, z: Point, a: Point, b: Point): bigint =>
  hashToScalar('decryption-challenge', [digest, pointBytes(m), pointBytes(z), pointBytes(a), pointBytes(b)]);

/**
 * Node `node` (secret share x_i, verification key Y_i = x_i G) makes its shares for a batch. The
 * secret only ever multiplies with constant-time multiplication; every proof nonce is fresh.
 */
export function makeShareBatch(
  secretShare: bigint,
  ctx: { keyId: string; pollId: string; node: number; batch: number },
  items: readonly SealedItem[],
  random: RandomBytes = webRandom,
): ShareBatch {
  const ephemerals = items.map((it, j) => pointFromHex(it.ephemeral, `ephemeral of ballot ${j}`));
  const shares = ephemerals.map((r) => r.multiply(secretShare));
  const verificationKey = G.multiply(secretShare);
  const digest = statementDigest({ ...ctx, verificationKey, items, ephemerals, shares });
  const { m, z } = composites(digest, ephemerals, shares);
  const w = randomScalar(random);
  const a = G.multiply(w);
  const b = m.is0() ? Point.ZERO : m.multiply(w);
  const c = challenge(digest, m, z, a, b);
  return { ...ctx, shares: shares.map(pointToHex), proof: { c: scalarToHex(c), z: scalarToHex(mod(w + c * secretShare)) } };
}

/**
 * Whether a batch of shares is correct for `items` under node's verification key. Never throws:
 * anything malformed is simply not a valid batch. The caller names the node (`batch.node`).
 */
export function verifyShareBatch(batch: ShareBatch, verificationKey: string, items: readonly SealedItem[]): boolean {
  try {
    if (!Array.isArray(batch.shares) || batch.shares.length !== items.length) return false;
    const y = pointFromHex(verificationKey);
    const ephemerals = items.map((it) => pointFromHex(it.ephemeral));
    const shares = batch.shares.map((d) => pointFromHex(d));
    const digest = statementDigest({ keyId: batch.keyId, pollId: batch.pollId, node: batch.node, batch: batch.batch, verificationKey: y, items, ephemerals, shares });
    const { m, z } = composites(digest, ephemerals, shares);
    const c = scalarFromHex(batch.proof.c);
    const s = scalarFromHex(batch.proof.z);
    // A = sG - cY and B = sM - cZ are what the prover committed to if the statement holds.
    const a = mulPublic(G, s).subtract(mulPublic(y, c));
    const b = mulPublic(m, s).subtract(mulPublic(z, c));
    return challenge(digest, m, z, a, b) === c;
  } catch {
    return false;
  }
}

/** Integer Lagrange numerators scaled by the product L of the denominators, and L^-1 mod q. */
function smallLagrange(nodes: readonly number[]): { coefficients: bigint[]; inverse: bigint } {
  const parts = nodes.map((i) => {
    let num = 1n;
    let den = 1n;
    for (const k of nodes) {
      if (k === i) continue;
      num *= BigInt(k);
      den *= BigInt(k - i);
    }
    return { num, den };
  });
  const l = parts.reduce((acc, p) => acc * (p.den < 0n ? -p.den : p.den), 1n);
  return { coefficients: parts.map((p) => (p.num * l) / p.den), inverse: invert(l) };
}

/**
 * K_j = Σ λ_i D_ij over exactly THRESHOLD verified batches of distinct nodes (the first THRESHOLD given).
 * Throws RangeError with fewer.
 */
export function combineShares(batches: readonly ShareBatch[]): Point[] {
  const chosen = batches.slice(0, THRESHOLD);
  const nodes = chosen.map((b) => b.node);
  if (chosen.length < THRESHOLD || new Set(nodes).size !== THRESHOLD) throw new RangeError(`opening needs shares from ${THRESHOLD} distinct nodes`);
  const count = chosen[0]!.shares.length;
  if (chosen.some((b) => b.shares.length !== count)) throw new RangeError('the share batches cover different ballots');
  // λ_i = num_i / den_i with small integers: with L the product of the denominators, L λ_i are small
  // integers, so L K_j = Σ (L λ_i) D_ij costs a few additions and K_j needs one full multiplication by
  // L^-1 (instead of three full ones).
  const scaled = smallLagrange(nodes);
  const out: Point[] = [];
  for (let j = 0; j < count; j++) {
    let k = Point.ZERO;
    chosen.forEach((b, n) => {
      const c = scaled.coefficients[n]!;
      const d = pointFromHex(b.shares[j]);
      const term = c === 0n ? Point.ZERO : d.multiplyUnsafe(c < 0n ? -c : c);
      k = c < 0n ? k.subtract(term) : k.add(term);
    });
    out.push(mulPublic(k, scaled.inverse));
  }
  return out;
}
