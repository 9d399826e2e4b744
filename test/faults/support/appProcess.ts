/**
 * The app as an operator runs it: `src/main.ts` (what `npm start` runs) in a process of its own, with
 * its four ledger node children, so a fault test can cut its database, kill a node or kill the app.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

export interface AppProcess {
  url: string;
  /** Base URLs of the four ledger nodes the app started (empty with LEDGER_NODES=none). */
  ledgerUrls: string[];
  child: ChildProcess;
  /** Whether the process is still running. */
  alive(): boolean;
  /** The last lines it printed (stdout and stderr), for failure messages. */
  output(): string;
  /** SIGTERM, and wait for the exit. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash or an OOM kill would. */
  kill(): Promise<void>;
}

/** A fresh DATA_DIR (node stores, secrets, the embedded database) for one app under test. */
export const freshDataDir = () => mkdtempSync(join(tmpdir(), 'civic-vote-fault-'));

/**
 * Starts the app with `env` on top of the test's environment (DATA_DIR a fresh directory unless given);
 * resolves once it printed its URLs.
 */
export const spawnApp = async (env: Record<string, string>, readyTimeoutMs = 150_000): Promise<AppProcess> => {
  // Tied to this process by a pipe on its stdin (scripts/exitWithParent.ts): when vitest ends a timed-out
  // worker no `finally` runs, and the app with its four nodes would be left holding ports.
  const child = spawn(process.execPath, ['--import', 'tsx', '--import', './scripts/exitWithParent.ts', 'src/main.ts'], {
    cwd: repoRoot,
    env: { ...process.env, NODE_ENV: 'test', PORT: '0', PORTAL_PORT: '0', LEDGER_BASE_PORT: '0', SEED_DEMO_DATA: 'false', LOG_LEVEL: 'warn', DATA_DIR: env.DATA_DIR ?? freshDataDir(), TOPOLOGY_CHILD: '1', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const keep = (chunk: Buffer) => {
    for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) lines.push(l);
    if (lines.length > 400) lines.splice(0, lines.length - 400);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  const output = () => lines.join('\n');
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the app did not start within ${readyTimeoutMs} ms:\n${output()}`)), readyTimeoutMs);
    const look = () => {
      const m = /citizen site and admin\s+(http:\/\/\S+?)\/?$/m.exec(output());
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', look);
    void exit.then(() => {
      clearTimeout(timer);
      reject(new Error(`the app exited before it was ready:\n${output()}`));
    });
  });
  const ledgerUrls = [...output().matchAll(/ledger node \d\s+(http:\/\/\S+)\/v1\/checkpoint/g)].map((m) => m[1]!);
  const end = async (signal: NodeJS.Signals) => {
    if (!exited) child.kill(signal);
    await exit;
  };
  return { url, ledgerUrls, child, alive: () => !exited, output, stop: () => end('SIGTERM'), kill: () => end('SIGKILL') };
};

/** The pid of the ledger node process listening on `port` (from /proc), or null. */
export const ledgerNodePid = (port: number): number | null => {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      const at = args.indexOf('--port');
      if (args.some((a) => a.endsWith('src/ledger/node/main.ts')) && at >= 0 && args[at + 1] === String(port)) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return null;
};

/** Four consecutive free loopback ports (a base for LEDGER_BASE_PORT). */
export const freePortRun = async (): Promise<number> => {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    const servers: Server[] = [];
    try {
      for (let k = 0; k < 4; k++) {
        const s = createServer();
        await new Promise<void>((resolve, reject) => {
          s.once('error', reject);
          s.listen(base + k, '127.0.0.1', () => resolve());
        });
        servers.push(s);
      }
      return base;
    } catch {
      // taken: try another base
    } finally {
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    }
  }
  throw new Error('no four consecutive free ports found');
};
