import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { fromHex, toHex, utf8 } from './bytes.ts';
import { nobleSha256 as h } from './hash.ts';
import { nodeSha256 } from './nodeCrypto.ts';
import {
  MerkleFrontier,
  MerkleTree,
  ProofError,
  emptyRoot,
  hashChildren,
  hashLeaf,
  splitPoint,
  verifyConsistency,
  verifyInclusion,
} from './merkle.ts';

interface Vectors {
  emptyRoot: string;
  leaves: string[];
  roots: string[];
  inclusion: { leafIndex: number; size: number; proof: string[] }[];
  consistency: { m: number; n: number; proof: string[] }[];
}
const vectors = JSON.parse(
  readFileSync(new URL('./testdata/rfc6962-vectors.json', import.meta.url), 'utf8'),
) as Vectors;
const hex = (s: string): Uint8Array => fromHex(s)!;

// The RFC 6962 definitions written as plainly as possible, to compare the cached tree against.
function refRoot(leaves: Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return h(new Uint8Array(0));
  if (leaves.length === 1) return leaves[0]!;
  const k = splitPoint(leaves.length);
  return hashChildren(h, refRoot(leaves.slice(0, k)), refRoot(leaves.slice(k)));
}
function refPath(m: number, leaves: Uint8Array[]): Uint8Array[] {
  if (leaves.length <= 1) return [];
  const k = splitPoint(leaves.length);
  return m < k
    ? [...refPath(m, leaves.slice(0, k)), refRoot(leaves.slice(k))]
    : [...refPath(m - k, leaves.slice(k)), refRoot(leaves.slice(0, k))];
}
function refSubproof(m: number, leaves: Uint8Array[], b: boolean): Uint8Array[] {
  const n = leaves.length;
  if (m === n) return b ? [] : [refRoot(leaves)];
  const k = splitPoint(n);
  return m <= k
    ? [...refSubproof(m, leaves.slice(0, k), b), refRoot(leaves.slice(k))]
    : [...refSubproof(m - k, leaves.slice(k), false), refRoot(leaves.slice(0, k))];
}

const leafHashes = (count: number): Uint8Array[] =>
  Array.from({ length: count }, (_, i) => hashLeaf(h, utf8(`leaf ${i}`)));

function treeOf(leaves: Uint8Array[]): MerkleTree {
  const tree = new MerkleTree(h);
  for (const l of leaves) tree.append(l);
  return tree;
}

function codeOf(fn: () => void): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    if (e instanceof ProofError) return e.code;
    throw e;
  }
}

describe('RFC 6962 hashing', () => {
  it('hashes the empty tree, leaves and nodes with domain separation', () => {
    expect(toHex(emptyRoot(h))).toBe(vectors.emptyRoot);
    expect(toHex(hashLeaf(h, new Uint8Array(0)))).toBe(vectors.roots[0]);
    const a = hashLeaf(h, hex('00'));
    expect(toHex(hashLeaf(h, new Uint8Array(0)))).not.toBe(toHex(h(new Uint8Array(0))));
    expect(hashChildren(h, a, a)).toEqual(h(new Uint8Array([1, ...a, ...a])));
  });

  it('reproduces the reference roots of the 8-leaf tree at every size', () => {
    const tree = new MerkleTree(h);
    expect(toHex(tree.root())).toBe(vectors.emptyRoot);
    for (const leaf of vectors.leaves) tree.append(hashLeaf(h, hex(leaf)));
    vectors.roots.forEach((root, i) => expect(toHex(tree.root(i + 1))).toBe(root));
    expect(toHex(tree.root())).toBe('5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328');
  });

  it('reproduces and verifies the reference inclusion and consistency proofs', () => {
    const tree = treeOf(vectors.leaves.map((l) => hashLeaf(h, hex(l))));
    for (const v of vectors.inclusion) {
      expect(tree.inclusionProof(v.leafIndex, v.size).map(toHex)).toEqual(v.proof);
      const leaf = hashLeaf(h, hex(vectors.leaves[v.leafIndex]!));
      verifyInclusion(h, v.leafIndex, v.size, leaf, v.proof.map(hex), hex(vectors.roots[v.size - 1]!));
    }
    for (const v of vectors.consistency) {
      expect(tree.consistencyProof(v.m, v.n).map(toHex)).toEqual(v.proof);
      verifyConsistency(h, v.m, v.n, v.proof.map(hex), hex(vectors.roots[v.m - 1]!), hex(vectors.roots[v.n - 1]!));
    }
  });
});

