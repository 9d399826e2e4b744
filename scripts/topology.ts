/**
 * A scaled-out deployment on one machine, every part a real process: HAProxy (Debian's package) in front
 * of N app instances (`src/main.ts`) that share one PostgreSQL database and four ledger nodes (their own
 * processes), and the verification portal served apart, reading only the nodes.
 *
 *   DATABASE_URL=postgres://… npm run topology -- [--instances 3] [--base-port 10700] [--data-dir DIR]
 *
 * Ports from the base (0: free ports): balancer +0, HAProxy's stats page +50, instance N +N, portal
 * +100, nodes +201..+204 (the same scheme as one engineer's `npm start`). The balancer checks each
 * instance's `/readyz` every second and takes it out after three failures; a request whose connection to
 * an instance fails is sent to another one (`retries`, `option redispatch`). docs/DEPLOYMENT.md
 * explains the choices. Tests and the `scaleout` bench start the same thing with `startTopology`.
 *
 * HAProxy rather than nginx: the open-source nginx has only passive health checks (it notices a dead
 * upstream by failing real requests), while HAProxy actively checks `/readyz`, which is what takes a
 * live but unready instance (database unreachable, projections behind) out of rotation.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { LEASE_LOCK_NAMESPACE } from '../src/infra/db/lease.ts';
import { ANCHORING_LEASE, LEDGER_ORIGIN } from '../src/infra/ledger/ledgerServices.ts';
import { freePort, startLocalLedger, type LocalLedger } from '../src/ledger/node/localCluster.ts';

const repoRoot = fileURLToPath(new URL('../', import.meta.url));
const appMain = join(repoRoot, 'src/main.ts');
const portalMain = join(repoRoot, 'verify-portal/main.ts');
const exitWithParent = join(repoRoot, 'scripts/exitWithParent.ts');

export interface TopologyOptions {
  /** The PostgreSQL database every instance shares (migrated by the first instance). */
  databaseUrl: string;
  instances: number;
  /** Everything the topology writes: instances' DATA_DIRs, node stores, haproxy.cfg, logs. */
  dataDir: string;
  /** 0: free ports everywhere. */
  basePort?: number;
  /** 64 hex chars, shared by every instance (cookie keys, voter tags). */
  serverSecret: string;
  /** Extra environment for every app instance (ANCHOR_INTERVAL_MS, LOG_LEVEL, …). */
  env?: Record<string, string>;
  /** Max ms for each part to become ready (guards a hang only). Default 180 s: a shared machine can be very slow. */
  startTimeoutMs?: number;
  /** Start the verification portal too (default true). */
  portal?: boolean;
  /** Running ledger nodes (and their coordinator token) to use instead of starting four; the caller stops them. */
  ledger?: { nodes: LocalLedger; token: string };
}

export interface AppInstance {
  /** 1-based, as in the balancer's server names (`app1`) and the PostgreSQL application_name. */
  id: number;
  url: string;
  /** `civic-vote-app-N`: the instance's PostgreSQL application_name. */
  appName: string;
  pid(): number | undefined;
  running(): boolean;
  /** Sends a signal (SIGKILL: a crash) and waits for the process to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  logFile: string;
}

export type BalancerServerState = 'UP' | 'DOWN' | 'NOLB' | 'MAINT' | string;

export interface Topology {
  balancerUrl: string;
  /** HAProxy's stats page (HTML; `;csv` for CSV). */
  statsUrl: string;
  portalUrl: string | null;
  instances: AppInstance[];
  ledger: LocalLedger;
  token: string;
  /** What the balancer thinks of each instance now, by server name (`app1` …), from its stats CSV. */
  balancerStates(): Promise<Record<string, BalancerServerState>>;
  /** The instance holding the anchoring lease (from PostgreSQL's lock table), or null if none holds it. */
  leaseHolder(): Promise<AppInstance | null>;
  stop(): Promise<void>;
}

/** Where HAProxy is, or null: the topology needs Debian's `haproxy` package (.ci/run installs it). */
export const haproxyPath = (): string | null => {
  for (const candidate of ['/usr/sbin/haproxy', '/usr/bin/haproxy', '/usr/local/sbin/haproxy']) {
    if (spawnSync(candidate, ['-v'], { stdio: 'ignore' }).status === 0) return candidate;
  }
  return null;
};

