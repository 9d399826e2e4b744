/**
 * RFC 6962 / RFC 9162 Merkle tree hashing, an append-only tree that answers roots and proofs for any
 * earlier size in O(log n) hashes, and pure proof verification (RFC 9162 sections 2.1.3.2 and 2.1.4.2).
 *
 * Tree sizes and indices are JavaScript numbers: exact up to 2^53, which no poll will approach. Bit
 * operators are avoided on them because they truncate to 32 bits.
 *
 * Hand-written: the JavaScript Merkle-tree packages either are not RFC 6962 exact (leaf/node prefixes,
 * the largest-power-of-two split) or give no consistency proofs; Go's sumdb/tlog verifies this code's
 * roots and proofs unchanged in the tests (docs/DEPENDENCIES.md).
 */
import type { Sha256 } from './hash.ts';
import { bytesEqual } from './bytes.ts';

export const HASH_SIZE = 32;

const LEAF_PREFIX = 0x00;
const NODE_PREFIX = 0x01;

/** MTH({d}) = SHA-256(0x00 || d): the leaf prefix keeps a leaf from ever colliding with an inner node. */
export function hashLeaf(h: Sha256, entry: Uint8Array): Uint8Array {
  const buf = new Uint8Array(1 + entry.length);
  buf[0] = LEAF_PREFIX;
  buf.set(entry, 1);
  return h(buf);
}

/** SHA-256(0x01 || left || right). */
export function hashChildren(h: Sha256, left: Uint8Array, right: Uint8Array): Uint8Array {
  const buf = new Uint8Array(1 + left.length + right.length);
  buf[0] = NODE_PREFIX;
  buf.set(left, 1);
  buf.set(right, 1 + left.length);
  return h(buf);
}

/** MTH({}) = SHA-256(""): the root of the empty tree. */
export function emptyRoot(h: Sha256): Uint8Array {
  return h(new Uint8Array(0));
}

/** The largest power of two strictly below n (n >= 2): the RFC's split point k. */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** k if n = 2^k, else -1. Loops rather than trusting Math.log2 to be exact. */
function exactLog2(n: number): number {
  let k = 0;
  let p = 1;
  while (p < n) {
    p *= 2;
    k++;
  }
  return p === n ? k : -1;
}

function isSafeSize(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

/**
 * Where a tree keeps one level's hashes (32 bytes each, appended in order). `get` may return a view the
 * tree only reads before its next call; `truncate` drops the hashes from `count` on.
 */
export interface HashLevelStore {
  readonly count: number;
  push(hash: Uint8Array): void;
  get(i: number): Uint8Array;
  truncate(count: number): void;
}

/** One level of the tree as a flat, growable buffer of 32-byte hashes (far lighter than an array of arrays). */
class HashLevel implements HashLevelStore {
  private buf = new Uint8Array(HASH_SIZE * 16);
  count = 0;

  push(hash: Uint8Array): void {
    if ((this.count + 1) * HASH_SIZE > this.buf.length) {
      const bigger = new Uint8Array(this.buf.length * 2);
      bigger.set(this.buf);
      this.buf = bigger;
    }
    this.buf.set(hash, this.count * HASH_SIZE);
    this.count++;
  }

  /** A view, not a copy: callers must not modify it. */
  get(i: number): Uint8Array {
    return this.buf.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE);
  }

  truncate(count: number): void {
    this.count = Math.min(this.count, count);
  }
}

/**
 * Where a tree that keeps no low levels reads leaf hashes back from: the hashes of leaves [from, to), all
 * of them (a ledger node hashes its entries on disk again).
 */
export type LeafHashes = (from: number, to: number) => Uint8Array[];

