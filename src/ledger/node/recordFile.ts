/**
 * A node's per-entry indexes on disk: files of fixed-width records (8-byte line end offsets, 32-byte
 * Merkle subtree hashes, 4-byte log positions), appended and read back with positional reads, so that
 * what a node keeps in memory for them is bounded whatever the log's length.
 *
 * Crash model: entries.log is the source of truth. An index file is made afresh (truncated) when the
 * node opens its store and refilled from entries.log in the start-up pass the node makes anyway (it
 * replays every entry to rebuild its tree and checker), so an index file is never trusted across a
 * restart: a torn or missing one, or one a crash left stale, costs nothing. Nor is it fsynced: the
 * round's one fsync is entries.log's.
 *
 * In memory a file keeps at most two buffers: the records not written yet (up to BLOCK, written a block
 * at a time, so a round pays a write now and then, not one per entry) and the last span read (up to
 * BLOCK records and 2 KiB: the read cache). A file whose owner goes quiet can `release` them.
 */
import { closeSync, ftruncateSync, mkdirSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { hash32, HashIndex } from './compactIndex.ts';

/**
 * A write to an index file failed (disk full, I/O error). The file itself stays consistent (the records
 * stay pending), but its owner may have been midway through a change of several files: the ledger node
 * then stops signing and serving until a restart makes its indexes again from entries.log.
 */
export class IndexWriteError extends Error {
  override readonly name = 'IndexWriteError';
}

/** Records per write and per cached read. */
const BLOCK = 256;
/** Most bytes one cached read takes (a Merkle level's random reads for a proof need one hash each). */
const READ_BYTES = 2048;

export class RecordFile {
  private fd: number | null;
  private count = 0;
  /** Records [0, flushed) are in the file; [flushed, count) are in `pending`. */
  private flushed = 0;
  /** Records the file holds, some of them perhaps beyond a truncate (overwritten by later writes). */
  private written = 0;
  private pending: Buffer | null = null;
  /** One cached block of the file: records [cacheFrom, cacheFrom + cacheCount). */
  private cache: Buffer | null = null;
  private cacheFrom = -1;
  private cacheCount = 0;
  /** Records per cached read. */
  private readonly readRecords: number;

  /** Creates (or empties) the file at `path`: its records are filled again by the caller. */
  constructor(
    readonly path: string,
    readonly width: number,
  ) {
    this.fd = openSync(path, 'w+', 0o600);
    this.readRecords = Math.max(1, Math.min(BLOCK, Math.floor(READ_BYTES / width)));
  }

  get length(): number {
    return this.count;
  }

  push(record: Uint8Array): void {
    if (record.length !== this.width) throw new RangeError(`a record of ${this.path} is ${this.width} bytes`);
    this.slotForPush().set(record, (this.count - this.flushed) * this.width);
    this.count++;
  }

  pushFloat64(value: number): void {
    this.slotForPush().writeDoubleLE(value, (this.count - this.flushed) * this.width);
    this.count++;
  }

  pushUint32(value: number): void {
    this.slotForPush().writeUInt32LE(value, (this.count - this.flushed) * this.width);
    this.count++;
  }

  pushUint32Pair(a: number, b: number): void {
    const slot = this.slotForPush();
    const at = (this.count - this.flushed) * this.width;
    slot.writeUInt32LE(a, at);
    slot.writeUInt32LE(b, at + 4);
    this.count++;
  }

  /** Record i (a copy). */
  get(i: number): Uint8Array {
    const [buf, at] = this.locate(i);
    return new Uint8Array(buf.subarray(at, at + this.width));
  }

  getFloat64(i: number): number {
    const [buf, at] = this.locate(i);
    return buf.readDoubleLE(at);
  }

  getUint32(i: number): number {
    const [buf, at] = this.locate(i);
    return buf.readUInt32LE(at);
  }

  getUint32Pair(i: number): [number, number] {
    const [buf, at] = this.locate(i);
    return [buf.readUInt32LE(at), buf.readUInt32LE(at + 4)];
  }

  /**
   * The number of records in [lo, hi) below `bound`, plus lo, for records that ascend as numbers read by
   * `read` (a binary search over that range only: the caller bounds it, so it reads few blocks).
   */
  countBelow(bound: number, read: (i: number) => number, lo = 0, hi = this.count): number {
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      if (read(mid) < bound) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Drops the records from `n` on (a batch appended to check a proposed root that did not match). */
  truncate(n: number): void {
    if (n >= this.count) return;
    this.count = n;
    if (n < this.flushed) {
      // Later writes overwrite what lies beyond (release cuts it); the file past `flushed` is never read.
      this.flushed = n;
      this.dropCache();
    }
  }

  /** Writes the pending records to the file (page cache only). */
  flush(): void {
    if (this.count === this.flushed || !this.pending) return;
    const bytes = (this.count - this.flushed) * this.width;
    try {
      for (let off = 0; off < bytes; ) off += writeSync(this.openFd(), this.pending, off, bytes - off, this.flushed * this.width + off);
    } catch (e) {
      throw new IndexWriteError(`writing ${this.path}: ${(e as Error).message}`, { cause: e });
    }
    this.flushed = this.count;
    this.written = Math.max(this.written, this.flushed);
    // A cached block may end where the file ended: it no longer covers what is now there.
    this.dropCache();
  }

  /** Writes what is pending and gives back the buffers and the descriptor (reopened when next used). */
  release(): void {
    this.flush();
    if (this.written > this.flushed) {
      ftruncateSync(this.openFd(), this.flushed * this.width);
      this.written = this.flushed;
    }
    this.pending = null;
    this.cache = null;
    this.dropCache();
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  close(): void {
    this.release();
  }

  private openFd(): number {
    this.fd ??= openSync(this.path, 'r+');
    return this.fd;
  }

  private slotForPush(): Buffer {
    if (this.count - this.flushed === BLOCK) this.flush();
    this.pending ??= Buffer.alloc(BLOCK * this.width);
    return this.pending;
  }

  private dropCache(): void {
    this.cacheFrom = -1;
    this.cacheCount = 0;
  }

  /** The buffer holding record i and its byte offset there. */
  private locate(i: number): [Buffer, number] {
    if (!Number.isInteger(i) || i < 0 || i >= this.count) throw new RangeError(`record ${i} of ${this.path} is outside 0..${this.count - 1}`);
    if (i >= this.flushed) return [this.pending!, (i - this.flushed) * this.width];
    if (i < this.cacheFrom || i >= this.cacheFrom + this.cacheCount) {
      const from = i - (i % this.readRecords);
      const n = Math.min(this.readRecords, this.flushed - from);
      this.cache ??= Buffer.alloc(this.readRecords * this.width);
      const bytes = n * this.width;
      for (let off = 0; off < bytes; ) {
        const got = readSync(this.openFd(), this.cache, off, bytes - off, from * this.width + off);
        if (got === 0) throw new Error(`${this.path} is shorter than its ${this.flushed} records`);
        off += got;
      }
      this.cacheFrom = from;
      this.cacheCount = n;
    }
    return [this.cache!, (i - this.cacheFrom) * this.width];
  }
}

/** One sorted run of a DiskHashIndex: (hash, index) pairs ascending, and every BLOCK-th hash of them. */
interface Run {
  pairs: RecordFile;
  /** The hash of records 0, BLOCK, 2 BLOCK, ... (4 bytes each). */
  fences: RecordFile;
}

/**
 * A multimap from a string's 32-bit hash to entry indexes (ballot trackers), on disk: the newest
 * `memoryLimit` additions in a {@link HashIndex} in memory, older ones in sorted runs of 8-byte records
 * (hash, index), each in its own file with a file of its fences (every BLOCK-th hash) beside it. A run is
 * written when the memory part fills, and two runs of the same length are merged into one (a binary
 * counter: runs of memoryLimit, 2 memoryLimit, 4 memoryLimit, ... records, at most one of each, plus one
 * being merged), so a look-up reads a few fences and one or two blocks in each of about
 * log2(entries / memoryLimit) runs (5 at four million, where unmerged runs were 61), plus the memory part.
 * Like HashIndex it returns every index whose key hashes alike, newest first, and the caller checks each
 * against the entry on disk.
 *
 * Merges are done a little at each add (records streamed a block at a time: bounded memory), paced to
 * finish before the memory part fills again, so no add waits for a whole merge (a merge of two million
 * records at once took 0.4 s: BENCHMARKS.md, bench:tracker-index). Until a merge is done its two runs
 * answer look-ups and its output does not.
 */
export class DiskHashIndex {
  private readonly recent = new HashIndex();
  private recentCount = 0;
  /** Oldest (longest) first. */
  private readonly runs: Run[] = [];
  private runsMade = 0;
  /** The merge under way: runs[at] and runs[at + 1] into `out`, read up to i and j. */
  private merging: { at: number; out: Run; i: number; j: number } | null = null;
  /** Records the merges that the last run written calls for still have to move. */
  private toMove = 0;

  /** Empties `dir` (the index is refilled by its owner's start-up pass) and keeps its runs there. */
  constructor(
    private readonly dir: string,
    private readonly memoryLimit = 1 << 16,
  ) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  /** How many sorted runs answer look-ups (the two inputs of a merge under way count as two). */
  get runCount(): number {
    return this.runs.length;
  }

  add(key: string, index: number): void {
    this.recent.add(key, index);
    if (++this.recentCount >= this.memoryLimit) this.spill();
    else if (this.merging) this.mergeSome(Math.ceil(this.toMove / (this.memoryLimit - this.recentCount)));
  }

  /** Candidate indexes for `key`, highest first. */
  candidates(key: string): number[] {
    const h = hash32(key);
    const out = this.recent.candidates(key);
    for (const { pairs, fences } of this.runs) {
      const n = pairs.length;
      // Blocks from the first whose fence is not below h start at or after h: the first match is in the
      // block before it, or is its first record.
      const b = fences.countBelow(h, (i) => fences.getUint32(i));
      const lo = Math.max(0, b - 1) * BLOCK;
      const hi = Math.min(n, b * BLOCK);
      for (let i = pairs.countBelow(h, (k) => pairs.getUint32Pair(k)[0], lo, hi); i < n; i++) {
        const [hash, index] = pairs.getUint32Pair(i);
        if (hash !== h) break;
        out.push(index);
      }
    }
    return out.sort((a, b) => b - a);
  }

  close(): void {
    if (this.merging) DiskHashIndex.remove(this.merging.out);
    this.merging = null;
    for (const run of this.runs) {
      run.pairs.close();
      run.fences.close();
    }
  }

  private newRun(): Run {
    const name = join(this.dir, String(this.runsMade++));
    return { pairs: new RecordFile(`${name}.run`, 8), fences: new RecordFile(`${name}.fences`, 4) };
  }

  private static push(run: Run, hash: number, index: number): void {
    if (run.pairs.length % BLOCK === 0) run.fences.pushUint32(hash);
    run.pairs.pushUint32Pair(hash, index);
  }

  private static remove(run: Run): void {
    for (const file of [run.pairs, run.fences]) {
      file.close();
      rmSync(file.path, { force: true });
    }
  }

  /** Writes the memory part as one more sorted run, empties it, and starts the merges it calls for. */
  private spill(): void {
    // Paced to be done by now; what is left (none, unless the pace rounded down) is done at once.
    if (this.merging) this.mergeSome(Infinity);
    const pairs = this.recent.pairs();
    const order = Array.from({ length: pairs.length / 2 }, (_, k) => k).sort((a, b) => pairs[2 * a]! - pairs[2 * b]! || pairs[2 * a + 1]! - pairs[2 * b + 1]!);
    const run = this.newRun();
    for (const k of order) DiskHashIndex.push(run, pairs[2 * k]!, pairs[2 * k + 1]!);
    run.pairs.flush();
    run.fences.flush();
    this.runs.push(run);
    this.recent.clear();
    this.recentCount = 0;
    // The binary counter's carry: each run that meets one of its length makes one of twice it.
    const lengths = this.runs.map((r) => r.pairs.length);
    this.toMove = 0;
    while (lengths.length >= 2 && lengths[lengths.length - 1]! >= lengths[lengths.length - 2]!) {
      const merged = lengths.pop()! + lengths.pop()!;
      this.toMove += merged;
      lengths.push(merged);
    }
    this.startMerge();
  }

  private startMerge(): void {
    const n = this.runs.length;
    this.merging = n >= 2 && this.runs[n - 1]!.pairs.length >= this.runs[n - 2]!.pairs.length ? { at: n - 2, out: this.newRun(), i: 0, j: 0 } : null;
  }

  /** Moves up to `count` records of the merges under way into their outputs, finishing each it can. */
  private mergeSome(count: number): void {
    let left = count;
    while (this.merging && left > 0) {
      const m = this.merging;
      const [a, b] = [this.runs[m.at]!.pairs, this.runs[m.at + 1]!.pairs];
      for (; left > 0 && (m.i < a.length || m.j < b.length); left--, this.toMove--) {
        const x = m.i < a.length ? a.getUint32Pair(m.i) : null;
        const y = m.j < b.length ? b.getUint32Pair(m.j) : null;
        if (x && (!y || x[0] < y[0] || (x[0] === y[0] && x[1] < y[1]))) {
          DiskHashIndex.push(m.out, x[0], x[1]);
          m.i++;
        } else {
          DiskHashIndex.push(m.out, y![0], y![1]);
          m.j++;
        }
      }
      if (m.i < a.length || m.j < b.length) return;
      m.out.pairs.flush();
      m.out.fences.flush();
      for (const run of this.runs.splice(m.at, 2, m.out)) DiskHashIndex.remove(run);
      this.startMerge();
    }
  }
}

/** One list of ascending log positions (4 bytes each) in its own file: a poll's entries. */
export class PositionList {
  private readonly at = (k: number): number => this.file.getUint32(k);

  constructor(
    private readonly file: RecordFile,
    private readonly touch: () => void,
  ) {}

  get length(): number {
    return this.file.length;
  }

  get(k: number): number {
    this.touch();
    return this.at(k);
  }

  /** How many positions are below `bound`. */
  countBelow(bound: number): number {
    this.touch();
    return this.file.countBelow(bound, this.at);
  }

  push(position: number): void {
    this.touch();
    this.file.pushUint32(position);
  }
}

/**
 * Lists of log positions by key (a poll id), each in a file `<n>.positions` of a directory emptied when
 * made. The last `openLimit` lists used (64: polls open at once, with room) keep their descriptor and
 * buffers (2 KiB each, 128 KiB in all); the others write what they hold and give them back, so a node
 * with thousands of polls holds a few hundred bytes per poll, and nothing per entry.
 */
export class PositionLists {
  private readonly lists = new Map<string, PositionList>();
  /** Files holding a descriptor and buffers, least recently used first. */
  private readonly open = new Map<RecordFile, true>();
  private readonly files: RecordFile[] = [];
  private last: RecordFile | null = null;

  constructor(
    private readonly dir: string,
    private readonly openLimit = 64,
  ) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  get(key: string): PositionList | undefined {
    return this.lists.get(key);
  }

  push(key: string, position: number): void {
    let list = this.lists.get(key);
    if (!list) {
      const file = new RecordFile(join(this.dir, `${this.files.length}.positions`), 4);
      this.files.push(file);
      list = new PositionList(file, () => this.touch(file));
      this.lists.set(key, list);
    }
    list.push(position);
  }

  close(): void {
    for (const file of this.files) file.close();
  }

  private touch(file: RecordFile): void {
    if (file === this.last) return;
    this.last = file;
    if (this.open.delete(file)) {
      this.open.set(file, true);
      return;
    }
    this.open.set(file, true);
    if (this.open.size <= this.openLimit) return;
    const [oldest] = this.open.keys();
    this.open.delete(oldest!);
    oldest!.release();
  }
}
