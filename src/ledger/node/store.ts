/**
 * A ledger node's files, all under its data directory:
 *
 * - `seed`: the 32-byte Ed25519 seed, mode 0600, made once.
 * - `entries.log`: one canonical entry JSON text per line, appended and fsynced per batch: the one fsync
 *   of a round, awaited off the event loop (fdatasync on libuv's pool). Canonical JSON escapes every
 *   control character, so a line break only ever ends an entry.
 * - `finals.log`, `signed.log`: JSON lines (final notes, bodies this node signed with its signature),
 *   appended without an fsync of their own. `tallies.log` (signed tallies, rare): appended and fsynced.
 * - `state.json`: the signing state, replaced by write-to-temp and rename (no fsync). After a crash it
 *   may be a round old (never ahead of the durable entries, which are written first) or unreadable (then
 *   the node starts from the empty state and logs it). Neither lets the node sign two trees that
 *   disagree: it signs only roots of prefixes of its own durable log, and a final note it lost is
 *   fetched again from its peers by catch-up.
 * - `keys.json`: peers' verifier keys learnt from their /v1/info, so a restart does not need them up.
 *
 * - `index/`: the per-line indexes, `entries.ends`, `signed.ends`, `finals.ends` (the end offset of
 *   every line, 8 bytes a line), made afresh from the logs' newlines at each open and never fsynced (see
 *   recordFile.ts); the node keeps its other per-entry indexes there too.
 *
 * In memory the store keeps no entry text, no note and no per-line offset: the last few notes, and per
 * index file a block of offsets not written yet and the last block read (2 KiB each). Entries and notes
 * are read back by positional reads when asked for.
 */