/**
 * An append-only RFC 6962 tree of leaf hashes.
 *
 * levels[k] holds the hash of every complete, aligned subtree of 2^k leaves (levels[0] are the leaves).
 * Those hashes never change as the tree grows, so they serve every earlier size as well: any root or
 * proof is assembled from O(log n) of them plus O(log n) fresh hashes along the right edge, as
 * transparency-dev/merkle's compact ranges do. Appending costs one hash per completed subtree,
 * amortised one per leaf.
 *
 * Given a {@link LeafHashes} source, the tree keeps no level below `keptFrom` (default 4): about 4 bytes
 * a leaf instead of 64. A subtree smaller than 2^keptFrom leaves is hashed again from its leaves when a
 * root or proof needs it (at most 2^keptFrom - 1 leaves for one answer), read from the source, or from
 * the leaves of the last, incomplete block, which the tree keeps.
 *
 * Given a `levelStore`, the kept levels live there (a ledger node keeps them in files on disk) instead of
 * in memory: levelStore(j) is called once per level j (subtrees of 2^(keptFrom + j) leaves), empty.
 */
export class MerkleTree {
  /** levels[j]: the complete aligned subtrees of 2^(low + j) leaves. */
  private readonly levels: HashLevelStore[];
  private readonly newLevel: (j: number) => HashLevelStore;
  private readonly scratch = new Uint8Array(1 + 2 * HASH_SIZE);
  /** The lowest level kept (0 without a leaf source), and its subtrees' size in leaves. */
  private readonly low: number;
  private readonly block: number;
  /** The leaf hashes of the last block, while it is incomplete (fewer than `block`). */
  private tail: Uint8Array[] = [];
  private readonly leaves: LeafHashes | null;

  constructor(
    private readonly h: Sha256,
    options: { leaves?: LeafHashes; keptFrom?: number; levelStore?: (level: number) => HashLevelStore } = {},
  ) {
    this.newLevel = options.levelStore ?? (() => new HashLevel());
    this.levels = [this.newLevel(0)];
    this.leaves = options.leaves ?? null;
    this.low = this.leaves ? (options.keptFrom ?? 4) : 0;
    if (!Number.isInteger(this.low) || this.low < 0 || this.low > 16) throw new RangeError(`keptFrom must be 0..16, got ${this.low}`);
    this.block = 2 ** this.low;
  }

  get size(): number {
    return this.levels[0]!.count * this.block + this.tail.length;
  }

  /** Appends one 32-byte leaf hash (see hashLeaf) and returns its index. */
  append(leafHash: Uint8Array): number {
    if (leafHash.length !== HASH_SIZE) throw new RangeError(`leaf hash must be ${HASH_SIZE} bytes`);
    const index = this.size;
    let hash = leafHash;
    if (this.block > 1) {
      this.tail.push(leafHash.slice());
      if (this.tail.length < this.block) return index;
      hash = this.perfect(this.tail);
      this.tail = [];
    }
    let level = 0;
    for (;;) {
      const current = this.levels[level]!;
      current.push(hash);
      if (current.count % 2 === 1) break;
      // The push completed a pair: its parent is a new complete subtree one level up.
      hash = this.children(current.get(current.count - 2), current.get(current.count - 1));
      level++;
      if (this.levels.length === level) this.levels.push(this.newLevel(level));
    }
    return index;
  }

  /**
   * Drops the leaves from `size` on (a batch appended to check a proposed root that did not match). The
   * complete subtrees of the first `size` leaves are exactly the first floor(size / 2^k) of each level;
   * the leaves of the block `size` ends in come from the kept tail or the leaf source.
   */
  truncate(size: number): void {
    this.checkSize(size);
    const tailStart = this.size - this.tail.length;
    const blocks = Math.floor(size / this.block);
    const newTailStart = blocks * this.block;
    if (newTailStart === size) this.tail = [];
    else this.tail = newTailStart >= tailStart ? this.tail.slice(newTailStart - tailStart, size - tailStart) : this.leafRange(newTailStart, size, tailStart);
    for (let k = 0; k < this.levels.length; k++) this.levels[k]!.truncate(Math.floor(blocks / 2 ** k));
  }

  /** The leaf hash at index (a copy). */
  leafHash(index: number): Uint8Array {
    this.checkIndex(index, this.size);
    return this.leafRange(index, index + 1, this.size - this.tail.length)[0]!.slice();
  }

  /** MTH of the first `size` leaves (default: all). Any size from 0 to the current size. */
  root(size: number = this.size): Uint8Array {
    this.checkSize(size);
    if (size === 0) return emptyRoot(this.h);
    return this.subtree(0, size).slice();
  }

