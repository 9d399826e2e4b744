/**
 * The prime-order group every threshold structure uses: ristretto255 (RFC 9496) from @noble/curves,
 * with the encodings, domain-separated hashes and randomness the other modules share. Points and
 * scalars travel as lower-case hex of their canonical 32-byte encodings; decoding rejects anything
 * non-canonical, and the identity wherever a key or a ciphertext part is expected.
 *
 * Hand-written on top of the library only where no library does the job: @noble/curves gives the group
 * and FROST signatures, but no Feldman DKG, threshold ElGamal or batched Chaum-Pedersen proof.
 */
import { ristretto255 } from '@noble/curves/ed25519.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { fromHex, isLowerHex, toHex, utf8 } from '../bytes.ts';
import { decodeRistretto, msm128Ext } from './decode.ts';

export const Point = ristretto255.Point;
export type Point = InstanceType<typeof Point>;
export const ORDER = Point.Fn.ORDER;
export const G: Point = Point.BASE;

/** Random bytes: injectable so tests can check what a repeated nonce would do; Web Crypto by default. */
export type RandomBytes = (n: number) => Uint8Array;
export const webRandom: RandomBytes = (n) => globalThis.crypto.getRandomValues(new Uint8Array(n));

export const mod = (a: bigint): bigint => {
  const r = a % ORDER;
  return r < 0n ? r + ORDER : r;
};

function bytesToBigLE(bytes: Uint8Array): bigint {
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]!);
  return v;
}

