/**
 * One writer per embedded PGlite data directory. PGlite keeps the database in the memory of the process
 * that opened it and writes it back to the directory; a second process on the same directory (a CLI
 * beside `npm start`, a second app) works on its own copy, and one of the two loses its writes without
 * a word. So the first process takes `<dataDir>.lock` (created with O_EXCL, holding its pid) and every
 * other one is refused with what to do instead.
 *
 * A lock whose process is gone (killed, crashed) is stale and taken over; the pid check is enough
 * because an embedded database is only ever opened by processes of one host. Hand-written: the lock
 * libraries on npm (proper-lockfile and the like) detect staleness by a heartbeat on the file's mtime,
 * which makes a restart after a crash wait out the stale period, and cannot say which process holds it.
 */
import { closeSync, openSync, readFileSync, renameSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename } from 'node:path';

export interface DataDirLockInfo {
  pid: number;
  host: string;
  since: string;
  /** What holds it: `app` (npm start) or a CLI's name. */
  holder: string;
  /** The running app's loopback admin endpoint (src/infra/http/localAdmin.ts), when it has one. */
  adminUrl?: string;
}

export class DataDirInUseError extends Error {
  constructor(
    readonly dataDir: string,
    readonly holder: DataDirLockInfo,
  ) {
    super(
      `the embedded database in ${dataDir} is in use by process ${holder.pid} (${holder.holder}, since ${holder.since}). ` +
        'Only one process may open it: stop that process first, or let the running app do the work ' +
        '(`npm run admin:create` does this by itself; administrators use the admin pages). ' +
        `If no such process runs, delete ${dataDir}.lock.`,
    );
    this.name = 'DataDirInUseError';
  }
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

const readLock = (path: string): DataDirLockInfo | null => {
  try {
    const info = JSON.parse(readFileSync(path, 'utf8')) as DataDirLockInfo;
    return Number.isInteger(info.pid) ? info : null;
  } catch {
    return null;
  }
};

/** The live holder of a data directory's lock, or null when it is free (or stale). */
export const dataDirHolder = (dataDir: string): DataDirLockInfo | null => {
  const info = readLock(`${dataDir}.lock`);
  return info && info.host === hostname() && alive(info.pid) ? info : null;
};

export interface DataDirLock {
  /** Records more about the holder (the app adds its admin endpoint once it listens). */
  update(fields: Partial<Pick<DataDirLockInfo, 'adminUrl' | 'holder'>>): void;
  release(): void;
}

/** What to call this process in the lock: `npm start` for the app, else the script (`adminCreate.ts`). */
const holderName = (): string => {
  const script = basename(process.argv[1] ?? 'node');
  return script === 'main.ts' ? 'the app (npm start)' : script;
};

/** Locks this process holds, by lock file path. */
const held = new Map<string, { path: string; info: DataDirLockInfo }>();
let exitHookInstalled = false;

/** Takes the writer lock of `dataDir` or throws DataDirInUseError naming the holder. */
export const lockDataDir = (dataDir: string, holder = holderName()): DataDirLock => {
  const path = `${dataDir}.lock`;
  const info: DataDirLockInfo = { pid: process.pid, host: hostname(), since: new Date().toISOString(), holder };
  const mine = held.get(path);
  if (mine) throw new DataDirInUseError(dataDir, mine.info);
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      try {
        writeSync(fd, JSON.stringify(info));
      } finally {
        closeSync(fd);
      }
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 2) throw error;
      const other = readLock(path);
      // A lock being written this very moment reads as empty: give its writer a moment.
      if (other === null && attempt === 0) {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
        continue;
      }
      if (other && (other.host !== hostname() || alive(other.pid))) throw new DataDirInUseError(dataDir, other);
      // Stale: its process is gone. Only one taker wins the next O_EXCL create.
      try {
        unlinkSync(path);
      } catch {
        // another process took it over first; the next attempt will say so
      }
    }
  }
  const entry = { path, info };
  held.set(path, entry);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const { path: p, info: i } of held.values()) if (readLock(p)?.pid === i.pid) unlinkSafe(p);
    });
  }
  return {
    update: (fields) => {
      Object.assign(entry.info, fields);
      if (held.get(path) === entry) writeAtomicJson(path, entry.info);
    },
    release: () => {
      if (held.get(path) !== entry) return;
      held.delete(path);
      if (readLock(path)?.pid === process.pid) unlinkSafe(path);
    },
  };
};

const unlinkSafe = (path: string) => {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
};

// Replaced by rename: a reader sees the old text or the new, never half of one.
const writeAtomicJson = (path: string, value: unknown) => {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(value), { mode: 0o600 });
  renameSync(tmp, path);
};
