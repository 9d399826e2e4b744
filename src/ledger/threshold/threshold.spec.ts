import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../bytes.ts';
import { encodedMultiply, scalarBytes } from './group.ts';
import { sha512 } from '@noble/hashes/sha2.js';
import { useSodiumMultiply } from './sodium.ts';
import { nodeAead, nodeSha512 } from './serverCrypto.ts';
import { decodeRistretto, encodeRistretto, smallCombination } from './decode.ts';
import { startEncapsulationPool } from './encapsulationPool.ts';
import {
  BadShare,
  combineShares,
  deal,
  G,
  installAead,
  installFastMultiply,
  installSha512,
  keySetProblem,
  lengthPrefixed,
  msm128,
  makeShareBatch,
  nobleAead,
  mod,
  openingMatches,
  openSealed,
  ownShare,
  Point,
  pointFromHex,
  pointToHex,
  publicKeySetOf,
  randomScalar,
  receiveShare,
  scalarToHex,
  sealedBallotProblem,
  sealSelections,
  transportKeyOf,
  verifyShareBatch,
  type Dealing,
  type PublicKeySet,
  type SealContext,
  type ShareBatch,
} from './index.ts';

const EPOCH = 'test-epoch-1';

/** The four nodes' ceremony, run in one process only because this is a test of the pure parts. */
function ceremony(): { set: PublicKeySet; shares: Map<number, bigint> } {
  const transports = [1, 2, 3, 4].map((i) => transportKeyOf(new Uint8Array(32).fill(i)));
  const transportKeys = Object.fromEntries(transports.map((t, k) => [String(k + 1), t.publicKey]));
  const dealt = [1, 2, 3, 4].map((d) => deal(EPOCH, d, transportKeys));
  const shares = new Map<number, bigint>();
  for (let me = 1; me <= 4; me++) {
    let x = ownShare(dealt[me - 1]!.secret, me);
    for (const { dealing } of dealt) if (dealing.dealer !== me) x = mod(x + receiveShare(dealing, me, transports[me - 1]!.secret, transports[me - 1]!.publicKey));
    shares.set(me, x);
  }
  const set = publicKeySetOf(EPOCH, Object.fromEntries(dealt.map(({ dealing }) => [String(dealing.dealer), dealing.commitments])));
  return { set, shares };
}

const { set, shares } = ceremony();
const ctx: SealContext = { pollId: 'poll-1', voterTag: 'tag-a', ballotId: 'ballot-1' };
const choices = { selections: { q1: ['o2'] }, freeText: { q1: '공원 더 넓게' } };

function openWith(nodes: number[], sealedList: { sealed: ReturnType<typeof sealSelections>; eventId: string }[], secret = shares) {
  const items = sealedList.map((s) => ({ eventId: s.eventId, ephemeral: s.sealed.ephemeral }));
  const batches = nodes.map((node) => makeShareBatch(secret.get(node)!, { keyId: set.keyId, pollId: ctx.pollId, node, batch: 0 }, items));
  return { items, batches };
}

describe('distributed key generation', () => {
  it('gives every node a share whose public image is its verification key, and a checkable key set', () => {
    for (const [i, x] of shares) expect(pointToHex(G.multiply(x))).toBe(set.verificationKeys[String(i)]);
    expect(keySetProblem(set)).toBeUndefined();
    expect(keySetProblem({ ...set, jointKey: set.verificationKeys['1'] })).toMatch(/joint key/);
    expect(keySetProblem({ ...set, verificationKeys: { ...set.verificationKeys, '2': set.verificationKeys['3'] } })).toMatch(/node 2/);
  });

  it('names a dealer whose share does not match its commitments or does not decrypt', () => {
    const transports = [1, 2, 3, 4].map((i) => transportKeyOf(new Uint8Array(32).fill(10 + i)));
    const keys = Object.fromEntries(transports.map((t, k) => [String(k + 1), t.publicKey]));
    const { dealing } = deal(EPOCH, 2, keys);
    // A dealer that commits to one polynomial and sends shares of another.
    const other = deal(EPOCH, 2, keys).dealing;
    const lying: Dealing = { ...dealing, shares: other.shares };
    expect(() => receiveShare(lying, 1, transports[0]!.secret, transports[0]!.publicKey)).toThrow(BadShare);
    expect(() => receiveShare(lying, 1, transports[0]!.secret, transports[0]!.publicKey)).toThrow(/node 2/);
    // The share meant for node 3 cannot be read by node 1.
    const swapped: Dealing = { ...dealing, shares: { ...dealing.shares, '1': dealing.shares['3']! } };
    expect(() => receiveShare(swapped, 1, transports[0]!.secret, transports[0]!.publicKey)).toThrow(/does not decrypt/);
    expect(receiveShare(dealing, 1, transports[0]!.secret, transports[0]!.publicKey)).toBeTypeOf('bigint');
  });
});