import { randomBytes } from 'node:crypto';
import { RecordFile } from './recordFile.ts';
import {
  closeSync,
  ftruncateSync,
  fstatSync,
  readSync,
  existsSync,
  fdatasync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';

/** What the node signed and finalised last; persisted before any signature leaves the node. */
export interface SigningState {
  /** Size and base64 root of the last checkpoint body this node signed (0 and '' before the first). */
  size: number;
  root: string;
  lastSignedBody: string | null;
  lastFinalNote: string | null;
}

export const emptySigningState: SigningState = { size: 0, root: '', lastSignedBody: null, lastFinalNote: null };

export type Log = (msg: string, fields?: Record<string, unknown>) => void;

/**
 * The most bytes one read over many lines takes at once: the text and what is parsed from it are
 * garbage soon after, and the less of it there is the less the heap grows between collections.
 */
export const READ_SPAN_BYTES = 1 << 20;

/** Appends lines to a file and fsyncs them (tallies.log: rare, kept in memory). */
class LineFile {
  private fd: number;
  constructor(readonly path: string) {
    this.fd = openSync(path, 'a');
  }
  /** Writes the lines to the page cache; durable only after a sync. */
  write(lines: readonly string[]): void {
    if (lines.length === 0) return;
    const buf = Buffer.from(lines.map((l) => `${l}\n`).join(''), 'utf8');
    let off = 0;
    while (off < buf.length) off += writeSync(this.fd, buf, off);
  }
  append(lines: readonly string[]): void {
    this.write(lines);
    if (lines.length > 0) fsyncSync(this.fd);
  }
  close(): void {
    closeSync(this.fd);
  }
}

/**
 * An append-only line file with an index of line end offsets, read back by position: the lines stay on
 * disk, and so does the index (`<index dir>/<name>.ends`, 8 bytes a line, made afresh from the file's
 * newlines at open: see recordFile.ts). A last line without its newline is what a crash mid-append
 * leaves: it is cut from the file and logged at open, because the node never acknowledged it.
 */
class IndexedLineFile {
  private readonly appendFd: number;
  private readonly readFd: number;
  /** Record i: the byte offset just past line i's newline (float64). */
  private readonly ends: RecordFile;
  /** Bytes written, including a batch whose sync is still under way. */
  private written = 0;
  private readonly end = (i: number): number => this.ends.getFloat64(i);

  constructor(
    readonly path: string,
    indexPath: string,
    log: Log,
  ) {
    this.appendFd = openSync(path, 'a');
    this.readFd = openSync(path, 'r');
    this.ends = new RecordFile(indexPath, 8);
    const size = fstatSync(this.readFd).size;
    let lineStart = 0;
    this.scan(0, size, (end) => {
      this.ends.pushFloat64(end);
      lineStart = end;
    });
    if (lineStart < size) {
      log('dropping a truncated last line left by a crash', { file: path, bytes: size - lineStart });
      ftruncateSync(this.appendFd, lineStart);
    }
    this.written = lineStart;
  }

  get count(): number {
    return this.ends.length;
  }

  private start(i: number): number {
    return i === 0 ? 0 : this.end(i - 1);
  }

  /** Reads [from, to) in chunks of 1 MiB and reports the end offset of every newline found. */
  private scan(from: number, to: number, onLineEnd: (end: number) => void): void {
    const chunk = Buffer.allocUnsafe(1 << 20);
    for (let pos = from; pos < to; ) {
      const n = readSync(this.readFd, chunk, 0, Math.min(chunk.length, to - pos), pos);
      if (n === 0) break;
      for (let k = chunk.indexOf(10); k >= 0 && k < n; k = chunk.indexOf(10, k + 1)) onLineEnd(pos + k + 1);
      pos += n;
    }
  }

  /** Lines [from, to), one positional read for the whole range. */
  read(from: number, to: number): string[] {
    const end = Math.min(to, this.count);
    if (from >= end) return [];
    const a = this.start(from);
    const buf = Buffer.allocUnsafe(this.end(end - 1) - a);
    for (let off = 0; off < buf.length; ) {
      const n = readSync(this.readFd, buf, off, buf.length - off, a + off);
      if (n === 0) throw new Error(`${this.path} is shorter than its index`);
      off += n;
    }
    return buf.toString('utf8', 0, buf.length - 1).split('\n');
  }

  line(i: number): string {
    return this.read(i, i + 1)[0]!;
  }

  /**
   * Where a read from line `from` should end: at most at `to` and at most `maxBytes` of text, but at
   * least one line (one line may be larger: a sealed poll's opening entry is ~75 KB).
   */
  spanEnd(from: number, to: number, maxBytes: number): number {
    // Every line before `from` ends at or before its start: the search covers [from, min(to, count)) only.
    const hi = Math.min(to, this.count);
    return Math.max(from + 1, Math.min(hi, this.ends.countBelow(this.start(from) + maxBytes + 1, this.end, Math.min(from, hi), hi)));
  }

  /** Every line in order, read a page at a time (at most `page` lines and 1 MiB: memory bounded by the page, not the file). */
  forEach(fn: (line: string, i: number) => void, page = 1000): void {
    for (let i = 0; i < this.count; ) {
      const end = this.spanEnd(i, i + page, READ_SPAN_BYTES);
      this.read(i, end).forEach((l, k) => fn(l, i + k));
      i = end;
    }
  }

  /** Writes the lines to the page cache; returns their end offsets, to be published once they may be read. */
  private write(lines: readonly string[]): number[] {
    const ends: number[] = [];
    const parts: Buffer[] = [];
    for (const l of lines) {
      const b = Buffer.from(`${l}\n`, 'utf8');
      parts.push(b);
      this.written += b.length;
      ends.push(this.written);
    }
    const buf = Buffer.concat(parts);
    let off = 0;
    while (off < buf.length) off += writeSync(this.appendFd, buf, off);
    return ends;
  }

  /** Appends without an fsync; the lines can be read at once (the page cache serves them). */
  appendUnsynced(lines: readonly string[]): void {
    for (const e of this.write(lines)) this.ends.pushFloat64(e);
  }

  /**
   * Appends and resolves once durable (fdatasync on libuv's pool). The lines are readable only then; if
   * the sync fails they are cut from the file again, so the index and the file never disagree.
   */
  async appendDurably(lines: readonly string[]): Promise<void> {
    if (lines.length === 0) return;
    const ends = this.write(lines);
    try {
      await new Promise<void>((resolve, reject) => fdatasync(this.appendFd, (e) => (e ? reject(e) : resolve())));
    } catch (e) {
      this.written = this.count === 0 ? 0 : this.end(this.count - 1);
      ftruncateSync(this.appendFd, this.written);
      throw e;
    }
    for (const e of ends) this.ends.pushFloat64(e);
  }

  close(): void {
    closeSync(this.appendFd);
    closeSync(this.readFd);
    this.ends.close();
  }
}

/** A JSON-lines file of notes (strings): the last few kept in memory, older ones read from disk. */
class NoteFile {
  private readonly file: IndexedLineFile;
  private readonly recent: string[] = [];
  static readonly KEEP = 8;

  constructor(path: string, indexPath: string, private readonly log: Log) {
    this.file = new IndexedLineFile(path, indexPath, log);
    const from = Math.max(0, this.file.count - NoteFile.KEEP);
    for (const l of this.file.read(from, this.file.count)) this.recent.push(this.parse(l) ?? '');
  }

  get count(): number {
    return this.file.count;
  }

  private parse(line: string): string | undefined {
    const v = parseJsonLine<unknown>(line, this.log);
    return typeof v === 'string' ? v : undefined;
  }

  /** Note i, or undefined if its line is unreadable. */
  get(i: number): string | undefined {
    const k = i - (this.file.count - this.recent.length);
    if (k >= 0 && k < this.recent.length) return this.recent[k] || undefined;
    return this.parse(this.file.line(i));
  }

  /** Notes [from, to) in order, read from the file (unreadable lines are logged and skipped). */
  range(from: number, to: number): string[] {
    return this.file.read(from, to).flatMap((line) => this.parse(line) ?? []);
  }

  /** Appends without an fsync of its own (see the file comment); returns the note's line index. */
  append(note: string): number {
    this.file.appendUnsynced([JSON.stringify(note)]);
    this.recent.push(note);
    if (this.recent.length > NoteFile.KEEP) this.recent.shift();
    return this.file.count - 1;
  }

  close(): void {
    this.file.close();
  }
}

/**
 * Reads a line file. A last line without its newline is what a crash mid-append leaves: it is dropped,
 * cut from the file, and logged, because the node never acknowledged it.
 */
function readLines(path: string, log: Log): string[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, 'utf8');
  if (text === '') return [];
  const end = text.lastIndexOf('\n');
  if (end !== text.length - 1) {
    log('dropping a truncated last line left by a crash', { file: path, bytes: text.length - end - 1 });
    truncateSync(path, Buffer.byteLength(text.slice(0, end + 1), 'utf8'));
  }
  return end < 0 ? [] : text.slice(0, end).split('\n');
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export class NodeStore {
  private readonly entriesFile: IndexedLineFile;
  private readonly talliesFile: LineFile;

  /** Final checkpoint notes this node stored, in the order it adopted them. */
  readonly finals: NoteFile;
  /** Checkpoint bodies with this node's signature, in the order it signed them (GET /v1/signed). */
  readonly signed: NoteFile;
  readonly tallies: unknown[];
  readonly seed: Uint8Array;
  state: SigningState;
  peerKeys: string[];

  /** Where the node's index files live (made afresh at each start; see recordFile.ts). */
  readonly indexDir: string;

  constructor(
    readonly dir: string,
    private readonly log: Log,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.indexDir = join(dir, 'index');
    this.seed = loadOrMakeSeed(join(dir, 'seed'), log);
    mkdirSync(this.indexDir, { recursive: true, mode: 0o700 });
    this.entriesFile = new IndexedLineFile(join(dir, 'entries.log'), join(this.indexDir, 'entries.ends'), log);
    this.finals = new NoteFile(join(dir, 'finals.log'), join(this.indexDir, 'finals.ends'), log);
    this.signed = new NoteFile(join(dir, 'signed.log'), join(this.indexDir, 'signed.ends'), log);
    // Signed tallies: one per poll tallied, rare; kept in memory.
    this.tallies = readLines(join(dir, 'tallies.log'), log).flatMap((l) => parseJsonLine<unknown>(l, log) ?? []);
    const statePath = join(dir, 'state.json');
    this.state = loadState(statePath, log);
    const keysPath = join(dir, 'keys.json');
    this.peerKeys = existsSync(keysPath) ? (JSON.parse(readFileSync(keysPath, 'utf8')) as string[]) : [];
    this.talliesFile = new LineFile(join(dir, 'tallies.log'));
  }

  /** Durable entries (a batch whose fsync is under way is not counted yet). */
  get entryCount(): number {
    return this.entriesFile.count;
  }

  /** Entry i's text, read from disk. */
  entry(i: number): string {
    return this.entriesFile.line(i);
  }

  /** Where a read of entries from `from` should end (see IndexedLineFile.spanEnd). */
  entrySpanEnd(from: number, to: number, maxBytes: number): number {
    return this.entriesFile.spanEnd(from, to, maxBytes);
  }

  /** Entries [from, to), one positional read. */
  entryRange(from: number, to: number): string[] {
    return this.entriesFile.read(from, to);
  }

  /** Every durable entry in order, read a page at a time. */
  forEachEntry(fn: (text: string, i: number) => void): void {
    this.entriesFile.forEach(fn);
  }

  /**
   * Appends entry texts and resolves once they are durable (one fdatasync, awaited off the event loop).
   * They count as entries only then, so nothing reads an entry the disk may still lose.
   */
  async appendEntriesDurably(texts: readonly string[]): Promise<void> {
    await this.entriesFile.appendDurably(texts);
  }

  /** No fsync of its own: a final note lost in a crash is fetched again from the peers (catch-up). Returns its line index. */
  appendFinal(note: string): number {
    return this.finals.append(note);
  }

  /** No fsync of its own: written after the entries it signs are durable (see the file comment). */
  appendSigned(noteWithOwnSignature: string): void {
    this.signed.append(noteWithOwnSignature);
  }

  appendTally(record: unknown): void {
    this.talliesFile.append([JSON.stringify(record)]);
    this.tallies.push(record);
  }

  /** Replaces the signing state atomically (write to temp, rename), without an fsync: see the file comment. */
  saveState(state: SigningState): void {
    writeAtomic(join(this.dir, 'state.json'), JSON.stringify(state), false);
    this.state = state;
  }

  savePeerKeys(keys: string[]): void {
    writeAtomic(join(this.dir, 'keys.json'), JSON.stringify(keys), true);
    this.peerKeys = keys;
  }

  close(): void {
    for (const f of [this.entriesFile, this.finals, this.signed, this.talliesFile]) f.close();
  }
}

function writeAtomic(path: string, text: string, durable: boolean): void {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeFileSync(fd, text);
    if (durable) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  if (durable) fsyncDir(join(path, '..'));
}

/** The saved signing state; an unreadable file (a crash between write and flush) is logged and dropped. */
function loadState(path: string, log: Log): SigningState {
  if (!existsSync(path)) return { ...emptySigningState };
  try {
    const state = JSON.parse(readFileSync(path, 'utf8')) as SigningState;
    if (typeof state === 'object' && state !== null && Number.isSafeInteger(state.size)) return state;
  } catch {
    // fall through
  }
  log('state.json is unreadable (a crash before it reached the disk?): starting from the empty state; catch-up fetches the final checkpoint again', { file: path });
  return { ...emptySigningState };
}

function parseJsonLine<T>(line: string, log: Log): T | undefined {
  try {
    return JSON.parse(line) as T;
  } catch {
    log('skipping an unreadable line', { line: line.slice(0, 80) });
    return undefined;
  }
}

/** The node's Ed25519 seed, made once (localCluster makes it before the first start to know the key). */
export function loadOrMakeSeed(path: string, log: Log): Uint8Array {
  if (existsSync(path)) {
    const seed = new Uint8Array(readFileSync(path));
    if (seed.length !== 32) throw new Error(`${path} must hold exactly 32 bytes`);
    return seed;
  }
  const seed = new Uint8Array(randomBytes(32));
  // 'wx' fails if another process made the file meanwhile, rather than overwriting a key in use.
  try {
    writeFileSync(path, seed, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return loadOrMakeSeed(path, log);
    throw error;
  }
  fsyncDir(join(path, '..'));
  log('made a new signing key', { file: path });
  return seed;
}
