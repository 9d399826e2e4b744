/**
 * A node's per-entry indexes live on disk (recordFile.ts): the answers that read them (entries and their
 * pages, inclusion and consistency proofs, receipts by tracker, a poll's entries, checkpoints by size)
 * are those of an in-memory tree over the same entries, and a node restarted on a store whose index
 * files are torn, missing or stale makes them again from entries.log and answers the same.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { existsSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toBase64, utf8 } from '../bytes.ts';
import { hashLeaf, MerkleTree } from '../merkle.ts';
import { nodeSha256 } from '../nodeCrypto.ts';
import { LedgerNode } from './ledgerNode.ts';
import { HashIndex } from './compactIndex.ts';
import { DiskHashIndex, IndexWriteError, PositionLists, RecordFile } from './recordFile.ts';
import { ballotEntry, ballotText, inProcessCluster, inProcessRound, openPollEntries, tempDataDir } from './testing.ts';

const h = nodeSha256;

const cluster = inProcessCluster;
const round = inProcessRound;

/** Temporary directories of the tests below, removed after each. */
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const scratchDir = (): string => {
  const dir = tempDataDir();
  dirs.push(dir);
  return dir;
};

describe('RecordFile', () => {
  it('reads back every record across write blocks, after truncates, releases and a reopen of its descriptor', () => {
    const dir = scratchDir();
    const file = new RecordFile(join(dir, 'numbers'), 8);
    for (let i = 0; i < 1000; i++) file.pushFloat64(i * 3 + 2 ** 40);
    expect(file.length).toBe(1000);
    for (const i of [0, 1, 255, 256, 257, 511, 512, 767, 999]) expect(file.getFloat64(i)).toBe(i * 3 + 2 ** 40);
    const read = (i: number): number => file.getFloat64(i);
    expect(file.countBelow(300 * 3 + 2 ** 40, read)).toBe(300);
    expect(file.countBelow(300 * 3 + 2 ** 40 + 1, read, 290, 400)).toBe(301);
    expect(file.countBelow(0, read, 500, 600)).toBe(500);
    // Cut below what was written, then grow again: the new records, never the old ones beyond the cut.
    file.truncate(300);
    for (let i = 300; i < 700; i++) file.pushFloat64(-i);
    expect(file.getFloat64(299)).toBe(299 * 3 + 2 ** 40);
    expect(file.getFloat64(300)).toBe(-300);
    expect(file.getFloat64(699)).toBe(-699);
    expect(() => file.getFloat64(700)).toThrow(RangeError);
    expect(file.getFloat64(10)).toBe(10 * 3 + 2 ** 40);
    file.release();
    expect(statSync(join(dir, 'numbers')).size).toBe(700 * 8);
    // Read again after giving back its buffers: from the span read before as from any other.
    expect(file.getFloat64(10)).toBe(10 * 3 + 2 ** 40);
    expect(file.getFloat64(650)).toBe(-650);
    file.release();
    expect(file.getFloat64(651)).toBe(-651);
    file.close();

    const hashes = new RecordFile(join(dir, 'hashes'), 32);
    const hashOf = (i: number): Uint8Array => h(utf8(String(i)));
    for (let i = 0; i < 600; i++) hashes.push(hashOf(i));
    for (const i of [0, 255, 256, 599]) expect(hashes.get(i)).toEqual(hashOf(i));
    hashes.truncate(10);
    expect(hashes.length).toBe(10);
    expect(hashes.get(9)).toEqual(hashOf(9));
    hashes.close();
  });
});

