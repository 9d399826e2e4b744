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
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
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

/** Appends lines to a file; fsyncs when asked (synchronously, or awaited off the event loop). */
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
  /** fdatasync on libuv's thread pool: the event loop keeps serving while the disk flushes. */
  sync(): Promise<void> {
    return new Promise((resolve, reject) => fdatasync(this.fd, (e) => (e ? reject(e) : resolve())));
  }
  close(): void {
    closeSync(this.fd);
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
  private readonly entriesFile: LineFile;
  private readonly finalsFile: LineFile;
  private readonly signedFile: LineFile;
  private readonly talliesFile: LineFile;

  readonly entries: string[];
  readonly finals: string[];
  readonly signed: string[];
  readonly tallies: unknown[];
  readonly seed: Uint8Array;
  state: SigningState;
  peerKeys: string[];

  constructor(
    readonly dir: string,
    private readonly log: Log,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.seed = loadOrMakeSeed(join(dir, 'seed'), log);
    this.entries = readLines(join(dir, 'entries.log'), log);
    this.finals = readLines(join(dir, 'finals.log'), log).flatMap((l) => parseJsonLine<string>(l, log) ?? []);
    this.signed = readLines(join(dir, 'signed.log'), log).flatMap((l) => parseJsonLine<string>(l, log) ?? []);
    this.tallies = readLines(join(dir, 'tallies.log'), log).flatMap((l) => parseJsonLine<unknown>(l, log) ?? []);
    const statePath = join(dir, 'state.json');
    this.state = loadState(statePath, log);
    const keysPath = join(dir, 'keys.json');
    this.peerKeys = existsSync(keysPath) ? (JSON.parse(readFileSync(keysPath, 'utf8')) as string[]) : [];
    this.entriesFile = new LineFile(join(dir, 'entries.log'));
    this.finalsFile = new LineFile(join(dir, 'finals.log'));
    this.signedFile = new LineFile(join(dir, 'signed.log'));
    this.talliesFile = new LineFile(join(dir, 'tallies.log'));
  }

  /**
   * Appends entry texts and resolves once they are durable (one fdatasync, awaited off the event loop).
   * The texts join `entries` only then, so nothing reads an entry the disk may still lose.
   */
  async appendEntriesDurably(texts: readonly string[]): Promise<void> {
    if (texts.length === 0) return;
    this.entriesFile.write(texts);
    await this.entriesFile.sync();
    for (const t of texts) this.entries.push(t);
  }

  /** No fsync of its own: a final note lost in a crash is fetched again from the peers (catch-up). */
  appendFinal(note: string): void {
    this.finalsFile.write([JSON.stringify(note)]);
    this.finals.push(note);
  }

  /** No fsync of its own: written after the entries it signs are durable (see the file comment). */
  appendSigned(noteWithOwnSignature: string): void {
    this.signedFile.write([JSON.stringify(noteWithOwnSignature)]);
    this.signed.push(noteWithOwnSignature);
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
    for (const f of [this.entriesFile, this.finalsFile, this.signedFile, this.talliesFile]) f.close();
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
