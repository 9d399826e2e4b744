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
 * In memory a file keeps at most two buffers of BLOCK records: the records not written yet (written a
 * block at a time, so a round pays a write now and then, not one per entry) and the last block read
 * (the read cache). A file whose owner goes quiet can `release` them.
 */
import { closeSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';

/** Records per write and per cached read. */
const BLOCK = 256;

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

  /** Creates (or empties) the file at `path`: its records are filled again by the caller. */
  constructor(
    readonly path: string,
    readonly width: number,
  ) {
    this.fd = openSync(path, 'w+', 0o600);
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
    for (let off = 0; off < bytes; ) off += writeSync(this.openFd(), this.pending, off, bytes - off, this.flushed * this.width + off);
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
    this.cacheFrom = -1;
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
      const from = i - (i % BLOCK);
      const n = Math.min(BLOCK, this.flushed - from);
      this.cache ??= Buffer.alloc(BLOCK * this.width);
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