describe('RecordFile against an array, random operations', () => {
  it('agrees with an array through pushes, reads, truncates, flushes and releases in any order', () => {
    const dir = scratchDir();
    // A small deterministic generator (xorshift32), so a failure is the same on every run.
    let seed = 0x9e3779b9;
    const next = (n: number): number => {
      seed ^= seed << 13;
      seed >>>= 0;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      seed >>>= 0;
      return seed % n;
    };
    for (const width of [4, 8, 32]) {
      const file = new RecordFile(join(dir, `random-${width}`), width);
      const model: number[] = [];
      // A record's value depends on when it was pushed, so one pushed again after a truncate differs.
      let pushes = 0;
      const value = (i: number): number => (i * 7919 + ++pushes * 104729) % 2 ** 32;
      const read = (i: number): number => (width === 8 ? file.getFloat64(i) : width === 4 ? file.getUint32(i) : new DataView(file.get(i).buffer).getUint32(0, true));
      for (let step = 0; step < 4000; step++) {
        const op = next(100);
        if (op < 55) {
          const n = 1 + next(300);
          for (let k = 0; k < n; k++) {
            const v = value(model.length);
            model.push(v);
            if (width === 8) file.pushFloat64(v);
            else if (width === 4) file.pushUint32(v);
            else {
              const rec = new Uint8Array(32);
              new DataView(rec.buffer).setUint32(0, v, true);
              file.push(rec);
            }
          }
        } else if (op < 85) {
          if (model.length > 0) {
            const i = next(model.length);
            expect(read(i)).toBe(model[i]);
          }
        } else if (op < 92) {
          const n = next(model.length + 1);
          model.length = n;
          file.truncate(n);
        } else if (op < 96) file.flush();
        else file.release();
        expect(file.length).toBe(model.length);
      }
      for (let i = 0; i < model.length; i++) expect(read(i)).toBe(model[i]);
      file.close();
      expect(statSync(join(dir, `random-${width}`)).size).toBe(model.length * width);
    }
  });
});

describe('DiskHashIndex and PositionLists', () => {
  it('DiskHashIndex gives what HashIndex gives, from its memory part and its runs on disk', () => {
    const dir = scratchDir();
    // Runs of one fence and of several (a run's hashes cross blocks of 256 records).
    for (const limit of [100, 600]) {
      const disk = new DiskHashIndex(join(dir, `trackers-${limit}`), limit);
      const memory = new HashIndex();
      for (let i = 0; i < 2050; i++) {
        const key = `t-${i % 700}`;
        disk.add(key, i);
        memory.add(key, i);
      }
      for (let k = 0; k < 700; k++) expect(disk.candidates(`t-${k}`)).toEqual(memory.candidates(`t-${k}`));
      expect(disk.candidates('never')).toEqual(memory.candidates('never'));
      expect(disk.candidates('t-7').slice(0, 3)).toEqual([1407, 707, 7]);
      disk.close();
    }
  });

  it('DiskHashIndex merges runs of equal length: at most one run of each length, their files alone on disk', () => {
    const dir = scratchDir();
    const limit = 300;
    const path = join(dir, 'trackers');
    const disk = new DiskHashIndex(path, limit);
    const memory = new HashIndex();
    const keys = 5000;
    let added = 0;
    // 37 runs' worth (100101 in binary: runs of 32, 4 and 1 times the limit), plus some in memory.
    for (; added < 37 * limit + 123; added++) {
      // Keys repeat (a re-vote's tracker is new, but hashes may collide): several indexes per key.
      const key = `k-${(added * 7919) % keys}`;
      disk.add(key, added);
      memory.add(key, added);
      const spills = Math.floor((added + 1) / limit);
      // Just after a run is written its merges are under way (their inputs still answer look-ups) ...
      if ((added + 1) % limit === 0) expect(disk.runCount).toBeGreaterThanOrEqual(spills.toString(2).replace(/0/g, '').length);
      // ... and done before the memory part fills again: one run of each length, the merges' inputs gone.
      if ((added + 1) % limit === limit - 1) {
        expect(disk.runCount).toBe(spills.toString(2).replace(/0/g, '').length);
        expect(readdirSync(path)).toHaveLength(2 * disk.runCount);
      }
      // Look-ups in the middle of merges find everything.
      if (added % 97 === 0) expect(disk.candidates(key)).toEqual(memory.candidates(key));
    }
    expect(disk.runCount).toBe(3);
    for (let k = 0; k < keys; k += 7) expect(disk.candidates(`k-${k}`)).toEqual(memory.candidates(`k-${k}`));
    expect(disk.candidates('never')).toEqual([]);
    disk.close();
    // A new index on the same directory starts empty.
    const again = new DiskHashIndex(path, limit);
    expect(readdirSync(path)).toEqual([]);
    expect(again.candidates('k-0')).toEqual([]);
    again.close();
  });

  it('PositionLists keeps every list whole while only a few keep their files open', () => {
    const dir = scratchDir();
    const lists = new PositionLists(join(dir, 'polls'), 2);
    for (let i = 0; i < 3000; i++) lists.push(`p${i % 5}`, i);
    // Twice round: each list is read, given back while the others are read, and read again.
    for (let pass = 0; pass < 2; pass++) {
      for (let p = 0; p < 5; p++) {
        const list = lists.get(`p${p}`)!;
        expect(list.length).toBe(600);
        expect(list.get(0)).toBe(p);
        expect(list.get(599)).toBe(2995 + p);
        expect(list.countBelow(1000)).toBe(200);
      }
    }
    expect(lists.get('none')).toBeUndefined();
    lists.close();
    // A second one on the same directory starts empty.
    const again = new PositionLists(join(dir, 'polls'), 2);
    expect(readdirSync(join(dir, 'polls'))).toEqual([]);
    again.close();
  });
});