describe('sealed ballots', () => {
  it('open with the shares of any 3 of the 4 nodes, and match their commitments', () => {
    const sealed = sealSelections(set, ctx, choices);
    expect(sealedBallotProblem(sealed)).toBeUndefined();
    // As a JSON string token: 'o2' alone turns up inside random base64 ciphertext now and then (a CI flake).
    expect(JSON.stringify(sealed)).not.toContain('"o2"');
    expect(JSON.stringify(sealed)).not.toContain('공원');
    for (const nodes of [[1, 2, 3], [1, 2, 4], [1, 3, 4], [2, 3, 4], [4, 2, 1]]) {
      const { items, batches } = openWith(nodes, [{ sealed, eventId: 'e1' }]);
      for (const b of batches) expect(verifyShareBatch(b, set.verificationKeys[String(b.node)]!, items)).toBe(true);
      const [k] = combineShares(batches);
      const opening = openSealed(set.jointKey, ctx, sealed, k!);
      expect(opening?.selections).toEqual(choices);
      expect(openingMatches(sealed, ctx, opening!)).toBe(true);
    }
  });

  it('do not open with 2 nodes', () => {
    const sealed = sealSelections(set, ctx, choices);
    const { batches } = openWith([1, 2], [{ sealed, eventId: 'e1' }]);
    expect(() => combineShares(batches)).toThrow(/3 distinct nodes/);
    expect(() => combineShares([batches[0]!, batches[1]!, batches[0]!])).toThrow(/3 distinct nodes/);
  });

  it('refuse to open when copied to another voter tag, poll or ballot id', () => {
    const sealed = sealSelections(set, ctx, choices);
    const { batches } = openWith([1, 2, 3], [{ sealed, eventId: 'e1' }]);
    const [k] = combineShares(batches);
    expect(openSealed(set.jointKey, { ...ctx, voterTag: 'tag-b' }, sealed, k!)).toBeNull();
    expect(openSealed(set.jointKey, { ...ctx, pollId: 'poll-2' }, sealed, k!)).toBeNull();
    expect(openSealed(set.jointKey, { ...ctx, ballotId: 'ballot-2' }, sealed, k!)).toBeNull();
    expect(openSealed(set.jointKey, ctx, { ...sealed, commitment: 'ab'.repeat(32) }, k!)).toBeNull();
    expect(openSealed(set.jointKey, ctx, sealed, G)).toBeNull();
  });

  it('have commitments that another opening cannot match', () => {
    const sealed = sealSelections(set, ctx, choices);
    const { batches } = openWith([2, 3, 4], [{ sealed, eventId: 'e1' }]);
    const opening = openSealed(set.jointKey, ctx, sealed, combineShares(batches)[0]!)!;
    expect(openingMatches(sealed, ctx, { ...opening, selections: { selections: { q1: ['o1'] } } })).toBe(false);
    expect(openingMatches(sealed, { ...ctx, voterTag: 'x' }, opening)).toBe(false);
    expect(openingMatches(sealed, ctx, { ...opening, nonce: '00'.repeat(32) })).toBe(false);
  });

  it('are refused when their parts are not canonical or are the identity', () => {
    const sealed = sealSelections(set, ctx, choices);
    expect(sealedBallotProblem({ ...sealed, ephemeral: toHex(Point.ZERO.toBytes()) })).toMatch(/identity/);
    expect(sealedBallotProblem({ ...sealed, ephemeral: 'ff'.repeat(32) })).toMatch(/canonical/);
    expect(sealedBallotProblem({ ...sealed, selections: {} })).toMatch(/unexpected/);
    expect(sealedBallotProblem({ ...sealed, ciphertext: 'AAAA' })).toMatch(/ciphertext/);
    expect(() => pointFromHex(toHex(Point.ZERO.toBytes()))).toThrow(/identity/);
  });
});