/** HAProxy's configuration: one frontend, the instances with active /readyz checks, a stats page. */
export const haproxyConfig = (o: { bindPort: number; statsPort: number; servers: Array<{ name: string; port: number }> }): string =>
  [
    'global',
    '  maxconn 4096',
    '',
    'defaults',
    '  mode http',
    '  timeout connect 2s',
    '  timeout client 65s',
    '  timeout server 65s',
    '  timeout http-keep-alive 60s',
    '  maxconn 4000',
    // A request whose connection to an instance could not be made (the instance died and the checks
    // have not noticed yet) goes to another instance. Only connection failures: a POST that reached
    // an instance may have been stored, so it is never re-sent by the balancer (the client decides).
    '  retries 3',
    '  retry-on conn-failure',
    '  option redispatch 1',
    '',
    'frontend civic_vote',
    `  bind 127.0.0.1:${o.bindPort}`,
    '  option forwardfor',
    '  http-request set-header X-Forwarded-Proto http',
    '  default_backend app_instances',
    '',
    'backend app_instances',
    '  balance roundrobin',
    '  option httpchk',
    '  http-check send meth GET uri /readyz',
    '  http-check expect status 200',
    // Every second (every 300 ms once one failed); out after 3 failed checks, back after 2 good ones. A
    // check may take 5 s: on a busy machine /readyz waits for a pooled connection like any request, and
    // a slow answer must not take every instance out at once (the balancer would answer 503 to all).
    // A dead instance refuses connections at once, so it is out within about a second.
    '  timeout check 5s',
    '  default-server inter 1s fastinter 300ms downinter 1s fall 3 rise 2',
    ...o.servers.map((s) => `  server ${s.name} 127.0.0.1:${s.port} check`),
    '',
    'frontend stats',
    `  bind 127.0.0.1:${o.statsPort}`,
    '  stats enable',
    '  stats uri /stats',
    '  stats refresh 2s',
    '',
  ].join('\n');

/** Parses HAProxy's stats CSV into the state of each server of the app backend. */
export const parseBalancerStates = (csv: string): Record<string, BalancerServerState> => {
  const lines = csv.split('\n').filter((l) => l.trim() !== '');
  const header = (lines[0] ?? '').replace(/^# /, '').split(',');
  const [px, sv, st] = ['pxname', 'svname', 'status'].map((n) => header.indexOf(n));
  const out: Record<string, BalancerServerState> = {};
  for (const line of lines.slice(1)) {
    const f = line.split(',');
    if (f[px!] === 'app_instances' && f[sv!] !== 'FRONTEND' && f[sv!] !== 'BACKEND') out[f[sv!]!] = (f[st!] ?? '').split(' ')[0]!;
  }
  return out;
};

const children = new Set<ChildProcess>();
let exitHookInstalled = false;
const installExitHook = () => {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of children) child.kill('SIGKILL');
  });
};

/** A child process whose stdout and stderr go to `logFile`; it ends when this process ends (stdin pipe). */
const spawnTied = (command: string, args: string[], env: Record<string, string>, logFile: string): ChildProcess => {
  installExitHook();
  const fd = openSync(logFile, 'a');
  const child = spawn(command, args, { cwd: repoRoot, env: { ...process.env, ...env, TOPOLOGY_CHILD: '1' }, stdio: ['pipe', fd, fd] });
  closeSync(fd);
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
};

const exited = (child: ChildProcess): boolean => child.exitCode !== null || child.signalCode !== null;

const stopChild = async (child: ChildProcess | null, signal: NodeJS.Signals = 'SIGTERM', graceMs = 15_000): Promise<void> => {
  if (!child || exited(child)) return;
  const done = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await done;
  clearTimeout(timer);
};

const tail = (file: string, lines = 20): string => {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
};