  /** PATH(index, D[0:size]) from RFC 6962 section 2.1.1, lowest sibling first. */
  inclusionProof(index: number, size: number = this.size): Uint8Array[] {
    this.checkSize(size);
    this.checkIndex(index, size);
    const proof: Uint8Array[] = [];
    this.path(index, 0, size, proof);
    return proof.reverse().map((p) => p.slice());
  }

  /** PROOF(m, D[0:n]) from RFC 6962 section 2.1.2. Empty when m is 0 or m equals n. */
  consistencyProof(m: number, n: number = this.size): Uint8Array[] {
    this.checkSize(n);
    if (!isSafeSize(m) || m > n) throw new RangeError(`consistency proof needs 0 <= m <= n, got m=${m} n=${n}`);
    if (m === 0 || m === n) return [];
    const proof: Uint8Array[] = [];
    this.subproof(m, 0, n, true, proof);
    return proof.reverse().map((p) => p.slice());
  }

  private children(left: Uint8Array, right: Uint8Array): Uint8Array {
    // One scratch buffer instead of an allocation per inner node: the hash does not keep its input.
    this.scratch[0] = NODE_PREFIX;
    this.scratch.set(left, 1);
    this.scratch.set(right, 1 + HASH_SIZE);
    return this.h(this.scratch);
  }

  /** MTH(D[start:start+n]) for n >= 1, with start aligned as the RFC recursion always produces it. */
  private subtree(start: number, n: number): Uint8Array {
    const level = exactLog2(n);
    if (level >= this.low) return this.levels[level - this.low]!.get(start / n);
    if (level >= 0) return this.perfect(this.leafRange(start, start + n, this.size - this.tail.length));
    const k = splitPoint(n);
    return this.children(this.subtree(start, k), this.subtree(start + k, n - k));
  }

  /** The root of a perfect subtree from its leaves (a power of two of them). */
  private perfect(leaves: readonly Uint8Array[]): Uint8Array {
    let row = leaves;
    while (row.length > 1) {
      const up: Uint8Array[] = [];
      for (let i = 0; i < row.length; i += 2) up.push(this.children(row[i]!, row[i + 1]!));
      row = up;
    }
    return row[0]!;
  }

  /** Leaf hashes [from, to): those at or after `tailStart` from the kept tail, earlier ones from the source. */
  private leafRange(from: number, to: number, tailStart: number): Uint8Array[] {
    if (from >= tailStart) return this.tail.slice(from - tailStart, to - tailStart);
    if (!this.leaves) throw new RangeError(`leaves ${from}..${to - 1} are not kept and the tree has no leaf source`);
    const cut = Math.min(to, tailStart);
    const read = this.leaves(from, cut);
    if (read.length !== cut - from) throw new RangeError(`the leaf source gave ${read.length} of leaves ${from}..${cut - 1} (not readable yet?)`);
    return to > tailStart ? [...read, ...this.tail.slice(0, to - tailStart)] : read;
  }

  /** Pushes PATH(m, D[start:start+n]) top-down; the caller reverses it into RFC order. */
  private path(m: number, start: number, n: number, out: Uint8Array[]): void {
    if (n === 1) return;
    const k = splitPoint(n);
    if (m < k) {
      out.push(this.subtree(start + k, n - k));
      this.path(m, start, k, out);
    } else {
      out.push(this.subtree(start, k));
      this.path(m - k, start + k, n - k, out);
    }
  }

  /** Pushes SUBPROOF(m, D[start:start+n], b) top-down. */
  private subproof(m: number, start: number, n: number, b: boolean, out: Uint8Array[]): void {
    if (m === n) {
      if (!b) out.push(this.subtree(start, n));
      return;
    }
    const k = splitPoint(n);
    if (m <= k) {
      out.push(this.subtree(start + k, n - k));
      this.subproof(m, start, k, b, out);
    } else {
      out.push(this.subtree(start, k));
      this.subproof(m - k, start + k, n - k, false, out);
    }
  }

