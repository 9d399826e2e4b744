/**
 * A ledger node's files, all under its data directory:
 *
 * - `seed`: the 32-byte Ed25519 seed, mode 0600, made once.
 * - `entries.log`: one canonical entry JSON text per line, appended and fsynced per batch. Canonical
 *   JSON escapes every control character, so a line break only ever ends an entry.
 * - `finals.log`, `signed.log`, `tallies.log`: JSON lines (final notes, bodies this node signed with
 *   its signature, signed tallies), appended and fsynced.
 * - `state.json`: the signing state, replaced by write-to-temp, fsync, rename, fsync of the directory,
 *   so a crash leaves either the old or the new state, never a torn one.
 * - `keys.json`: peers' verifier keys learnt from their /v1/info, so a restart does not need them up.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
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

/** Appends lines to a file and fsyncs once per call. */
class LineFile {
  private fd: number;
  constructor(readonly path: string) {
    this.fd = openSync(path, 'a');
  }
  append(lines: readonly string[]): void {
    if (lines.length === 0) return;
    const buf = Buffer.from(lines.map((l) => `${l}\n`).join(''), 'utf8');
    let off = 0;
    while (off < buf.length) off += writeSync(this.fd, buf, off);
    fsyncSync(this.fd);
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
    this.state = existsSync(statePath) ? (JSON.parse(readFileSync(statePath, 'utf8')) as SigningState) : { ...emptySigningState };
    const keysPath = join(dir, 'keys.json');
    this.peerKeys = existsSync(keysPath) ? (JSON.parse(readFileSync(keysPath, 'utf8')) as string[]) : [];
    this.entriesFile = new LineFile(join(dir, 'entries.log'));
    this.finalsFile = new LineFile(join(dir, 'finals.log'));
    this.signedFile = new LineFile(join(dir, 'signed.log'));
    this.talliesFile = new LineFile(join(dir, 'tallies.log'));
  }

  /** Appends entry texts durably (one fsync). */
  appendEntries(texts: readonly string[]): void {
    this.entriesFile.append(texts);
    this.entries.push(...texts);
  }

  appendFinal(note: string): void {
    this.finalsFile.append([JSON.stringify(note)]);
    this.finals.push(note);
  }

  appendSigned(noteWithOwnSignature: string): void {
    this.signedFile.append([JSON.stringify(noteWithOwnSignature)]);
    this.signed.push(noteWithOwnSignature);
  }

  appendTally(record: unknown): void {
    this.talliesFile.append([JSON.stringify(record)]);
    this.tallies.push(record);
  }

  /** Replaces the signing state atomically and durably; returns only once it is on disk. */
  saveState(state: SigningState): void {
    writeAtomic(join(this.dir, 'state.json'), JSON.stringify(state));
    this.state = state;
  }

  savePeerKeys(keys: string[]): void {
    writeAtomic(join(this.dir, 'keys.json'), JSON.stringify(keys));
    this.peerKeys = keys;
  }

  close(): void {
    for (const f of [this.entriesFile, this.finalsFile, this.signedFile, this.talliesFile]) f.close();
  }
}

function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeFileSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  fsyncDir(join(path, '..'));
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