function bigToBytesLE(v: bigint, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** A uniformly random non-zero scalar: 64 random bytes reduced mod the group order (bias < 2^-250). */
export function randomScalar(random: RandomBytes = webRandom): bigint {
  for (;;) {
    const s = mod(bytesToBigLE(random(64)));
    if (s !== 0n) return s;
  }
}

export const scalarToHex = (s: bigint): string => toHex(bigToBytesLE(mod(s), 32));

/** A canonical scalar (32 bytes little-endian, below the group order); throws RangeError otherwise. */
export function scalarFromHex(hex: unknown): bigint {
  if (typeof hex !== 'string' || !isLowerHex(hex, 64)) throw new RangeError('a scalar must be 32 bytes of lower-case hex');
  const s = bytesToBigLE(fromHex(hex)!);
  if (s >= ORDER) throw new RangeError('a scalar must be below the group order');
  return s;
}

export const pointToHex = (p: Point): string => toHex(p.toBytes());

/** Little-endian 32 bytes of a scalar (below the order), as libsodium takes them. */
export const scalarBytes = (s: bigint): Uint8Array => bigToBytesLE(mod(s), 32);

/**
 * Optional faster scalar multiplication of an encoded point: (scalar LE bytes, point bytes) to the
 * product's bytes, throwing on a non-canonical point or an identity result. The server installs
 * libsodium's constant-time WebAssembly build (`./sodium.ts`), ten times faster than the pure-JS
 * multiplication; the browser portal keeps the pure-JS path. Both give the same bytes.
 */
export type EncodedMultiply = (scalar: Uint8Array, point: Uint8Array) => Uint8Array;
let fastMultiply: EncodedMultiply | null = null;
export const installFastMultiply = (fn: EncodedMultiply | null): void => {
  fastMultiply = fn;
};
export const encodedMultiply = (): EncodedMultiply | null => fastMultiply;

/**
 * Optional faster check that 32 bytes are a canonical ristretto255 encoding (libsodium's, installed with
 * the multiplication): a sixth of the cost of decoding, for the ledger nodes' check of every sealed
 * ballot's ephemeral. The identity is refused separately (libsodium accepts it).
 */
let fastPointCheck: ((bytes: Uint8Array) => boolean) | null = null;
export const installFastPointCheck = (fn: ((bytes: Uint8Array) => boolean) | null): void => {
  fastPointCheck = fn;
};

/** As pointFromHex, without returning the point: the installed check when there is one. Throws RangeError. */
export function checkPointHex(hex: unknown, what = 'point'): void {
  if (!fastPointCheck) {
    pointFromHex(hex, what);
    return;
  }
  const bytes = pointHexBytes(hex, what);
  if (bytes.every((b) => b === 0)) throw new RangeError(`${what} must not be the identity`);
  if (!fastPointCheck(bytes)) throw new RangeError(`${what} is not a canonical ristretto255 encoding`);
}
export const pointBytes = (p: Point): Uint8Array => p.toBytes();

/**
 * A canonical ristretto255 point, not the identity (a key, a commitment or a ciphertext part is never
 * the identity: it would make the secret irrelevant). Throws RangeError otherwise.
 */
export function pointFromHex(hex: unknown, what = 'point'): Point {
  return pointFromBytes(pointHexBytes(hex, what), what);
}

/** The 32 bytes of a point's hex (format only: decoding checks the rest). Throws RangeError. */
export function pointHexBytes(hex: unknown, what = 'point'): Uint8Array {
  if (typeof hex !== 'string' || !isLowerHex(hex, 64)) throw new RangeError(`${what} must be 32 bytes of lower-case hex`);
  return fromHex(hex)!;
}

/** As pointFromHex, from the 32 bytes. */
export function pointFromBytes(bytes: Uint8Array, what = 'point'): Point {
  let p: Point;
  try {
    p = decodeRistretto(bytes);
  } catch {
    throw new RangeError(`${what} is not a canonical ristretto255 encoding`);
  }
  if (p.is0()) throw new RangeError(`${what} must not be the identity`);
  return p;
}

/** Length-prefixed fields (8-byte big-endian length each), so no two field lists hash alike. */
export function lengthPrefixed(fields: readonly (Uint8Array | string)[]): Uint8Array {
  // One buffer written in place, ASCII strings copied without a TextEncoder call: every sealed ballot
  // hashes three of these at cast time (ids, hex, tags: all ASCII), and the opening three more per ballot.
  const parts = fields.map((f) => (typeof f === 'string' && !isAscii(f) ? utf8(f) : f));
  let length = 0;
  for (const p of parts) length += 8 + p.length;
  const out = new Uint8Array(length);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const p of parts) {
    // A field is far below 2^32 bytes: the high half of the length stays zero.
    view.setUint32(at + 4, p.length);
    at += 8;
    if (typeof p === 'string') for (let i = 0; i < p.length; i++) out[at + i] = p.charCodeAt(i);
    else out.set(p, at);
    at += p.length;
  }
  return out;
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

/** Every hash in this module names its purpose first: a value from one context is never valid in another. */
export const DOMAIN = 'civic-vote/threshold/v1/';

/**
 * SHA-512 of some bytes: @noble/hashes (pure JS, the portal's) unless the server installed node:crypto's
 * (`./serverCrypto.ts`), three times faster. Same function, same bytes (threshold.spec checks both).
 */
export type Sha512 = (bytes: Uint8Array) => Uint8Array;
let sha512Of: Sha512 = sha512;
export const installSha512 = (fn: Sha512 | null): void => {
  sha512Of = fn ?? sha512;
};

/** SHA-512 of the domain tag and the fields, length-prefixed. */
export const hashFields = (tag: string, fields: readonly (Uint8Array | string)[]): Uint8Array =>
  sha512Of(lengthPrefixed([DOMAIN + tag, ...fields]));

/** A scalar from a hash: 64 bytes reduced mod the order. */
export const hashToScalar = (tag: string, fields: readonly (Uint8Array | string)[]): bigint => mod(bytesToBigLE(hashFields(tag, fields)));

/** 32 bytes from a hash, for keys and commitments. */
export const hash32 = (tag: string, fields: readonly (Uint8Array | string)[]): Uint8Array => hashFields(tag, fields).slice(0, 32);

export function invert(a: bigint): bigint {
  // Fermat: a^(q-2) mod q, q prime.
  let result = 1n;
  let base = mod(a);
  let e = ORDER - 2n;
  while (e > 0n) {
    if (e & 1n) result = (result * base) % ORDER;
    base = (base * base) % ORDER;
    e >>= 1n;
  }
  return result;
}

/** The Lagrange coefficient at 0 of participant `i` among `indexes` (1-based node numbers). */
export function lagrangeAtZero(i: number, indexes: readonly number[]): bigint {
  let num = 1n;
  let den = 1n;
  for (const k of indexes) {
    if (k === i) continue;
    num = mod(num * BigInt(k));
    den = mod(den * BigInt(k - i));
  }
  return mod(num * invert(den));
}

/** Public-data multiplication (not constant time): for verifying and combining, never with a secret. */
export const mulPublic = (p: Point, s: bigint): Point => (mod(s) === 0n ? Point.ZERO : p.multiplyUnsafe(mod(s)));

/** Σ s_j P_j for scalars below 2^128 (the batching weights); public data only. See decode.ts. */
export const msm128 = (points: readonly Point[], scalars: readonly bigint[]): Point => msm128Ext(points, scalars);
