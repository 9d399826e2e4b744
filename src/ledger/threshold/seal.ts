/**
 * Sealed ballots: the choices committed to and encrypted to the nodes' joint key, so nobody (the app,
 * its database, one or two nodes) can read them until 3 nodes open them at close.
 *
 * - commitment = H("ballot-commitment", keyId, pollId, voterTag, ballotId, nonce, choices): the public
 *   promise of what the ballot says, bound to its poll and voter tag;
 * - ciphertext = ChaCha20-Poly1305 under a key encapsulated to the joint key (hybrid.ts), plaintext
 *   nonce || canonical JSON of the choices, associated data binding the same context and the commitment.
 *
 * A sealed ballot copied into another voter's entry, another poll or another re-vote does not open
 * there: both the associated data and the commitment name poll, voter tag and ballot id.
 */
import { canonicalJsonBytes } from '../canonicalJson.ts';
import { base64Length, bytesEqual, concatBytes, fromBase64, fromHex, fromUtf8, isLowerHex, toBase64, toHex } from '../bytes.ts';
import type { BallotSelections } from '../../domain/pollDefinition.ts';
import { checkPointHex, encodedMultiply, G, hash32, pointFromHex, pointHexBytes, pointToHex, randomScalar, scalarBytes, webRandom, type Point, type RandomBytes } from './group.ts';
import { decryptWithEncoded, encryptTo, encryptWithEncapsulation } from './hybrid.ts';

export interface SealedBallot {
  /** The nodes' key set the ballot is sealed to (PublicKeySet.keyId). */
  keyId: string;
  /** Hex of 32 bytes. */
  commitment: string;
  /** Hex of R = rG. */
  ephemeral: string;
  /** Base64 of the AEAD output. */
  ciphertext: string;
}

/** Where a sealed ballot belongs: it opens only there. */
export interface SealContext {
  pollId: string;
  voterTag: string;
  ballotId: string;
}

const NONCE_BYTES = 32;

export const ballotCommitment = (keyId: string, ctx: SealContext, nonce: Uint8Array, choices: Uint8Array): string =>
  toHex(hash32('ballot-commitment', [keyId, ctx.pollId, ctx.voterTag, ctx.ballotId, nonce, choices]));

const sealAad = (keyId: string, ctx: SealContext, commitment: string): Uint8Array =>
  hash32('ballot-aad', [keyId, ctx.pollId, ctx.voterTag, ctx.ballotId, commitment]);

/**
 * The joint key decoded once and with a precomputed table: every sealed ballot multiplies it, and the
 * table makes that several times faster (a handful of keys over a process's life).
 */
const jointPoints = new Map<string, Point>();
function jointKeyPoint(hex: string): Point {
  let p = jointPoints.get(hex);
  if (!p) {
    p = pointFromHex(hex, 'the joint key').precompute(8, false);
    if (jointPoints.size > 16) jointPoints.clear();
    jointPoints.set(hex, p);
  }
  return p;
}

/** The joint key's encoding, checked canonical once per key. */
const jointEncodings = new Map<string, Uint8Array>();
function jointKeyBytes(hex: string): Uint8Array {
  let b = jointEncodings.get(hex);
  if (!b) {
    b = pointFromHex(hex, 'the joint key').toBytes();
    if (jointEncodings.size > 16) jointEncodings.clear();
    jointEncodings.set(hex, b);
  }
  return b;
}

/** An ElGamal encapsulation to a joint key made ahead of time: R = rG and K = rY, encoded. Used once. */
export interface Encapsulation {
  ephemeral: Uint8Array;
  shared: Uint8Array;
}

/** Per joint key (hex), where ready-made encapsulations come from (encapsulationPool.ts, server only). */
const encapsulationSources = new Map<string, () => Encapsulation | null>();
export const installEncapsulations = (jointKey: string, take: (() => Encapsulation | null) | null): void => {
  if (take) encapsulationSources.set(jointKey, take);
  else encapsulationSources.delete(jointKey);
};

/** A fresh encapsulation made here: libsodium's multiplication when installed (no re-encoding), else noble's. */
function encapsulateNow(jointKey: string, random: RandomBytes): Encapsulation | null {
  const fast = encodedMultiply();
  if (!fast) return null;
  const r = scalarBytes(randomScalar(random));
  return { ephemeral: fast(r, BASE_BYTES), shared: fast(r, jointKeyBytes(jointKey)) };
}
const BASE_BYTES = G.toBytes();

/**
 * Ballot nonces drawn 64 at a time: one Web Crypto call per 64 sealed ballots instead of one each (a
 * Web Crypto call cost ~4 µs, an eighth of sealing). A nonce is copied out and its slot wiped when taken;
 * the ones not taken yet are as secret as the encapsulations made ahead, and held alike
 * (docs/THREAT_MODEL.md).
 */
const NONCES_PER_DRAW = 64;
let nonceStock: Uint8Array = new Uint8Array(0);
let nonceAt = 0;
function freshNonce(): Uint8Array {
  if (nonceAt === nonceStock.length) {
    nonceStock = webRandom(NONCE_BYTES * NONCES_PER_DRAW);
    nonceAt = 0;
  }
  const nonce = nonceStock.slice(nonceAt, nonceAt + NONCE_BYTES);
  nonceStock.fill(0, nonceAt, nonceAt + NONCE_BYTES);
  nonceAt += NONCE_BYTES;
  return nonce;
}