describe('decryption shares', () => {
  const sealedList = Array.from({ length: 5 }, (_, j) => ({ sealed: sealSelections(set, { ...ctx, ballotId: `b${j}` }, choices), eventId: `e${j}` }));

  it('catch a wrong share and name its node', () => {
    const { items, batches } = openWith([1, 2, 3, 4], sealedList);
    const forged: ShareBatch = { ...batches[1]!, shares: batches[1]!.shares.map((d, j) => (j === 3 ? pointToHex(G.multiply(randomScalar())) : d)) };
    const verdicts = [batches[0]!, forged, batches[2]!, batches[3]!].map((b) => ({ node: b.node, ok: verifyShareBatch(b, set.verificationKeys[String(b.node)]!, items) }));
    expect(verdicts).toEqual([{ node: 1, ok: true }, { node: 2, ok: false }, { node: 3, ok: true }, { node: 4, ok: true }]);
    // The honest three still open every ballot.
    const keys = combineShares([batches[0]!, batches[2]!, batches[3]!]);
    sealedList.forEach(({ sealed }, j) => expect(openSealed(set.jointKey, { ...ctx, ballotId: `b${j}` }, sealed, keys[j]!)?.selections).toEqual(choices));
    // Combining with the wrong share opens nothing at that ballot.
    const bad = combineShares([batches[0]!, forged, batches[2]!]);
    expect(openSealed(set.jointKey, { ...ctx, ballotId: 'b3' }, sealedList[3]!.sealed, bad[3]!)).toBeNull();
  });

  it('catch a share computed with another secret, shares reordered, and proofs moved to another statement', () => {
    const { items, batches } = openWith([1, 2, 3], sealedList);
    const y1 = set.verificationKeys['1']!;
    // A node using a secret that is not its share (proof made consistently with that secret).
    const wrongSecret = makeShareBatch(mod(shares.get(1)! + 1n), { keyId: set.keyId, pollId: ctx.pollId, node: 1, batch: 0 }, items);
    expect(verifyShareBatch(wrongSecret, y1, items)).toBe(false);
    const b1 = batches[0]!;
    expect(verifyShareBatch({ ...b1, shares: [...b1.shares].reverse() }, y1, items)).toBe(false);
    expect(verifyShareBatch({ ...b1, pollId: 'poll-2' }, y1, items)).toBe(false);
    expect(verifyShareBatch({ ...b1, batch: 1 }, y1, items)).toBe(false);
    expect(verifyShareBatch({ ...b1, node: 2 }, set.verificationKeys['2']!, items)).toBe(false);
    expect(verifyShareBatch(b1, y1, items.slice(1))).toBe(false);
    expect(verifyShareBatch({ ...b1, proof: { ...b1.proof, z: scalarToHex(1n) } }, y1, items)).toBe(false);
    expect(verifyShareBatch({ ...b1, proof: { c: 'zz', z: 'zz' } }, y1, items)).toBe(false);
    expect(verifyShareBatch(b1, y1, items)).toBe(true);
  });

  it('use a fresh proof nonce every time', () => {
    const items = sealedList.map((s) => ({ eventId: s.eventId, ephemeral: s.sealed.ephemeral }));
    const context = { keyId: set.keyId, pollId: ctx.pollId, node: 1, batch: 0 };
    const a = makeShareBatch(shares.get(1)!, context, items);
    const b = makeShareBatch(shares.get(1)!, context, items);
    expect(a.shares).toEqual(b.shares);
    expect(a.proof.c).not.toBe(b.proof.c);
  });
});

