/**
 * Four ledger nodes as child processes on loopback, for `npm start` and the tests, supervised: a node
 * that exits without being asked to is started again after a back-off (1 s doubling to 30 s, back to
 * 1 s once it stayed up a minute), with a log line each time. Each child runs
 * `node --import tsx src/ledger/node/main.ts` with its own data directory; its stderr goes to
 * `<dataDir>/ledger-node-N.log`. Children exit when the parent does, however it ends: they hold a pipe
 * on stdin and stop when it closes.
 *
 * Start-up needs a quorum, not all four: it resolves once 3 nodes are ready (and gives the fourth a
 * moment more), so one slow or broken node does not stop the app; the fourth joins when it is up and
 * catches up from its peers. The nodes' verifier keys come from their seeds, which this module makes
 * before the first start, so every key is known even while a node is still down.
 *
 * Hand-written rather than a process manager (pm2 and the like): the app must know its own nodes'
 * ports, keys and readiness, and stop them with itself; a few timers do that.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeEd25519, nodeSha256 } from '../nodeCrypto.ts';
import { generateSignerKey } from '../note.ts';
import { loadOrMakeSeed } from './store.ts';
import { PORT_IN_USE_EXIT_CODE } from './exitCodes.ts';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const mainPath = fileURLToPath(new URL('./main.ts', import.meta.url));

/** Nodes that must be ready before start-up goes on: the signing quorum. */
const START_QUORUM = 3;
/** After the quorum is ready, how long start-up waits for the remaining node before going on without it. */
const LAST_NODE_GRACE_MS = 2000;
const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 30_000;
/** A node that stayed up this long starts its next back-off from the minimum again. */
const STABLE_AFTER_MS = 60_000;

export type ClusterLog = (level: 'info' | 'warn' | 'error', msg: string, fields: Record<string, unknown>) => void;

const defaultLog: ClusterLog = (level, msg, fields) =>
  console.error(JSON.stringify({ level: { info: 30, warn: 40, error: 50 }[level], time: Date.now(), name: 'ledger-supervisor', msg, ...fields }));

export interface LocalLedgerOptions {
  /** Parent of the nodes' directories (`<dataDir>/ledger-node-N`). */
  dataDir: string;
  /** Node N listens on basePort + N - 1; 0 picks four free ports. */
  basePort: number;
  token: string;
  origin: string;
  /** Max ms to wait for a quorum of nodes to be ready (LEDGER_START_TIMEOUT_MS). Default 60000. */
  startTimeoutMs?: number;
  log?: ClusterLog;
}

export interface LocalLedger {
  /** Base URLs of nodes 1..4 (index 0..3). They stay the same across restarts. */
  urls: string[];
  /** Verifier keys of nodes 1..4, from their seeds. */
  verifierKeys: string[];
  /** Stops every node (SIGTERM) and waits for them to exit; nothing is restarted after this. */
  stop(): Promise<void>;
  /** Kills node i (0-based) with SIGKILL, as a crash would, and keeps it down until restart(i). */
  kill(i: number): Promise<void>;
  /** Starts node i (0-based) again on the same port and data directory; resolves when it is ready. */
  restart(i: number): Promise<void>;
  /** Process id of node i (0-based), undefined while it is stopped: for tests that pause a node. */
  pid(i: number): number | undefined;
  /** Whether node i answered ready since its last start. */
  ready(i: number): boolean;
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

/** The last lines of a node's log, for a message that says why it would not start. */
function logTail(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim().split('\n').slice(-1)[0] ?? '';
  } catch {
    return '';
  }
}

interface Slot {
  child: ChildProcess | null;
  ready: boolean;
  /** Set by kill/stop: the node is down on purpose and is not restarted. */
  held: boolean;
  backoffMs: number;
  timer: NodeJS.Timeout | null;
  /** Resolvers waiting for this node's next ready line. */
  waiters: Array<(ok: boolean) => void>;
}