export function sealSelections(
  key: { keyId: string; jointKey: string },
  ctx: SealContext,
  selections: BallotSelections,
  random?: RandomBytes,
): SealedBallot {
  const choices = canonicalJsonBytes(selections);
  const nonce = random ? random(NONCE_BYTES) : freshNonce();
  const commitment = ballotCommitment(key.keyId, ctx, nonce, choices);
  const plaintext = concatBytes(nonce, choices);
  const aad = sealAad(key.keyId, ctx, commitment);
  // A caller giving its own randomness (tests of what a repeated nonce does) gets exactly that.
  const ready = random ? null : (encapsulationSources.get(key.jointKey)?.() ?? encapsulateNow(key.jointKey, webRandom));
  if (ready) {
    const ciphertext = encryptWithEncapsulation(jointKeyBytes(key.jointKey), ready.ephemeral, ready.shared, plaintext, aad);
    return { keyId: key.keyId, commitment, ephemeral: toHex(ready.ephemeral), ciphertext: toBase64(ciphertext) };
  }
  const box = encryptTo(jointKeyPoint(key.jointKey), plaintext, aad, random ?? webRandom);
  return { keyId: key.keyId, commitment, ephemeral: pointToHex(box.ephemeral), ciphertext: toBase64(box.ciphertext) };
}

/**
 * Why `value` is not a well-formed sealed ballot, or undefined. Shape only: nodes check this before close.
 * `decode: false` skips decoding the ephemeral (for entries already checked with it, e.g. parsed by
 * parseEntryText: the opening decodes every ephemeral again anyway, and refuses a batch it cannot).
 */
export function sealedBallotProblem(value: unknown, options: { decode?: boolean } = {}): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'sealed must be an object';
  const s = value as Record<string, unknown>;
  const extra = Object.keys(s).filter((k) => !['keyId', 'commitment', 'ephemeral', 'ciphertext'].includes(k));
  if (extra.length > 0) return `sealed has unexpected fields: ${extra.join(', ')}`;
  if (typeof s.keyId !== 'string' || !isLowerHex(s.keyId, 32)) return 'sealed keyId must be 16 bytes of hex';
  if (typeof s.commitment !== 'string' || !isLowerHex(s.commitment, 64)) return 'sealed commitment must be 32 bytes of hex';
  try {
    if (options.decode === false) pointHexBytes(s.ephemeral, 'sealed ephemeral');
    else checkPointHex(s.ephemeral, 'sealed ephemeral');
  } catch (e) {
    return (e as Error).message;
  }
  const boxLength = typeof s.ciphertext === 'string' ? base64Length(s.ciphertext) : null;
  // nonce (32) + at least "{}"-sized choices + the 16-byte tag
  if (boxLength === null || boxLength < NONCE_BYTES + 2 + 16) return 'sealed ciphertext must be base64 of an AEAD box';
  return undefined;
}

/** An opened ballot as published: its choices and the nonce that make its commitment. */
export interface Opening {
  selections: BallotSelections;
  nonce: string;
}

/**
 * Opens a sealed ballot with the combined shared point K = x R. Null when it does not open (a
 * ciphertext that is not the nodes', or copied from elsewhere) or its contents do not match its
 * commitment: such a ballot is published as unopenable and not counted.
 */
export function openSealed(jointKey: string, ctx: SealContext, sealed: SealedBallot, shared: Point | Uint8Array, checkedEphemeral?: Uint8Array): Opening | null {
  const ciphertext = fromBase64(sealed.ciphertext);
  if (!ciphertext) return null;
  // The opening passes the ephemeral's bytes it has already decoded (so checked canonical) and K encoded.
  const ephemeral = checkedEphemeral ?? pointFromHex(sealed.ephemeral).toBytes();
  const sharedBytes = shared instanceof Uint8Array ? shared : shared.toBytes();
  const plain = decryptWithEncoded(jointKeyBytes(jointKey), ephemeral, sharedBytes, ciphertext, sealAad(sealed.keyId, ctx, sealed.commitment));
  if (!plain || plain.length < NONCE_BYTES) return null;
  const nonce = plain.slice(0, NONCE_BYTES);
  const choices = plain.slice(NONCE_BYTES);
  if (ballotCommitment(sealed.keyId, ctx, nonce, choices) !== sealed.commitment) return null;
  let selections: BallotSelections;
  try {
    selections = JSON.parse(fromUtf8(choices)) as BallotSelections;
  } catch {
    return null;
  }
  // Only the canonical form was ever committed to.
  if (!bytesEqual(canonicalJsonBytes(selections), choices)) return null;
  return { selections, nonce: toHex(nonce) };
}

/** Whether a published opening matches the commitment it claims to open (no decryption needed). */
export function openingMatches(sealed: SealedBallot, ctx: SealContext, opening: Opening): boolean {
  const nonce = typeof opening.nonce === 'string' && isLowerHex(opening.nonce, 64) ? fromHex(opening.nonce) : null;
  if (!nonce) return false;
  try {
    return ballotCommitment(sealed.keyId, ctx, nonce, canonicalJsonBytes(opening.selections)) === sealed.commitment;
  } catch {
    return false;
  }
}
