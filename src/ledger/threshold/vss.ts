/**
 * Feldman verifiable secret sharing and the distributed key generation built from it (Pedersen's DKG
 * with Feldman commitments, as in Gennaro-Jarecki-Krawczyk-Rabin and ElectionGuard's key ceremony):
 * every node deals a random polynomial of degree t-1, publishes commitments to its coefficients and
 * sends each other node its share encrypted to that node's transport key. A node adds the shares it
 * received (each checked against its dealer's commitments) into its own share of the joint secret; the
 * joint secret itself is never formed anywhere. Anyone can recompute the joint key and every node's
 * verification key from the commitments.
 */
import { fromBase64, fromUtf8, toBase64, toHex, utf8 } from '../bytes.ts';
import {
  G,
  hash32,
  lengthPrefixed,
  mod,
  mulPublic,
  Point,
  pointFromHex,
  pointToHex,
  randomScalar,
  scalarFromHex,
  scalarToHex,
  webRandom,
  type RandomBytes,
} from './group.ts';
import { decryptWithSecret, encryptTo } from './hybrid.ts';

/** The nodes' threshold: any 3 of 4 open a sealed ballot, 2 learn nothing. */
export const THRESHOLD = 3;
export const PARTICIPANTS = 4;

/** What a dealer publishes: commitments to its coefficients and one encrypted share per other node. */
export interface Dealing {
  epoch: string;
  dealer: number;
  /** C_k = a_k G for k = 0..t-1, hex. */
  commitments: string[];
  /** Recipient node number -> its share, encrypted to that node's transport key (hex R, base64 box). */
  shares: Record<string, { ephemeral: string; ciphertext: string }>;
}

/** The secret half a dealer keeps until the ceremony ends (its own share of its own polynomial). */
export interface DealerSecret {
  coefficients: bigint[];
}

const evalPoly = (coefficients: readonly bigint[], x: number): bigint => {
  let acc = 0n;
  for (let k = coefficients.length - 1; k >= 0; k--) acc = mod(acc * BigInt(x) + coefficients[k]!);
  return acc;
};

/** Σ_k C_k x^k: the public image of a share at x. */
export function commitmentAt(commitments: readonly Point[], x: number): Point {
  let acc = Point.ZERO;
  let power = 1n;
  for (const c of commitments) {
    acc = acc.add(mulPublic(c, power));
    power = mod(power * BigInt(x));
  }
  return acc;
}

const shareAad = (epoch: string, dealer: number, recipient: number, commitments: readonly string[]): Uint8Array =>
  hash32('dkg-share-aad', [epoch, String(dealer), String(recipient), ...commitments]);

/** A transport key pair from a node's own secret bytes (its seed), domain-separated from its signing key. */
export function transportKeyOf(seed: Uint8Array): { secret: bigint; publicKey: string } {
  const secret = mod(BigInt('0x' + toHex(hash32('transport-key', [seed])))) || 1n;
  return { secret, publicKey: pointToHex(G.multiply(secret)) };
}

export function deal(
  epoch: string,
  dealer: number,
  transportKeys: Record<string, string>,
  random: RandomBytes = webRandom,
): { dealing: Dealing; secret: DealerSecret } {
  const coefficients = Array.from({ length: THRESHOLD }, () => randomScalar(random));
  const commitments = coefficients.map((a) => pointToHex(G.multiply(a)));
  const shares: Dealing['shares'] = {};
  for (let i = 1; i <= PARTICIPANTS; i++) {
    if (i === dealer) continue;
    const key = transportKeys[String(i)];
    if (!key) throw new RangeError(`no transport key for node ${i}`);
    const box = encryptTo(pointFromHex(key, `transport key of node ${i}`), utf8(scalarToHex(evalPoly(coefficients, i))), shareAad(epoch, dealer, i, commitments), random);
    shares[String(i)] = { ephemeral: pointToHex(box.ephemeral), ciphertext: toBase64(box.ciphertext) };
  }
  return { dealing: { epoch, dealer, commitments, shares }, secret: { coefficients } };
}

/** Why a dealing cannot be part of the ceremony's transcript (shape only), or undefined. */
export function dealingProblem(d: unknown, epoch: string): string | undefined {
  if (typeof d !== 'object' || d === null) return 'a dealing must be an object';
  const x = d as Partial<Dealing>;
  if (x.epoch !== epoch) return `the dealing is for epoch ${String(x.epoch)}, not ${epoch}`;
  if (!Number.isInteger(x.dealer) || x.dealer! < 1 || x.dealer! > PARTICIPANTS) return 'the dealer must be a node number';
  if (!Array.isArray(x.commitments) || x.commitments.length !== THRESHOLD) return `a dealing has ${THRESHOLD} commitments`;
  try {
    x.commitments.forEach((c, k) => pointFromHex(c, `commitment ${k}`));
  } catch (e) {
    return (e as Error).message;
  }
  if (typeof x.shares !== 'object' || x.shares === null) return 'a dealing needs its encrypted shares';
  return undefined;
}

export class BadShare extends Error {
  constructor(
    readonly dealer: number,
    reason: string,
  ) {
    super(`the share dealt by node ${dealer} ${reason}`);
  }
}

