/**
 * A PostgreSQL cluster of a test's own, in a temporary directory on a free loopback port, for the fault
 * tests that stop, restart and cut it (the shared server of the other tests must never be touched that
 * way). Uses Debian's server binaries (/usr/lib/postgresql/N/bin, installed by .ci/run) and, as root,
 * runs them as the postgres user, as .ci/run does.
 */
import { execFileSync, execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

/** The newest installed server's bin directory, or null (then the tests say why they skip). */
export const postgresBin = (): string | null => {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return null;
  const versions = readdirSync(base).filter((v) => existsSync(join(base, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(base, versions[0], 'bin') : null;
};

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });

const uidOf = (user: string): number | null => {
  try {
    return Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
  } catch {
    return null;
  }
};

export interface ThrowawayPostgres {
  port: number;
  /** postgres://postgres@127.0.0.1:port/<database> */
  url(database?: string): string;
  createDatabase(name: string): Promise<string>;
  /** Ends every session on `database` but the caller's (as a DBA or a failover would). Returns how many. */
  terminateBackends(database: string): Promise<number>;
  /** pg_ctl restart -m fast: every session ends, the server is down for a moment, then back. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export const startThrowawayPostgres = async (): Promise<ThrowawayPostgres> => {
  const bin = postgresBin();
  if (!bin) throw new Error('no PostgreSQL server binaries under /usr/lib/postgresql (apt-get install postgresql)');
  const asRoot = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), 'civic-vote-fault-pg-'));
  if (asRoot) {
    const uid = uidOf('postgres');
    if (uid === null) throw new Error('running as root but there is no postgres user to run the server as');
    chownSync(dir, uid, uid);
  }
  const as = (cmd: string, args: string[]) => (asRoot ? run('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args]) : run(join(bin, cmd), args));
  const port = await freePort();
  const data = join(dir, 'data');
  await as('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8']);
  const pgCtl = (args: string[]) => as('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-w', '-t', '60', ...args]);
  const options = ['-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=100 -c fsync=off`];
  await pgCtl([...options, 'start']);
  const url = (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`;
  const admin = async <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => {
    const c = new pg.Client({ connectionString: url() });
    c.on('error', () => undefined);
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end().catch(() => undefined);
    }
  };
  return {
    port,
    url,
    createDatabase: async (name) => {
      await admin((c) => c.query(`CREATE DATABASE ${name}`));
      return url(name);
    },
    terminateBackends: (database) =>
      admin(async (c) => {
        const { rows } = await c.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [database]);
        await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [database]);
        return rows.length;
      }),
    restart: async () => {
      await pgCtl([...options, '-m', 'fast', 'restart']);
    },
    stop: async () => {
      await pgCtl(['-m', 'immediate', 'stop']).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
};
