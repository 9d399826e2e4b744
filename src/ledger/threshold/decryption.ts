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
import { toHex } from '../bytes.ts';
import {
  encodedMultiply,
  G,
  hashFields,
  hashToScalar,
  invert,
  mod,
  msm128,
  mulPublic,
  Point,
  pointBytes,
  pointFromBytes,
  pointFromHex,
  pointHexBytes,
  randomScalar,
  scalarBytes,
  scalarFromHex,
  scalarToHex,
  webRandom,
  type RandomBytes,
} from './group.ts';
import { THRESHOLD } from './vss.ts';
import { encodeRistretto, smallCombination } from './decode.ts';

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

/**
 * A batch's items decoded once: the ephemerals' bytes (hashed as given: they are canonical, or decoding
 * refused them) and points. Every node's batch for the same items is checked against one of these.
 */
export interface PreparedItems {
  items: readonly SealedItem[];
  bytes: Uint8Array[];
  points: Point[];
}

export function prepareItems(items: readonly SealedItem[]): PreparedItems {
  const bytes = items.map((it, j) => pointHexBytes(it.ephemeral, `ephemeral of ballot ${j}`));
  return { items, bytes, points: bytes.map((b, j) => pointFromBytes(b, `ephemeral of ballot ${j}`)) };
}

interface Statement {
  keyId: string;
  pollId: string;
  node: number;
  batch: number;
  verificationKey: Uint8Array;
  items: readonly SealedItem[];
  /** Canonical encodings of R_j and D_ij. */
  ephemerals: readonly Uint8Array[];
  shares: readonly Uint8Array[];
}

function statementDigest(s: Statement): Uint8Array {
  const fields: (Uint8Array | string)[] = [pointBytes(G), s.keyId, s.pollId, String(s.node), String(s.batch), s.verificationKey, String(s.items.length)];
  s.items.forEach((item, j) => fields.push(item.eventId, s.ephemerals[j]!, s.shares[j]!));
  return hashFields('decryption-statement', fields);
}

/**
 * The weights ρ_j from the statement digest. They are 128 bits (small-exponent batching,
 * Bellare-Garay-Rabin: a wrong share passes with probability 2^-128), so the sums M = Σ ρ_j R_j and
 * Z = Σ ρ_j D_ij are 128-bit multi-scalar multiplications (msm128), a few dozen additions per point.
 */
const weightsOf = (digest: Uint8Array, n: number): bigint[] =>
  Array.from({ length: n }, (_, j) => hashToScalar('decryption-weight', [digest, String(j)]) & WEIGHT_MASK || 1n);
const WEIGHT_MASK = (1n << 128n) - 1n;

const challenge = (digest: Uint8Array, m: Point, z: Point, a: Point, b: Point): bigint =>
  hashToScalar('decryption-challenge', [digest, pointBytes(m), pointBytes(z), pointBytes(a), pointBytes(b)]);

/**
 * Node `node` (secret share x_i, verification key Y_i = x_i G) makes its shares for a batch. The
 * secret only ever multiplies with constant-time multiplication (libsodium's when installed, else
 * noble's); every proof nonce is fresh. Z = x_i M costs one multiplication instead of a sum over the
 * shares: it equals Σ ρ_j D_ij because every D_ij = x_i R_j.
 */
export function makeShareBatch(
  secretShare: bigint,
  ctx: { keyId: string; pollId: string; node: number; batch: number },
  items: readonly SealedItem[] | PreparedItems,
  random: RandomBytes = webRandom,
): ShareBatch {
  const prepared = 'points' in items ? items : prepareItems(items);
  const fast = encodedMultiply();
  const x = scalarBytes(secretShare);
  const shares = fast ? prepared.bytes.map((r) => fast(x, r)) : prepared.points.map((r) => r.multiply(secretShare).toBytes());
  const verificationKey = G.multiply(secretShare);
  const digest = statementDigest({ ...ctx, verificationKey: verificationKey.toBytes(), items: prepared.items, ephemerals: prepared.bytes, shares });
  const m = msm128(prepared.points, weightsOf(digest, shares.length));
  const z = m.is0() ? Point.ZERO : m.multiply(secretShare);
  const w = randomScalar(random);
  const a = G.multiply(w);
  const b = m.is0() ? Point.ZERO : m.multiply(w);
  const c = challenge(digest, m, z, a, b);
  return { ...ctx, shares: shares.map(toHex), proof: { c: scalarToHex(c), z: scalarToHex(mod(w + c * secretShare)) } };
}

/**
 * The decoded shares of a batch if it is correct for the prepared items under the node's verification
 * key, else null. Never throws: anything malformed is simply not a valid batch. The caller names the
 * node (`batch.node`).
 */
