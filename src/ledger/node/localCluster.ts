/**
 * Four ledger nodes as child processes on loopback, for `npm start` and the tests. Each child runs
 * `node --import tsx src/ledger/node/main.ts` with its own data directory; its stderr goes to
 * `<dataDir>/ledger-node-N.log`. Children exit when the parent does, however it ends: they hold a pipe
 * on stdin and stop when it closes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const mainPath = fileURLToPath(new URL('./main.ts', import.meta.url));

export interface LocalLedgerOptions {
  /** Parent of the nodes' directories (`<dataDir>/ledger-node-N`). */
  dataDir: string;
  /** Node N listens on basePort + N - 1; 0 picks four free ports. */
  basePort: number;
  token: string;
  origin: string;
  /** Max ms to wait for a node's ready line. Default 20000. */
  startTimeoutMs?: number;
}

export interface LocalLedger {
  /** Base URLs of nodes 1..4 (index 0..3). They stay the same across restarts. */
  urls: string[];
  /** Verifier keys of nodes 1..4, from their ready lines. */
  verifierKeys: string[];
  /** Stops every node (SIGTERM) and waits for them to exit. */
  stop(): Promise<void>;
  /** Kills node i (0-based) with SIGKILL, as a crash would, and waits for it to exit. */
  kill(i: number): Promise<void>;
  /** Starts node i (0-based) again on the same port and data directory; resolves when it is ready. */
  restart(i: number): Promise<void>;
  /** Process id of node i (0-based), undefined while it is stopped: for tests that pause a node. */
  pid(i: number): number | undefined;
}

/** A free loopback port. The port is released before the node binds it; on loopback that race is benign. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const children = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of children) child.kill('SIGKILL');
  });
}

/** Starts four local ledger nodes and resolves once all four printed their ready line. */
export async function startLocalLedger(options: LocalLedgerOptions): Promise<LocalLedger> {
  installExitHook();
  const ports = options.basePort === 0 ? await Promise.all([0, 1, 2, 3].map(() => freePort())) : [0, 1, 2, 3].map((k) => options.basePort + k);
  const urls = ports.map((p) => `http://127.0.0.1:${p}`);
  const verifierKeys: string[] = ['', '', '', ''];
  const procs: (ChildProcess | null)[] = [null, null, null, null];
  mkdirSync(options.dataDir, { recursive: true });

  function start(i: number): Promise<void> {
    const id = i + 1;
    const logFd = openSync(join(options.dataDir, `ledger-node-${id}.log`), 'a');
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        mainPath,
        '--id',
        String(id),
        '--port',
        String(ports[i]),
        '--data-dir',
        join(options.dataDir, `ledger-node-${id}`),
        '--peers',
        urls.filter((_, k) => k !== i).join(','),
        '--origin',
        options.origin,
      ],
      {
        cwd: repoRoot,
        env: { ...process.env, LEDGER_COORDINATOR_TOKEN: options.token, LEDGER_NODE_EXIT_WITH_PARENT: '1' },
        stdio: ['pipe', 'pipe', logFd],
      },
    );
    closeSync(logFd);
    procs[i] = child;
    children.add(child);
    child.once('exit', () => children.delete(child));
    return new Promise((resolve, reject) => {
      let buffer = '';
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`ledger node ${id} not ready within ${options.startTimeoutMs ?? 20000} ms; see ${options.dataDir}/ledger-node-${id}.log`));
      }, options.startTimeoutMs ?? 20000);
      child.stdout!.setEncoding('utf8');
      child.stdout!.on('data', (chunk: string) => {
        buffer += chunk;
        let nl: number;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + 1);
          try {
            const msg = JSON.parse(line) as { ready?: boolean; verifierKey?: string };
            if (msg.ready && msg.verifierKey) {
              verifierKeys[i] = msg.verifierKey;
              clearTimeout(timer);
              resolve();
            }
          } catch {
            // not our line
          }
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`ledger node ${id} exited with code ${code} before it was ready; see ${options.dataDir}/ledger-node-${id}.log`));
      });
    });
  }

  async function stopOne(i: number, signal: NodeJS.Signals): Promise<void> {
    const child = procs[i];
    procs[i] = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    await exited;
  }

  try {
    await Promise.all([0, 1, 2, 3].map(start));
  } catch (e) {
    await Promise.all([0, 1, 2, 3].map((i) => stopOne(i, 'SIGKILL')));
    throw e;
  }

  return {
    urls,
    verifierKeys,
    stop: async () => {
      await Promise.all([0, 1, 2, 3].map((i) => stopOne(i, 'SIGTERM')));
    },
    kill: (i) => stopOne(i, 'SIGKILL'),
    restart: async (i) => {
      await stopOne(i, 'SIGTERM');
      await start(i);
    },
    pid: (i) => procs[i]?.pid,
  };
}