/** Starts four supervised local ledger nodes and resolves once a quorum of them is ready. */
export async function startLocalLedger(options: LocalLedgerOptions): Promise<LocalLedger> {
  installExitHook();
  const log = options.log ?? defaultLog;
  const ports = options.basePort === 0 ? await Promise.all([0, 1, 2, 3].map(() => freePort())) : [0, 1, 2, 3].map((k) => options.basePort + k);
  const urls = ports.map((p) => `http://127.0.0.1:${p}`);
  mkdirSync(options.dataDir, { recursive: true });
  const nodeDir = (i: number) => join(options.dataDir, `ledger-node-${i + 1}`);
  const logPath = (i: number) => join(options.dataDir, `ledger-node-${i + 1}.log`);
  // The node reads the seed this makes (store.ts), so its key is known before it is up.
  const verifierKeys = [0, 1, 2, 3].map((i) => {
    mkdirSync(nodeDir(i), { recursive: true, mode: 0o700 });
    const seed = loadOrMakeSeed(join(nodeDir(i), 'seed'), () => undefined);
    return generateSignerKey(nodeSha256, nodeEd25519, `ledger-node-${i + 1}`, seed).verifierKey;
  });
  const slots: Slot[] = [0, 1, 2, 3].map(() => ({ child: null, ready: false, held: false, backoffMs: BACKOFF_MIN_MS, timer: null, waiters: [] }));
  let stopping = false;

  const settleWaiters = (slot: Slot, ok: boolean) => {
    for (const w of slot.waiters.splice(0)) w(ok);
  };

  function spawnNode(i: number): void {
    const slot = slots[i]!;
    const id = i + 1;
    const logFd = openSync(logPath(i), 'a');
    const child = spawn(
      process.execPath,
      // LEDGER_NODE_EXEC_ARGV: extra Node flags for the node processes (e.g. --cpu-prof in a bench).
      [...(process.env.LEDGER_NODE_EXEC_ARGV?.split(' ').filter(Boolean) ?? []), '--import', 'tsx', mainPath, '--id', String(id), '--port', String(ports[i]), '--data-dir', nodeDir(i), '--peers', urls.filter((_, k) => k !== i).join(','), '--origin', options.origin],
      {
        cwd: repoRoot,
        env: { ...process.env, LEDGER_COORDINATOR_TOKEN: options.token, LEDGER_NODE_EXIT_WITH_PARENT: '1' },
        stdio: ['pipe', 'pipe', logFd],
      },
    );
    closeSync(logFd);
    const startedAt = Date.now();
    slot.child = child;
    slot.ready = false;
    children.add(child);
    let buffer = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        try {
          const msg = JSON.parse(line) as { ready?: boolean; verifierKey?: string };
          if (msg.ready) {
            if (msg.verifierKey !== verifierKeys[i]) log('error', 'ledger node reports another key than its seed gives', { node: id });
            slot.ready = true;
            settleWaiters(slot, true);
          }
        } catch {
          // not our line
        }
      }
    });
    // An 'error' (spawn failed) is followed by 'exit' or nothing; either way the slot is retried.
    child.on('error', (error) => log('error', 'ledger node could not be started', { node: id, error: error.message }));
    child.once('exit', (code, signal) => {
      children.delete(child);
      if (slot.child !== child) return;
      slot.child = null;
      slot.ready = false;
      settleWaiters(slot, false);
      if (stopping || slot.held) return;
      if (Date.now() - startedAt > STABLE_AFTER_MS) slot.backoffMs = BACKOFF_MIN_MS;
      const delay = slot.backoffMs;
      slot.backoffMs = Math.min(slot.backoffMs * 2, BACKOFF_MAX_MS);
      const why =
        code === PORT_IN_USE_EXIT_CODE
          ? `port ${ports[i]} is held by another process (a ledger node left running from an earlier start? find it with: ss -ltnp 'sport = :${ports[i]}')`
          : `exited with ${signal ?? `code ${code}`}; last log line: ${logTail(logPath(i)).slice(0, 300)}`;
      log(code === PORT_IN_USE_EXIT_CODE ? 'error' : 'warn', `ledger node ${id} ${why}; restarting in ${delay} ms`, { node: id, code, signal, restartInMs: delay, log: logPath(i) });
      slot.timer = setTimeout(() => {
        slot.timer = null;
        if (!stopping && !slot.held && !slot.child) spawnNode(i);
      }, delay);
      slot.timer.unref();
    });
  }

  /** Resolves true when node i is ready, false if it exits first or `ms` pass. */
  const readyWithin = (i: number, ms: number): Promise<boolean> =>
    new Promise((resolve) => {
      const slot = slots[i]!;
      if (slot.ready) return resolve(true);
      const timer = setTimeout(() => done(false), ms);
      const done = (ok: boolean) => {
        clearTimeout(timer);
        slot.waiters = slot.waiters.filter((w) => w !== waiter);
        resolve(ok);
      };
      const waiter = (ok: boolean) => done(ok);
      slot.waiters.push(waiter);
    });

  /** Resolves when node i is ready, however many restarts that takes, or after `ms`. */
  const eventuallyReady = async (i: number, ms: number): Promise<boolean> => {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      if (await readyWithin(i, deadline - Date.now())) return true;
      if (stopping) return false;
    }
    return slots[i]!.ready;
  };

  async function stopOne(i: number, signal: NodeJS.Signals): Promise<void> {
    const slot = slots[i]!;
    slot.held = true;
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = null;
    const child = slot.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    await exited;
  }

  const startedAt = Date.now();
  const timeoutMs = options.startTimeoutMs ?? 60_000;
  for (const i of [0, 1, 2, 3]) spawnNode(i);
  // Wait for a quorum; then give the others a moment (on an idle machine all four are up together).
  const readiness = [0, 1, 2, 3].map((i) => eventuallyReady(i, timeoutMs));
  let readyCount = 0;
  await new Promise<void>((resolve) => {
    let settled = 0;
    readiness.forEach((p) =>
      void p.then((ok) => {
        settled++;
        if (ok) readyCount++;
        if (readyCount >= START_QUORUM || settled === 4) resolve();
      }),
    );
  });
  if (readyCount < 4) await Promise.race([Promise.all(readiness), new Promise((r) => setTimeout(r, LAST_NODE_GRACE_MS))]);
  const ready = slots.filter((s) => s.ready).length;
  if (ready < START_QUORUM) {
    // Going on without a quorum: general polls still take ballots (anchoring waits), policy polls
    // refuse them; the supervisor keeps trying the nodes.
    log('error', `only ${ready} of 4 ledger nodes were ready within ${timeoutMs} ms; starting without a signing quorum (see the ledger-node-N.log files in ${options.dataDir})`, { ready });
  } else if (ready < 4) {
    const late = slots.flatMap((s, i) => (s.ready ? [] : [i + 1]));
    log('warn', `ledger node(s) ${late.join(', ')} not ready yet; starting with ${ready} (a quorum), the rest join when up`, { late, waitedMs: Date.now() - startedAt });
  }

  return {
    urls,
    verifierKeys,
    stop: async () => {
      stopping = true;
      await Promise.all([0, 1, 2, 3].map((i) => stopOne(i, 'SIGTERM')));
    },
    kill: (i) => stopOne(i, 'SIGKILL'),
    restart: async (i) => {
      await stopOne(i, 'SIGTERM');
      const slot = slots[i]!;
      slot.held = false;
      slot.backoffMs = BACKOFF_MIN_MS;
      spawnNode(i);
      if (!(await eventuallyReady(i, timeoutMs))) throw new Error(`ledger node ${i + 1} not ready within ${timeoutMs} ms; see ${logPath(i)}`);
    },
    pid: (i) => slots[i]!.child?.pid,
    ready: (i) => slots[i]!.ready,
  };
}