export function checkShareBatch(batch: ShareBatch, verificationKey: string, prepared: PreparedItems): Point[] | null {
  try {
    if (!Array.isArray(batch.shares) || batch.shares.length !== prepared.items.length) return null;
    const yBytes = pointHexBytes(verificationKey);
    const y = pointFromBytes(yBytes);
    const shareBytes = batch.shares.map((d) => pointHexBytes(d));
    const shares = shareBytes.map((d) => pointFromBytes(d));
    const digest = statementDigest({ keyId: batch.keyId, pollId: batch.pollId, node: batch.node, batch: batch.batch, verificationKey: yBytes, items: prepared.items, ephemerals: prepared.bytes, shares: shareBytes });
    const weights = weightsOf(digest, shares.length);
    const m = msm128(prepared.points, weights);
    const z = msm128(shares, weights);
    const c = scalarFromHex(batch.proof.c);
    const s = scalarFromHex(batch.proof.z);
    // A = sG - cY and B = sM - cZ are what the prover committed to if the statement holds.
    const a = mulPublic(G, s).subtract(mulPublic(y, c));
    const b = mulPublic(m, s).subtract(mulPublic(z, c));
    return challenge(digest, m, z, a, b) === c ? shares : null;
  } catch {
    return null;
  }
}

/** Whether a batch of shares is correct for `items` under node's verification key. Never throws. */
export function verifyShareBatch(batch: ShareBatch, verificationKey: string, items: readonly SealedItem[] | PreparedItems): boolean {
  let prepared: PreparedItems;
  try {
    prepared = 'points' in items ? items : prepareItems(items);
  } catch {
    return false;
  }
  return checkShareBatch(batch, verificationKey, prepared) !== null;
}

/**
 * The Lagrange coefficients at 0 as small integers c_i over one common denominator L (reduced: for
 * nodes {1,2,3}, {1,3,4} and {2,3,4} the coefficients are integers and L = 1), and L^-1 mod q.
 */
function smallLagrange(nodes: readonly number[]): { coefficients: bigint[]; denominator: bigint; inverse: bigint } {
  const gcd = (a: bigint, b: bigint): bigint => (b === 0n ? (a < 0n ? -a : a) : gcd(b, a % b));
  const parts = nodes.map((i) => {
    let num = 1n;
    let den = 1n;
    for (const k of nodes) {
      if (k === i) continue;
      num *= BigInt(k);
      den *= BigInt(k - i);
    }
    const g = gcd(num, den);
    return { num: num / g, den: den / g };
  });
  const l = parts.reduce((acc, p) => {
    const d = p.den < 0n ? -p.den : p.den;
    return (acc * d) / gcd(acc, d);
  }, 1n);
  return { coefficients: parts.map((p) => (p.num * l) / p.den), denominator: l, inverse: invert(l) };
}

/**
 * K_j = Σ λ_i D_ij (encoded) from exactly THRESHOLD nodes' decoded shares, `shares[n][j]` the share of
 * node `nodes[n]` for ballot j. With L the common denominator of the Lagrange coefficients, L λ_i are
 * small integers, so L K_j = Σ (L λ_i) D_ij costs a few additions; K_j needs one multiplication by L^-1
 * (through the installed fast multiplication when there is one) only when L is not 1.
 */
export function combineDecodedShares(nodes: readonly number[], shares: readonly (readonly Point[])[]): Uint8Array[] {
  if (nodes.length !== THRESHOLD || new Set(nodes).size !== THRESHOLD || shares.length !== THRESHOLD) throw new RangeError(`opening needs shares from ${THRESHOLD} distinct nodes`);
  const count = shares[0]!.length;
  if (shares.some((s) => s.length !== count)) throw new RangeError('the share batches cover different ballots');
  const scaled = smallLagrange(nodes);
  const fast = encodedMultiply();
  const inverse = scalarBytes(scaled.inverse);
  const out: Uint8Array[] = [];
  for (let j = 0; j < count; j++) {
    const k = smallCombination(
      shares.map((s) => s[j]!),
      scaled.coefficients,
    );
    if (scaled.denominator === 1n) out.push(encodeRistretto(k));
    else out.push(fast && !k.is0() ? fast(inverse, encodeRistretto(k)) : mulPublic(k, scaled.inverse).toBytes());
  }
  return out;
}

/**
 * K_j = Σ λ_i D_ij over exactly THRESHOLD batches of distinct nodes (the first THRESHOLD given), as
 * points. Throws RangeError with fewer. (The opening path uses combineDecodedShares on the shares its
 * check already decoded.)
 */
export function combineShares(batches: readonly ShareBatch[]): Point[] {
  const chosen = batches.slice(0, THRESHOLD);
  const nodes = chosen.map((b) => b.node);
  if (chosen.length < THRESHOLD || new Set(nodes).size !== THRESHOLD) throw new RangeError(`opening needs shares from ${THRESHOLD} distinct nodes`);
  const count = chosen[0]!.shares.length;
  if (chosen.some((b) => b.shares.length !== count)) throw new RangeError('the share batches cover different ballots');
  return combineDecodedShares(nodes, chosen.map((b) => b.shares.map((d) => pointFromHex(d)))).map((k) => Point.fromBytes(k));
}