describe('MerkleTree against the naive reference, sizes 1..70', () => {
  const all = leafHashes(70);
  const tree = treeOf(all);

  it('computes every root, inclusion proof and consistency proof like the reference', () => {
    for (let n = 1; n <= 70; n++) {
      const leaves = all.slice(0, n);
      const root = refRoot(leaves);
      expect(tree.root(n)).toEqual(root);
      for (let i = 0; i < n; i++) {
        const proof = tree.inclusionProof(i, n);
        expect(proof).toEqual(refPath(i, leaves));
        verifyInclusion(h, i, n, all[i]!, proof, root);
      }
      for (let m = 1; m <= n; m++) {
        const proof = tree.consistencyProof(m, n);
        expect(proof).toEqual(m === n ? [] : refSubproof(m, leaves, true));
        verifyConsistency(h, m, n, proof, refRoot(all.slice(0, m)), root);
      }
    }
  });

  it('gives the same answers for an earlier size after more appends', () => {
    const small = treeOf(all.slice(0, 13));
    expect(tree.root(13)).toEqual(small.root());
    expect(tree.inclusionProof(5, 13)).toEqual(small.inclusionProof(5));
    expect(tree.consistencyProof(7, 13)).toEqual(small.consistencyProof(7));
  });

  it('truncate drops a batch: roots and proofs as if it had never been appended, and appends go on', () => {
    for (const [keep, extra] of [[0, 5], [13, 9], [16, 17], [31, 1], [32, 38]] as const) {
      const t = treeOf(all.slice(0, keep + extra));
      t.truncate(keep);
      expect(t.size).toBe(keep);
      for (const leaf of all.slice(keep, 70)) t.append(leaf);
      for (const n of [1, keep, keep + 1, 70].filter((n) => n >= 1 && n <= 70)) {
        expect(t.root(n)).toEqual(tree.root(n));
        expect(t.consistencyProof(1, n)).toEqual(tree.consistencyProof(1, n));
      }
      expect(t.inclusionProof(keep > 0 ? keep - 1 : 0, 70)).toEqual(tree.inclusionProof(keep > 0 ? keep - 1 : 0, 70));
    }
  });
});

describe('MerkleTree keeping no low levels (a leaf source), against the full tree', () => {
  const all = leafHashes(70);
  const full = treeOf(all);

  it('gives every root and proof the full tree gives, reading back only what it does not keep, also after truncate', () => {
    for (const keptFrom of [1, 4]) {
      let reads = 0;
      const source = (from: number, to: number): Uint8Array[] => {
        reads++;
        return all.slice(from, Math.min(to, readable));
      };
      let readable = 70;
      const tree = new MerkleTree(h, { leaves: source, keptFrom });
      for (const leaf of all) tree.append(leaf);
      expect(tree.size).toBe(70);
      for (let n = 1; n <= 70; n += n < 40 ? 1 : 7) {
        expect(tree.root(n)).toEqual(full.root(n));
        for (let i = 0; i < n; i++) expect(tree.inclusionProof(i, n)).toEqual(full.inclusionProof(i, n));
        for (let m = 1; m <= n; m++) expect(tree.consistencyProof(m, n)).toEqual(full.consistencyProof(m, n));
      }
      expect(tree.leafHash(33)).toEqual(all[33]);
      expect(reads).toBeGreaterThan(0);
      // The root of its own size needs no read: the last, incomplete block is kept.
      reads = 0;
      tree.root();
      expect(reads).toBe(0);
      // Leaves not readable yet (appended, not stored): only the own size's root can be answered.
      readable = 40;
      const t = new MerkleTree(h, { leaves: source, keptFrom });
      for (const leaf of all.slice(0, 70)) t.append(leaf);
      expect(t.root()).toEqual(full.root(70));
      t.truncate(37);
      for (const leaf of all.slice(37, 70)) t.append(leaf);
      expect(t.root()).toEqual(full.root(70));
      // With blocks of 16, the proof needs leaves 40..47, which the source cannot give yet.
      if (keptFrom === 4) expect(() => t.inclusionProof(36, 70)).toThrow(RangeError);
      readable = 70;
      expect(t.inclusionProof(36, 70)).toEqual(full.inclusionProof(36, 70));
      for (const keep of [0, 13, 16, 31, 32]) {
        const u = new MerkleTree(h, { leaves: source, keptFrom });
        for (const leaf of all) u.append(leaf);
        u.truncate(keep);
        expect(u.size).toBe(keep);
        for (const leaf of all.slice(keep)) u.append(leaf);
        expect(u.root(70)).toEqual(full.root(70));
        if (keep > 0) expect(u.root(keep)).toEqual(full.root(keep));
      }
    }
    const short = new MerkleTree(h, { leaves: () => [], keptFrom: 2 });
    for (const leaf of all.slice(0, 9)) short.append(leaf);
    expect(() => short.root(6)).toThrow(RangeError);
  });
});