describe('the fast paths', () => {
  const sealedList = Array.from({ length: 40 }, (_, j) => ({ sealed: sealSelections(set, { ...ctx, ballotId: `b${j}` }, choices), eventId: `e${j}` }));

  it('libsodium multiplication gives the same shares and keys as the pure-JS one, and its proofs verify', async () => {
    // Nodes 1, 2, 4: Lagrange coefficients that are not integers, so the combination multiplies by L^-1.
    const plain = openWith([1, 2, 4], sealedList);
    const plainKeys = combineShares(plain.batches).map(pointToHex);
    await useSodiumMultiply();
    try {
      const fast = openWith([1, 2, 4], sealedList);
      expect(fast.batches.map((b) => b.shares)).toEqual(plain.batches.map((b) => b.shares));
      for (const b of fast.batches) expect(verifyShareBatch(b, set.verificationKeys[String(b.node)]!, fast.items)).toBe(true);
      expect(combineShares(fast.batches).map(pointToHex)).toEqual(plainKeys);
      // A wrong share is still caught with the fast path installed.
      const forged: ShareBatch = { ...fast.batches[1]!, shares: fast.batches[1]!.shares.map((d, j) => (j === 7 ? pointToHex(G.multiply(randomScalar())) : d)) };
      expect(verifyShareBatch(forged, set.verificationKeys['2']!, fast.items)).toBe(false);
      // The nodes' check of a sealed ballot's ephemeral through libsodium refuses what decoding refuses.
      const sealed = sealSelections(set, ctx, choices);
      expect(sealedBallotProblem(sealed)).toBeUndefined();
      expect(sealedBallotProblem({ ...sealed, ephemeral: toHex(Point.ZERO.toBytes()) })).toMatch(/identity/);
      for (const bad of ['ff'.repeat(32), 'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', '01' + '00'.repeat(31)]) {
        expect(sealedBallotProblem({ ...sealed, ephemeral: bad })).toMatch(/canonical/);
        // The multiplication refuses it too, and a product that is the identity, and leaves no trace for the next call.
        expect(() => encodedMultiply()!(scalarBytes(5n), fromHex(bad)!)).toThrow(RangeError);
      }
      expect(() => encodedMultiply()!(scalarBytes(0n), G.toBytes())).toThrow(RangeError);
      expect(encodedMultiply()!(scalarBytes(5n), G.toBytes())).toEqual(G.multiply(5n).toBytes());
    } finally {
      installFastMultiply(null);
    }
  });

  it('node:crypto SHA-512 and ChaCha20-Poly1305 give the same bytes as the pure-JS ones, and a tampered box does not open', () => {
    for (const n of [0, 1, 111, 112, 128, 1000]) {
      const bytes = globalThis.crypto.getRandomValues(new Uint8Array(n));
      expect(nodeSha512(bytes)).toEqual(sha512(bytes));
      const key = globalThis.crypto.getRandomValues(new Uint8Array(32));
      const nonce = globalThis.crypto.getRandomValues(new Uint8Array(12));
      const aad = globalThis.crypto.getRandomValues(new Uint8Array(n % 64));
      const box = nodeAead.seal(key, nonce, aad, bytes);
      expect(box).toEqual(nobleAead.seal(key, nonce, aad, bytes));
      expect(nodeAead.open(key, nonce, aad, box)).toEqual(bytes);
      expect(nobleAead.open(key, nonce, aad, box)).toEqual(bytes);
      const tampered = box.slice();
      tampered[n % box.length]! ^= 1;
      expect(nodeAead.open(key, nonce, aad, tampered)).toBeNull();
      expect(nodeAead.open(key, nonce, new Uint8Array([...aad, 0]), box)).toBeNull();
    }
    expect(nodeAead.open(new Uint8Array(32), new Uint8Array(12), new Uint8Array(0), new Uint8Array(15))).toBeNull();
    // Sealed with node:crypto installed, opened without it (the portal's path), and the other way round.
    const sealedPlain = sealSelections(set, ctx, choices);
    installSha512(nodeSha512);
    installAead(nodeAead);
    try {
      const sealedFast = sealSelections(set, ctx, choices);
      const { batches } = openWith([1, 3, 4], [{ sealed: sealedPlain, eventId: 'x' }, { sealed: sealedFast, eventId: 'y' }]);
      const [k1, k2] = combineShares(batches);
      expect(openSealed(set.jointKey, ctx, sealedPlain, k1!)?.selections).toEqual(choices);
      installSha512(null);
      installAead(null);
      expect(openSealed(set.jointKey, ctx, sealedFast, k2!)?.selections).toEqual(choices);
    } finally {
      installSha512(null);
      installAead(null);
    }
  });

  it('lengthPrefixed writes each field as its 8-byte big-endian length and its UTF-8 bytes', () => {
    const reference = (fields: (Uint8Array | string)[]) =>
      Buffer.concat(fields.map((f) => {
        const bytes = typeof f === 'string' ? Buffer.from(f, 'utf8') : Buffer.from(f);
        const len = Buffer.alloc(8);
        len.writeBigUInt64BE(BigInt(bytes.length));
        return Buffer.concat([len, bytes]);
      }));
    const cases: (Uint8Array | string)[][] = [[], [''], ['poll-1', 'ab'.repeat(40)], ['공원 더 넓게', new Uint8Array(300).fill(7), '\u007f\u0080', 'x'.repeat(70_000)], [new Uint8Array(0), 'tag 😀']];
    for (const fields of cases) expect(Buffer.from(lengthPrefixed(fields))).toEqual(reference(fields));
  });

  it('msm128 is the plain sum of multiples, for every window size', () => {
    for (const n of [0, 1, 2, 31, 40, 300]) {
      const points = Array.from({ length: n }, () => G.multiply(randomScalar()));
      const scalars = points.map((_, j) => (j % 7 === 0 ? 0n : randomScalar() & ((1n << 128n) - 1n)));
      const want = points.reduce((acc, p, j) => (scalars[j] === 0n ? acc : acc.add(p.multiplyUnsafe(scalars[j]!))), Point.ZERO);
      expect(msm128(points, scalars).equals(want)).toBe(true);
    }
    expect(() => msm128([G], [1n << 128n])).toThrow(RangeError);
  });

  it('the faster ristretto255 decoding accepts and refuses exactly what noble does', () => {
    for (let i = 0; i < 200; i++) {
      const p = G.multiply(randomScalar());
      const bytes = p.toBytes();
      expect(decodeRistretto(bytes).toBytes()).toEqual(bytes);
      // Encoding too, from representatives in other coordinates (a sum, a double).
      expect(encodeRistretto(p)).toEqual(bytes);
      expect(encodeRistretto(p.add(G).double())).toEqual(p.add(G).double().toBytes());
    }
    const [a, b, c] = [G.multiply(randomScalar()), G.multiply(randomScalar()), G.multiply(randomScalar())];
    expect(smallCombination([a, b, c], [3n, -3n, 1n]).equals(a.multiply(3n).subtract(b.multiply(3n)).add(c))).toBe(true);
    expect(smallCombination([a, b, c], [0n, -8n, 6n]).equals(c.multiply(6n).subtract(b.multiply(8n)))).toBe(true);
    // RFC 9496 §A.2 non-canonical field encodings, and p + 1 (even, top bit clear, not below p).
    const nonCanonical = ['00ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff', 'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', 'f3ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', 'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', 'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'];
    const random = Array.from({ length: 2000 }, (_, i) => {
      const b = globalThis.crypto.getRandomValues(new Uint8Array(32));
      if (i % 2 === 0) b[31]! &= 0x7f;
      if (i % 3 === 0) b[0]! &= 0xfe;
      return toHex(b);
    });
    const verdict = (f: () => Point) => {
      try {
        return toHex(f().toBytes());
      } catch {
        return 'refused';
      }
    };
    for (const hex of [...nonCanonical, ...random, toHex(Point.ZERO.toBytes())]) {
      const bytes = Uint8Array.from(hex.match(/../g)!.map((h) => parseInt(h, 16)));
      expect(verdict(() => decodeRistretto(bytes))).toBe(verdict(() => Point.fromBytes(bytes)));
    }
    for (const hex of nonCanonical) expect(() => pointFromHex(hex)).toThrow(/canonical/);
  });

  it('draws ballot nonces in bulk: each sealed ballot opens with its own, none repeated or wiped before use', () => {
    // More ballots than one draw of 64, so the stock is refilled at least once on the way.
    const list = Array.from({ length: 70 }, (_, j) => ({ sealed: sealSelections(set, { ...ctx, ballotId: `n${j}` }, choices), eventId: `n${j}` }));
    const keys = combineShares(openWith([1, 2, 3], list).batches);
    const nonces = list.map(({ sealed }, j) => openSealed(set.jointKey, { ...ctx, ballotId: `n${j}` }, sealed, keys[j]!)!.nonce);
    expect(new Set(nonces).size).toBe(70);
    expect(nonces).not.toContain('0'.repeat(64));
  });

  it('seals with encapsulations made ahead in a worker thread, each used once, and they open as any other', async () => {
    const pool = startEncapsulationPool(set.jointKey, { size: 128 });
    try {
      for (let i = 0; pool.ready() < 64; i++) {
        if (i > 18_000) throw new Error('the encapsulation worker made nothing in 180 s');
        await new Promise((r) => setTimeout(r, 10));
      }
      const before = pool.ready();
      const list = Array.from({ length: 20 }, (_, j) => ({ sealed: sealSelections(set, { ...ctx, ballotId: `p${j}` }, choices), eventId: `p${j}` }));
      expect(pool.ready()).toBeLessThan(before);
      expect(pool.counts()).toEqual({ taken: 20, empty: 0 });
      expect(new Set(list.map((x) => x.sealed.ephemeral)).size).toBe(20);
      const { batches } = openWith([2, 3, 4], list);
      const keys = combineShares(batches);
      list.forEach(({ sealed }, j) => expect(openSealed(set.jointKey, { ...ctx, ballotId: `p${j}` }, sealed, keys[j]!)?.selections).toEqual(choices));
    } finally {
      await pool.stop();
    }
  });
});