/** Waits until `probe` is true; fails with the process's log tail when it exits or the time runs out. */
const waitReady = async (what: string, child: ChildProcess, logFile: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited(child)) throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}) before it was ready; log tail:\n${tail(logFile)}`);
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what} not ready within ${timeoutMs} ms; log tail:\n${tail(logFile)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
};

const answers = async (url: string, status = 200): Promise<boolean> => {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  await res.arrayBuffer();
  return res.status === status;
};

export const startTopology = async (options: TopologyOptions): Promise<Topology> => {
  const dataDir = resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const base = options.basePort ?? 0;
  const timeoutMs = options.startTimeoutMs ?? 180_000;
  const port = async (offset: number) => (base === 0 ? freePort() : base + offset);
  const token = options.ledger?.token ?? randomBytes(32).toString('hex');
  const started: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of started.reverse()) await stop().catch(() => undefined);
  };

  try {
    // The four ledger nodes, each its own process and store (they would run at four organisations).
    const ledger = options.ledger?.nodes ?? (await startLocalLedger({ dataDir: join(dataDir, 'nodes'), basePort: base === 0 ? 0 : base + 201, token, origin: LEDGER_ORIGIN, startTimeoutMs: timeoutMs }));
    if (!options.ledger) started.push(() => ledger.stop());

    // The app instances: the first alone (it migrates the database), then the others together.
    const ports = await Promise.all(Array.from({ length: options.instances }, (_, i) => port(i + 1)));
    const procs: Array<ChildProcess | null> = ports.map(() => null);
    const instances: AppInstance[] = ports.map((p, i) => {
      const id = i + 1;
      const logFile = join(dataDir, `app-${id}.log`);
      return {
        id,
        url: `http://127.0.0.1:${p}`,
        appName: `civic-vote-app-${id}`,
        logFile,
        pid: () => procs[i]?.pid,
        running: () => procs[i] !== null && !exited(procs[i]!),
        kill: async (signal = 'SIGKILL') => stopChild(procs[i] ?? null, signal),
      };
    });
    const startInstance = async (i: number) => {
      const instance = instances[i]!;
      const env: Record<string, string> = {
        NODE_ENV: 'test', LOG_LEVEL: 'warn', SEED_DEMO_DATA: 'false',
        ...options.env,
        HOST: '127.0.0.1', PORT: String(ports[i]), PORTAL_PORT: '0',
        DATA_DIR: join(dataDir, `app-${instance.id}`),
        DATABASE_URL: options.databaseUrl, PGAPPNAME: instance.appName,
        LEDGER_NODES: ledger.urls.join(','), LEDGER_COORDINATOR_TOKEN: token,
        SERVER_SECRET: options.serverSecret, TRUST_PROXY: 'true',
      };
      mkdirSync(env.DATA_DIR!, { recursive: true });
      const child = spawnTied(process.execPath, ['--max-semi-space-size=64', '--heap-growing-percent=50', '--import', 'tsx', '--import', exitWithParent, appMain], env, instance.logFile);
      procs[i] = child;
      started.push(() => stopChild(child));
      await waitReady(`app instance ${instance.id}`, child, instance.logFile, timeoutMs, () => answers(`${instance.url}/readyz`));
    };
    if (instances.length > 0) await startInstance(0);
    await Promise.all(instances.slice(1).map((_, k) => startInstance(k + 1)));

    // The balancer.
    const haproxy = haproxyPath();
    if (!haproxy) throw new Error("HAProxy is not installed: apt-get install haproxy (Debian's package; .ci/run installs it)");
    const [bindPort, statsPort] = await Promise.all([port(0), port(50)]);
    const cfg = join(dataDir, 'haproxy.cfg');
    writeFileSync(cfg, haproxyConfig({ bindPort, statsPort, servers: instances.map((inst, i) => ({ name: `app${inst.id}`, port: ports[i]! })) }));
    const check = spawnSync(haproxy, ['-c', '-q', '-f', cfg], { encoding: 'utf8' });
    if (check.status !== 0) throw new Error(`haproxy refused ${cfg}: ${check.stderr || check.stdout}`);
    const haproxyLog = join(dataDir, 'haproxy.log');
    // -db: stay in the foreground, so this process owns it (and its exit hook ends it).
    const balancer = spawnTied(haproxy, ['-db', '-f', cfg], {}, haproxyLog);
    started.push(() => stopChild(balancer, 'SIGTERM'));
    const balancerUrl = `http://127.0.0.1:${bindPort}`;
    const statsUrl = `http://127.0.0.1:${statsPort}/stats`;
    const balancerStates = async () => {
      const res = await fetch(`${statsUrl};csv`, { signal: AbortSignal.timeout(5000) });
      return parseBalancerStates(await res.text());
    };
    await waitReady('HAProxy', balancer, haproxyLog, timeoutMs, async () => {
      const states = await balancerStates();
      return instances.every((inst) => states[`app${inst.id}`] === 'UP');
    });

    // The verification portal, on its own, with the nodes' keys pinned.
    let portalUrl: string | null = null;
    if (options.portal ?? true) {
      const portalPort = await port(100);
      const portalLog = join(dataDir, 'portal.log');
      const portal = spawnTied(process.execPath, ['--import', 'tsx', '--import', exitWithParent, portalMain], {
        PORTAL_PORT: String(portalPort), LEDGER_NODES: ledger.urls.join(','), LEDGER_KEYS: ledger.verifierKeys.join(','), LEDGER_ORIGIN,
      }, portalLog);
      started.push(() => stopChild(portal));
      portalUrl = `http://127.0.0.1:${portalPort}/`;
      await waitReady('verification portal', portal, portalLog, timeoutMs, () => answers(`${portalUrl}nodes`));
    }

    const leaseHolder = async (): Promise<AppInstance | null> => {
      const client = new pg.Client({ connectionString: options.databaseUrl, application_name: 'civic-vote-topology' });
      await client.connect();
      try {
        const { rows } = await client.query<{ application_name: string }>(
          `SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1 AND l.objid = hashtext($2)::oid
              AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
          [LEASE_LOCK_NAMESPACE, ANCHORING_LEASE],
        );
        return instances.find((inst) => rows.some((r) => r.application_name === inst.appName)) ?? null;
      } finally {
        await client.end();
      }
    };

    return { balancerUrl, statsUrl, portalUrl, instances, ledger, token, balancerStates, leaseHolder, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
};

// --- `npm run topology`: start it and keep it up until Ctrl-C ------------------------------------------
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { instances: { type: 'string' }, 'base-port': { type: 'string' }, 'data-dir': { type: 'string' } } });
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl?.match(/^postgres(ql)?:\/\//)) {
    console.error('DATABASE_URL=postgres://… is required: the instances share one PostgreSQL database (embedded PGlite is single-process)');
    process.exit(2);
  }
  const instances = Number(values.instances ?? 3);
  const basePort = Number(values['base-port'] ?? 10700);
  if (!Number.isInteger(instances) || instances < 1 || instances > 20 || !Number.isInteger(basePort) || basePort < 0 || basePort > 65000) {
    console.error('usage: npm run topology -- [--instances 1..20] [--base-port P] [--data-dir DIR]');
    process.exit(2);
  }
  const dataDir = resolve(values['data-dir'] ?? './data/topology');
  mkdirSync(dataDir, { recursive: true });
  // One secret for every instance, kept for the next start and for `npm run load:provision`.
  const secretFile = join(dataDir, 'server-secret.hex');
  let serverSecret = process.env.SERVER_SECRET;
  if (!serverSecret) {
    try {
      serverSecret = readFileSync(secretFile, 'utf8').trim();
    } catch {
      serverSecret = randomBytes(32).toString('hex');
      writeFileSync(secretFile, serverSecret, { mode: 0o600 });
    }
  }
  const topology = await startTopology({ databaseUrl, instances, basePort, dataDir, serverSecret, env: { NODE_ENV: process.env.NODE_ENV ?? 'development', LOG_LEVEL: process.env.LOG_LEVEL ?? 'info' } });
  console.log(
    [
      '',
      'Civic Vote, scaled out:',
      `  load balancer (HAProxy)  ${topology.balancerUrl}/`,
      `  balancer stats           ${topology.statsUrl}`,
      ...topology.instances.map((inst) => `  app instance ${inst.id}           ${inst.url}/readyz   (log ${inst.logFile})`),
      ...topology.ledger.urls.map((u, i) => `  ledger node ${i + 1}            ${u}/v1/info`),
      `  verification portal      ${topology.portalUrl}`,
      '',
      `Data and logs in ${dataDir}. Ctrl-C to stop.`,
      '',
    ].join('\n'),
  );
  const stop = () => void topology.stop().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