describe('MerkleFrontier', () => {
  const all = leafHashes(70);

  it('gives the reference root at every size 0..70 with at most one hash per bit of the size', () => {
    const frontier = MerkleFrontier.empty(h);
    expect(frontier.root()).toEqual(emptyRoot(h));
    for (let n = 1; n <= 70; n++) {
      frontier.append(all[n - 1]!);
      expect(frontier.size).toBe(n);
      expect(frontier.root()).toEqual(refRoot(all.slice(0, n)));
      expect(frontier.hashes().length).toBe(n.toString(2).replaceAll('0', '').length);
    }
  });

  it('restores from its stored hashes and clones without moving the original', () => {
    const frontier = MerkleFrontier.empty(h);
    for (const leaf of all.slice(0, 45)) frontier.append(leaf);
    const restored = MerkleFrontier.restore(h, 45, frontier.hashes());
    const copy = restored.clone();
    for (const leaf of all.slice(45, 70)) copy.append(leaf);
    expect(restored.root()).toEqual(refRoot(all.slice(0, 45)));
    expect(copy.root()).toEqual(refRoot(all));
    expect(() => MerkleFrontier.restore(h, 47, frontier.hashes())).toThrow(RangeError);
    expect(() => MerkleFrontier.restore(h, 45, [...frontier.hashes().slice(1), new Uint8Array(31)])).toThrow(RangeError);
  });
});