describe('a node with its indexes on disk', () => {
  let nodes: LedgerNode[] = [];
  afterEach(() => {
    for (const n of nodes) n.close();
    nodes = [];
  });

  it('answers as an in-memory tree over the same entries, and the same again after its index files are torn, removed or stale', async () => {
    // Small limits, so that trackers spill into several sorted runs and poll files give back their
    // descriptor and buffers between uses.
    const c = cluster(undefined, { trackersInMemory: 700, openPollFiles: 2 });
    nodes = c.nodes;
    const polls = ['da', 'db', 'dc'];
    const held: string[] = [];
    let prev: string | null = null;
    const opening = polls.flatMap((p) => openPollEntries(p));
    prev = await round(nodes, held, opening, prev);
    held.push(...opening);
    // 4,500 ballots of three polls, interleaved, in rounds of uneven sizes (so that blocks of 16 leaves,
    // write blocks of the index files and rounds all end in different places).
    const ballots = Array.from({ length: 4500 }, (_, k) => ballotText({ pollId: polls[k % 3]!, voter: `v${k}` }));
    for (let at = 0, r = 0; at < ballots.length; r++) {
      const batch = ballots.slice(at, at + 300 + ((r * 137) % 401));
      prev = await round(nodes, held, batch, prev);
      held.push(...batch);
      at += batch.length;
    }
    const reference = new MerkleTree(h);
    for (const t of held) reference.append(hashLeaf(h, utf8(t)));
    const n = held.length;
    const sizes = [1, 2, 15, 16, 17, 1000, 1024, 1025, 2047, 3333, n - 1, n];
    const indexes = [0, 1, 15, 16, 511, 1023, 1024, 2500, n - 2, n - 1];
    const trackers = [0, 1, 699, 700, 701, 2999, 4499].map((k) => ({ k, tracker: (ballotEntry({ pollId: polls[k % 3]!, voter: `v${k}` }).data as { tracker: string }).tracker }));

    const check = (node: LedgerNode): void => {
      expect(node.storeProblem).toBeNull();
      expect(node.size).toBe(n);
      for (const size of sizes) {
        for (const index of indexes.filter((i) => i < size)) expect(node.inclusionProof(index, size)).toEqual(reference.inclusionProof(index, size).map(toBase64));
        for (const m of sizes.filter((s) => s <= size)) expect(node.consistencyProof(m, size)).toEqual(reference.consistencyProof(m, size).map(toBase64));
      }
      const pages: string[] = [];
      while (pages.length < n) pages.push(...node.entries(pages.length, n).map((e) => e.entry));
      expect(pages).toEqual(held);
      for (const pollId of polls) {
        const got: { index: number; entry: string }[] = [];
        for (let start: number | null = 0; start !== null; ) {
          const page = node.pollEntries(pollId, start);
          got.push(...page.entries);
          start = page.next;
        }
        expect(got).toEqual(held.map((entry, index) => ({ index, entry })).filter((e) => (JSON.parse(e.entry) as { pollId: string }).pollId === pollId));
      }
      for (const { k, tracker } of trackers) {
        const receipt = node.receipt(tracker)!;
        expect(receipt.leafIndex).toBe(opening.length + k);
        expect(receipt.inclusionProof).toEqual(reference.inclusionProof(opening.length + k, n).map(toBase64));
      }
      expect(node.checkpointAt(n)).toContain(`\n${n}\n`);
      expect(node.checkpointAt(opening.length)).toContain(`\n${opening.length}\n`);
      expect(node.checkpointAt(n - 1)).toBeNull();
    };
    check(nodes[0]!);

    // Torn, removed and stale index files: the node makes them again from its logs at start.
    const indexDir = join((nodes[0] as unknown as { options: { dataDir: string } }).options.dataDir, 'index');
    const again = c.restart(0, () => {
      expect(readdirSync(indexDir)).toEqual(expect.arrayContaining(['entries.ends', 'finals.ends', 'signed.ends', 'final-sizes', 'merkle-0.hashes', 'trackers', 'polls']));
      // Six runs of 700 written, merged into one of 2,800 and two of 700 (whose merge was under way:
      // its output is removed when the node closes).
      const runs = readdirSync(join(indexDir, 'trackers')).filter((f) => f.endsWith('.run')).sort();
      expect(runs.map((f) => statSync(join(indexDir, 'trackers', f)).size).sort((a, b) => a - b)).toEqual([700 * 8, 700 * 8, 4 * 700 * 8]);
      rmSync(join(indexDir, 'polls', '1.positions'));
      truncateSync(join(indexDir, 'trackers', runs[0]!), 1001);
      expect(statSync(join(indexDir, 'entries.ends')).size).toBe(n * 8);
      truncateSync(join(indexDir, 'entries.ends'), n * 8 - 5);
      rmSync(join(indexDir, 'merkle-0.hashes'));
      writeFileSync(join(indexDir, 'merkle-1.hashes'), Buffer.alloc(4096, 7));
      writeFileSync(join(indexDir, 'final-sizes'), Buffer.alloc(40, 0));
      rmSync(join(indexDir, 'signed.ends'));
    });
    check(again);
    expect(existsSync(join(indexDir, 'merkle-0.hashes'))).toBe(true);

    // The restarted node goes on: one more round, and its answers still match.
    const more = Array.from({ length: 40 }, (_, k) => ballotText({ pollId: 'da', voter: `w${k}` }));
    await round(nodes, held, more, prev);
    for (const t of more) reference.append(hashLeaf(h, utf8(t)));
    expect(again.inclusionProof(n + 39, n + 40)).toEqual(reference.inclusionProof(n + 39, n + 40).map(toBase64));
    expect(again.consistencyProof(n, n + 40)).toEqual(reference.consistencyProof(n, n + 40).map(toBase64));
  });

  it('signs and serves nothing after an index file could not be written, until a restart makes its indexes again', async () => {
    const c = cluster();
    nodes = c.nodes;
    const opening = openPollEntries('fw');
    const prev = await round(nodes, [], opening, null);
    const ballots = Array.from({ length: 300 }, (_, k) => ballotText({ pollId: 'fw', voter: `v${k}` }));
    // The first index write of the next round fails (as on a full disk): node 1's, which is asked first.
    const flush = vi.spyOn(RecordFile.prototype, 'flush').mockImplementationOnce(() => {
      throw new IndexWriteError('disk full (test)');
    });
    await expect(round(nodes, opening, ballots, prev)).rejects.toThrow(IndexWriteError);
    flush.mockRestore();
    expect(nodes[0]!.storeProblem).toContain('an index file could not be written');
    expect(() => nodes[0]!.entries(0, 10)).toThrow(/store has a problem/);
    await expect(nodes[0]!.propose({ start: 0, entries: [], checkpoint: '' })).rejects.toThrow(/does not match/);

    // Restarted, it holds the round's entries (durable before the failed index write) and signs the
    // round proposed again, like every other node.
    const again = c.restart(0);
    expect(again.storeProblem).toBeNull();
    expect(again.size).toBe(opening.length + ballots.length);
    await round(nodes, opening, ballots, prev);
    const all = [...opening, ...ballots];
    const got: string[] = [];
    for (let start: number | null = 0; start !== null; ) {
      const page = again.pollEntries('fw', start);
      got.push(...page.entries.map((e) => e.entry));
      start = page.next;
    }
    expect(got).toEqual(all);
    const tracker = (ballotEntry({ pollId: 'fw', voter: 'v299' }).data as { tracker: string }).tracker;
    expect(again.receipt(tracker)?.leafIndex).toBe(all.length - 1);
  });
});