/**
 * Recipient `me` opens its share of `dealing` with its transport secret and checks it against the
 * dealer's commitments. Throws BadShare naming the dealer (a complaint) when it does not open or match.
 */
export function receiveShare(dealing: Dealing, me: number, transportSecret: bigint, transportPublic: string): bigint {
  const box = dealing.shares[String(me)];
  if (!box) throw new BadShare(dealing.dealer, `has no share for node ${me}`);
  let plain: Uint8Array | null = null;
  try {
    const ciphertext = fromBase64(box.ciphertext);
    if (!ciphertext) throw new RangeError('not base64');
    plain = decryptWithSecret(
      transportSecret,
      pointFromHex(transportPublic),
      { ephemeral: pointFromHex(box.ephemeral), ciphertext },
      shareAad(dealing.epoch, dealing.dealer, me, dealing.commitments),
    );
  } catch {
    plain = null;
  }
  if (!plain) throw new BadShare(dealing.dealer, `for node ${me} does not decrypt`);
  let share: bigint;
  try {
    share = scalarFromHex(fromUtf8(plain));
  } catch {
    throw new BadShare(dealing.dealer, `for node ${me} is not a scalar`);
  }
  if (!verifyShare(dealing, me, share)) throw new BadShare(dealing.dealer, `for node ${me} does not match its commitments`);
  return share;
}

/** Feldman's check: s G = Σ_k C_k i^k. */
export function verifyShare(dealing: Dealing, i: number, share: bigint): boolean {
  const commitments = dealing.commitments.map((c) => pointFromHex(c));
  return mulPublic(G, share).equals(commitmentAt(commitments, i));
}

/** The dealer's own share of its own polynomial. */
export const ownShare = (secret: DealerSecret, me: number): bigint => evalPoly(secret.coefficients, me);

/** The public outcome of a ceremony: anyone recomputes it from the dealings' commitments. */
export interface PublicKeySet {
  epoch: string;
  threshold: number;
  /** Dealer number -> its commitments, as published. */
  commitments: Record<string, string[]>;
  /** Y = Σ_d C_d0, hex. */
  jointKey: string;
  /** Node number -> Y_i = x_i G, hex: checks that node's decryption shares. */
  verificationKeys: Record<string, string>;
  /** Short id of this key set: sealed ballots name it. */
  keyId: string;
}

export function publicKeySetOf(epoch: string, commitmentsByDealer: Record<string, readonly string[]>): PublicKeySet {
  const dealers = Object.keys(commitmentsByDealer).map(Number).sort((a, b) => a - b);
  if (dealers.length !== PARTICIPANTS || dealers.some((d, k) => d !== k + 1)) throw new RangeError(`a key set needs the dealings of nodes 1..${PARTICIPANTS}`);
  const points = dealers.map((d) => commitmentsByDealer[String(d)]!.map((c, k) => pointFromHex(c, `commitment ${k} of node ${d}`)));
  let joint = Point.ZERO;
  for (const cs of points) joint = joint.add(cs[0]!);
  if (joint.is0()) throw new RangeError('the joint key is the identity');
  const verificationKeys: Record<string, string> = {};
  for (let i = 1; i <= PARTICIPANTS; i++) {
    let y = Point.ZERO;
    for (const cs of points) y = y.add(commitmentAt(cs, i));
    verificationKeys[String(i)] = pointToHex(y);
  }
  const commitments: Record<string, string[]> = {};
  for (const d of dealers) commitments[String(d)] = [...commitmentsByDealer[String(d)]!];
  const jointKey = pointToHex(joint);
  const keyId = toHex(hash32('key-id', [epoch, String(THRESHOLD), jointKey, ...dealers.flatMap((d) => commitments[String(d)]!)])).slice(0, 32);
  return { epoch, threshold: THRESHOLD, commitments, jointKey, verificationKeys, keyId };
}

/** Whether a published key set is what its own commitments give (the portal and the audit call this). */
export function keySetProblem(set: unknown): string | undefined {
  if (typeof set !== 'object' || set === null) return 'the key set is not an object';
  const s = set as PublicKeySet;
  let recomputed: PublicKeySet;
  try {
    recomputed = publicKeySetOf(s.epoch, s.commitments);
  } catch (e) {
    return (e as Error).message;
  }
  if (s.threshold !== THRESHOLD) return `the threshold must be ${THRESHOLD}`;
  if (recomputed.jointKey !== s.jointKey) return 'the joint key is not the sum of the dealers\u2019 constant commitments';
  if (recomputed.keyId !== s.keyId) return 'the key id does not match the commitments';
  for (const [i, y] of Object.entries(recomputed.verificationKeys)) {
    if (s.verificationKeys?.[i] !== y) return `the verification key of node ${i} does not follow from the commitments`;
  }
  return undefined;
}

/** Canonical bytes of the commitments, for transcripts. */
export const keySetBytes = (set: PublicKeySet): Uint8Array =>
  lengthPrefixed([set.epoch, set.keyId, set.jointKey, ...Object.keys(set.verificationKeys).sort().map((k) => set.verificationKeys[k]!)]);