  private checkSize(size: number): void {
    if (!isSafeSize(size) || size > this.size) {
      throw new RangeError(`tree size ${size} is not between 0 and ${this.size}`);
    }
  }

  private checkIndex(index: number, size: number): void {
    if (!isSafeSize(index) || index >= size) throw new RangeError(`leaf index ${index} is not below ${size}`);
  }
}

/**
 * The right edge of an append-only RFC 6962 tree: the roots of its perfect subtrees, one per set bit of
 * the size, largest first (a "compact range" from 0, as in transparency-dev/merkle). It holds at most
 * 53 hashes whatever the size, appends in amortised one hash and gives the root of its own size, which
 * is all a signer of the next checkpoint needs. Proofs for earlier leaves come from whoever keeps the
 * whole log (the nodes, or the leaves on disk), not from here.
 */
export class MerkleFrontier {
  private readonly scratch = new Uint8Array(1 + 2 * HASH_SIZE);

  private constructor(
    private readonly h: Sha256,
    private count: number,
    private readonly nodes: Uint8Array[],
  ) {}

  /** The frontier of the empty tree. */
  static empty(h: Sha256): MerkleFrontier {
    return new MerkleFrontier(h, 0, []);
  }

  /**
   * A frontier from its stored parts (see {@link hashes}): `size` and one 32-byte hash per set bit of
   * it, largest subtree first. Throws RangeError when the count does not fit the size.
   */
  static restore(h: Sha256, size: number, hashes: readonly Uint8Array[]): MerkleFrontier {
    if (!isSafeSize(size)) throw new RangeError(`tree size ${size} is not a safe size`);
    let bits = 0;
    for (let n = size; n > 0; n = Math.floor(n / 2)) bits += n % 2;
    if (hashes.length !== bits || hashes.some((x) => x.length !== HASH_SIZE)) {
      throw new RangeError(`a frontier of size ${size} holds ${bits} hashes of ${HASH_SIZE} bytes`);
    }
    return new MerkleFrontier(h, size, hashes.map((x) => x.slice()));
  }

  get size(): number {
    return this.count;
  }

  /** Appends one 32-byte leaf hash (see hashLeaf). */
  append(leafHash: Uint8Array): void {
    if (leafHash.length !== HASH_SIZE) throw new RangeError(`leaf hash must be ${HASH_SIZE} bytes`);
    let hash = leafHash;
    // Like a binary counter's carry: each low set bit of the size is a perfect subtree the new leaf completes.
    for (let n = this.count; n % 2 === 1; n = Math.floor(n / 2)) hash = this.children(this.nodes.pop()!, hash);
    this.nodes.push(hash === leafHash ? leafHash.slice() : hash);
    this.count++;
  }

  /** MTH of the whole tree: the subtree roots folded from the right. */
  root(): Uint8Array {
    if (this.count === 0) return emptyRoot(this.h);
    let r = this.nodes[this.nodes.length - 1]!;
    for (let i = this.nodes.length - 2; i >= 0; i--) r = this.children(this.nodes[i]!, r);
    return r.slice();
  }

  /** An independent copy, to try appends without moving this one. */
  clone(): MerkleFrontier {
    return new MerkleFrontier(this.h, this.count, this.nodes.map((x) => x.slice()));
  }

  /** The subtree roots, largest first (copies), to store beside a checkpoint and restore later. */
  hashes(): Uint8Array[] {
    return this.nodes.map((x) => x.slice());
  }

  private children(left: Uint8Array, right: Uint8Array): Uint8Array {
    this.scratch[0] = NODE_PREFIX;
    this.scratch.set(left, 1);
    this.scratch.set(right, 1 + HASH_SIZE);
    return this.h(this.scratch);
  }
}

export type ProofErrorCode =
  | 'bad-arguments'
  | 'wrong-hash-size'
  | 'wrong-proof-size'
  | 'root-mismatch'
  | 'empty-proof';

/** A proof failed or its inputs violate the preconditions. `code` is stable; `message` is for people. */
export class ProofError extends Error {
  override readonly name = 'ProofError';
  constructor(
    readonly code: ProofErrorCode,
    message: string,
  ) {
    super(message);
  }
}