describe('tampered proofs fail', () => {
  const all = leafHashes(70);
  const tree = treeOf(all);
  const flip = (proof: Uint8Array[], i: number): Uint8Array[] =>
    proof.map((p, j) => (j === i ? p.map((b, k) => (k === 0 ? b ^ 8 : b)) : p));

  // Not probed: claiming size n+1 instead of n. When the right edge of both trees has the same shape the
  // proof verifies with the same nodes (e.g. index 0 of 3 vs 4), which is why the size must come from a
  // signed checkpoint, never from the proof's sender.
  it('rejects every corruption of every inclusion proof for sizes up to 40', () => {
    for (let n = 1; n <= 40; n++) {
      const root = tree.root(n);
      for (let i = 0; i < n; i++) {
        const proof = tree.inclusionProof(i, n);
        const leaf = all[i]!;
        const bad: (() => void)[] = [
          () => verifyInclusion(h, i, n, all[(i + 1) % 70]!, proof, root),
          () => verifyInclusion(h, i, n, leaf, proof, tree.root(n + 1)),
          () => verifyInclusion(h, i, n, leaf, [...proof, root], root),
          () => verifyInclusion(h, i, n, leaf, [root, ...proof], root),
          () => verifyInclusion(h, i, n * 2, leaf, proof, root),
          () => verifyInclusion(h, n, n, leaf, proof, root),
          ...proof.map((_, j) => () => verifyInclusion(h, i, n, leaf, flip(proof, j), root)),
        ];
        if (i + 1 < n) bad.push(() => verifyInclusion(h, i + 1, n, leaf, proof, root));
        if (proof.length > 0) bad.push(() => verifyInclusion(h, i, n, leaf, proof.slice(1), root));
        for (const attempt of bad) expect(codeOf(attempt)).toBeDefined();
      }
    }
  });

  it('rejects every corruption of every consistency proof for sizes up to 40', () => {
    for (let n = 2; n <= 40; n++) {
      const rootN = tree.root(n);
      for (let m = 1; m < n; m++) {
        const rootM = tree.root(m);
        const proof = tree.consistencyProof(m, n);
        const bad: (() => void)[] = [
          () => verifyConsistency(h, m, n, proof, rootN, rootM),
          () => verifyConsistency(h, m, n, proof, tree.root(m + 1), rootN),
          () => verifyConsistency(h, m, n, proof, rootM, tree.root(n + 1)),
          () => verifyConsistency(h, m, n, [], rootM, rootN),
          () => verifyConsistency(h, m, n, [...proof, rootM], rootM, rootN),
          () => verifyConsistency(h, m, n, [proof[0]!, ...proof], rootM, rootN),
          () => verifyConsistency(h, m, n, proof.slice(0, -1), rootM, rootN),
          () => verifyConsistency(h, m - 1, n, proof, rootM, rootN),
          () => verifyConsistency(h, m, n * 2, proof, rootM, rootN),
          () => verifyConsistency(h, n, m, proof, rootM, rootN),
          ...proof.map((_, j) => () => verifyConsistency(h, m, n, flip(proof, j), rootM, rootN)),
        ];
        bad.forEach((attempt, k) => expect(codeOf(attempt), `m=${m} n=${n} case ${k}`).toBeDefined());
      }
    }
  });

  it('states why with a stable code', () => {
    const root = tree.root(8);
    const proof = tree.inclusionProof(3, 8);
    expect(codeOf(() => verifyInclusion(h, 8, 8, all[3]!, proof, root))).toBe('bad-arguments');
    expect(codeOf(() => verifyInclusion(h, 3, 8, all[3]!.slice(1), proof, root))).toBe('wrong-hash-size');
    expect(codeOf(() => verifyInclusion(h, 3, 8, all[3]!, proof.slice(1), root))).toBe('wrong-proof-size');
    expect(codeOf(() => verifyInclusion(h, 3, 8, all[4]!, proof, root))).toBe('root-mismatch');
    expect(codeOf(() => verifyConsistency(h, 3, 8, [], tree.root(3), root))).toBe('empty-proof');
    expect(codeOf(() => verifyConsistency(h, 0, 8, [], tree.root(0), root))).toBeUndefined();
    expect(codeOf(() => verifyConsistency(h, 0, 8, [root], tree.root(0), root))).toBe('wrong-proof-size');
    expect(codeOf(() => verifyConsistency(h, 8, 8, [], root, root))).toBeUndefined();
    expect(codeOf(() => verifyConsistency(h, 8, 8, [], tree.root(7), root))).toBe('root-mismatch');
  });

  it('refuses sizes and indices outside the tree', () => {
    expect(() => tree.root(71)).toThrow(RangeError);
    expect(() => tree.inclusionProof(5, 5)).toThrow(RangeError);
    expect(() => tree.consistencyProof(6, 5)).toThrow(RangeError);
    expect(() => tree.append(new Uint8Array(31))).toThrow(RangeError);
  });
});

describe('MerkleTree at scale', () => {
  it('appends 250,000 leaves and answers a root and proofs from cached subtrees', () => {
    const n = 250_000;
    const leaves = Array.from({ length: n }, (_, i) => {
      const b = new Uint8Array(32);
      new DataView(b.buffer).setUint32(0, i);
      return b;
    });
    const started = performance.now();
    const tree = new MerkleTree(h);
    for (const l of leaves) tree.append(l);
    const root = tree.root();
    const proof = tree.inclusionProof(123_457);
    const appended = performance.now();
    verifyInclusion(h, 123_457, n, leaves[123_457]!, proof, root);
    const older = tree.root(200_001);
    verifyConsistency(h, 200_001, n, tree.consistencyProof(200_001), older, root);
    const elapsed = performance.now() - started;
    // Printed, never asserted: timing depends on the machine.
    console.log(
      `MerkleTree (noble sha256): ${n} appends + root + proof ${Math.round(appended - started)} ms, total ${Math.round(elapsed)} ms`,
    );
    // The same tree with node:crypto hashing gives the same root.
    const fast = performance.now();
    const nodeTree = new MerkleTree(nodeSha256);
    for (const l of leaves) nodeTree.append(l);
    expect(nodeTree.root()).toEqual(root);
    console.log(`MerkleTree (node sha256): ${n} appends + root ${Math.round(performance.now() - fast)} ms`);
  });
});