function checkHashes(what: string, hashes: readonly Uint8Array[]): void {
  for (const x of hashes) {
    if (!(x instanceof Uint8Array) || x.length !== HASH_SIZE) {
      throw new ProofError('wrong-hash-size', `${what} must be ${HASH_SIZE}-byte hashes`);
    }
  }
}

/**
 * The path walk both RFC 9162 verifiers share: starting from node fn of a level whose last node is sn,
 * each proof hash is either a left sibling (`left`) or a right one (`right`). Throws ProofError when the
 * proof is longer or shorter than the path.
 */
function walkPath(
  fn: number,
  sn: number,
  path: readonly Uint8Array[],
  left: (c: Uint8Array) => void,
  right: (c: Uint8Array) => void,
): void {
  for (const c of path) {
    if (sn === 0) throw new ProofError('wrong-proof-size', 'proof is longer than the path');
    if (fn % 2 === 1 || fn === sn) {
      left(c);
      // On the right border the path skips levels where this node has no right sibling.
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      right(c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw new ProofError('wrong-proof-size', 'proof is shorter than the path');
}

/**
 * Verifies that leafHash is leaf `index` of the tree of `size` leaves whose root is `root`
 * (RFC 9162 section 2.1.3.2). Requires 0 <= index < size. Throws ProofError; returns nothing on success.
 */
export function verifyInclusion(
  h: Sha256,
  index: number,
  size: number,
  leafHash: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): void {
  if (!isSafeSize(index) || !isSafeSize(size) || index >= size) {
    throw new ProofError('bad-arguments', `leaf index ${index} is not below tree size ${size}`);
  }
  checkHashes('leaf hash and root', [leafHash, root]);
  checkHashes('proof entries', proof);
  let r = leafHash;
  walkPath(
    index,
    size - 1,
    proof,
    (c) => (r = hashChildren(h, c, r)),
    (c) => (r = hashChildren(h, r, c)),
  );
  if (!bytesEqual(r, root)) throw new ProofError('root-mismatch', 'inclusion proof does not lead to the root');
}

/**
 * Verifies that the tree of size m with root rootM is a prefix of the tree of size n with root rootN
 * (RFC 9162 section 2.1.4.2). Requires 0 <= m <= n. When m = n the proof must be empty and the roots
 * equal; when m = 0 the proof must be empty (every tree extends the empty one). Throws ProofError.
 */
export function verifyConsistency(
  h: Sha256,
  m: number,
  n: number,
  proof: readonly Uint8Array[],
  rootM: Uint8Array,
  rootN: Uint8Array,
): void {
  if (!isSafeSize(m) || !isSafeSize(n) || m > n) {
    throw new ProofError('bad-arguments', `consistency needs 0 <= m <= n, got m=${m} n=${n}`);
  }
  checkHashes('roots', [rootM, rootN]);
  checkHashes('proof entries', proof);
  if (m === 0 || m === n) {
    if (proof.length !== 0) throw new ProofError('wrong-proof-size', 'proof must be empty for this pair of sizes');
    if (m === n && !bytesEqual(rootM, rootN)) {
      throw new ProofError('root-mismatch', 'trees of equal size have different roots');
    }
    return;
  }
  if (proof.length === 0) throw new ProofError('empty-proof', 'consistency proof is empty');

  // When m is a power of two, its root is itself the first node of the path and is not sent.
  const path = exactLog2(m) >= 0 ? [rootM, ...proof] : [...proof];
  let fn = m - 1;
  let sn = n - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = path[0]!;
  let sr = path[0]!;
  walkPath(
    fn,
    sn,
    path.slice(1),
    (c) => {
      fr = hashChildren(h, c, fr);
      sr = hashChildren(h, c, sr);
    },
    (c) => (sr = hashChildren(h, sr, c)),
  );
  if (!bytesEqual(fr, rootM)) throw new ProofError('root-mismatch', 'proof does not reproduce the older root');
  if (!bytesEqual(sr, rootN)) throw new ProofError('root-mismatch', 'proof does not reproduce the newer root');
}
