/**
 * A simulated network for the four ledger nodes, made of Linux network namespaces (iproute2):
 *
 *   this process (root namespace) ── veth ──┐
 *                                     hub namespace: bridge "main" (and bridge "island" for splits)
 *   node 1 namespace ── veth ───────────────┤
 *   …                                       │
 *   node 4 namespace ── veth ───────────────┘
 *
 * Each node listens on its own address in its own namespace; the app (this process) and the nodes
 * reach each other only through the hub's bridge. Faults are made where a real network makes them:
 * a link down (a node cut off), a port moved to the other bridge (a split), `tc netem` on both ends of
 * a node's link (latency and loss). Where the kernel has no netem (CONFIG_NET_SCH_NETEM unset, as on
 * some VM kernels), loss is made by nftables in the node's namespace and latency by a relay in front of
 * the node (test/netns/delayRelay.ts), and the test says so.
 *
 * Names carry this process's pid (`cv<pid>-…`), so runs at the same time never meet; namespaces left by
 * a run that was killed (its pid gone) are removed by the next one. Everything is removed by destroy(),
 * and by an exit hook if the process ends without it.
 */
import { execFileSync, spawnSync } from 'node:child_process';

const run = (args: string[], input?: string): void => {
  const res = spawnSync(args[0]!, args.slice(1), { encoding: 'utf8', input, timeout: 15_000 });
  if (res.status !== 0) throw new Error(`${args.join(' ')}: ${(res.stderr || res.stdout || String(res.error ?? '')).trim()}`);
};
const tryRun = (args: string[]): boolean => spawnSync(args[0]!, args.slice(1), { stdio: 'ignore', timeout: 15_000 }).status === 0;

const prefix = `cv${process.pid}`;
const namespaces = (): string[] => {
  const res = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return res.status === 0 ? res.stdout.split('\n').map((l) => l.split(' ')[0]!).filter((n) => n !== '') : [];
};
const pidAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Removes namespaces that runs of this test left behind when they were killed (their process is gone). */
const removeLeftovers = (): void => {
  for (const ns of namespaces()) {
    const m = /^cv(\d+)-(hub|n\d|probe)$/.exec(ns);
    if (m && Number(m[1]) !== process.pid && !pidAlive(Number(m[1]))) tryRun(['ip', 'netns', 'del', ns]);
  }
};

/** Why namespaces cannot be made here, or null when they can (tried for real: root, iproute2, bridges, veths). */
export const netnsUnavailable = (): string | null => {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'making network namespaces needs root (CI runs as root)';
  if (spawnSync('ip', ['-V'], { stdio: 'ignore' }).status !== 0) return 'iproute2 (the ip command) is not installed';
  const probe = `${prefix}-probe`;
  try {
    removeLeftovers();
    run(['ip', 'netns', 'add', probe]);
    run(['ip', '-n', probe, 'link', 'add', 'br0', 'type', 'bridge']);
    run(['ip', '-n', probe, 'link', 'add', 'a0', 'type', 'veth', 'peer', 'name', 'b0']);
    return null;
  } catch (error) {
    return `network namespaces cannot be made here: ${(error as Error).message}`;
  } finally {
    tryRun(['ip', 'netns', 'del', probe]);
  }
};

/** Whether the kernel has tc's netem qdisc (tried on a veth in a throwaway namespace). */
const netemAvailable = (hub: string): boolean => {
  const ok = tryRun(['ip', '-n', hub, 'link', 'add', 'nq0', 'type', 'veth', 'peer', 'name', 'nq1']) && tryRun(['tc', '-n', hub, 'qdisc', 'add', 'dev', 'nq0', 'root', 'netem', 'delay', '1ms']);
  tryRun(['ip', '-n', hub, 'link', 'del', 'nq0']);
  return ok;
};

export interface SimNet {
  /** Address of this process on the simulated network. */
  hostAddress: string;
  /** Address of node i (1..4) and the namespace it runs in. */
  nodeAddress(i: number): string;
  nodeNamespace(i: number): string;
  /** Whether latency and loss come from tc netem (else nftables for loss and a relay for latency). */
  netem: boolean;
  /** Cuts node i off everyone (its link goes down), or brings it back. */
  setLinkUp(i: number, up: boolean): void;
  /** Puts nodes on the island bridge, cut off from the main one (a split); [] joins them all again. */
  island(nodes: number[]): void;
  /** Adds `delayMs` each way and `lossPercent` loss each way on node i's link with netem; 0/0 removes it. */
  netemOn(i: number, delayMs: number, lossPercent: number): void;
  /** nftables in node i's namespace drops `lossPercent` of packets each way; 0 removes it. */
  nftLoss(i: number, lossPercent: number): void;
  destroy(): void;
}

/** A /24 on 10.x.y.0 that no route of this machine uses yet (the network exists only in our namespaces). */
const pickSubnet = (): string => {
  const routes = spawnSync('ip', ['-4', 'route', 'show', 'table', 'all'], { encoding: 'utf8' }).stdout ?? '';
  for (let k = 0; k < 200; k++) {
    const n = (process.pid + k) % 40_000;
    const subnet = `10.${200 + (n % 50)}.${Math.floor(n / 50) % 250}`;
    if (!routes.includes(`${subnet}.`)) return subnet;
  }
  throw new Error('no free 10.x.y.0/24 for the simulated network');
};

export const createSimNet = (): SimNet => {
  removeLeftovers();
  const hub = `${prefix}-hub`;
  const nodeNs = (i: number) => `${prefix}-n${i}`;
  const subnet = pickSubnet();
  const hostIf = `${prefix}h`;
  const made: string[] = [];
  const destroy = () => {
    for (const ns of made.splice(0).reverse()) tryRun(['ip', 'netns', 'del', ns]);
    tryRun(['ip', 'link', 'del', hostIf]);
  };
  const onExit = () => destroy();
  process.on('exit', onExit);
  try {
    run(['ip', 'netns', 'add', hub]);
    made.push(hub);
    for (const br of ['main', 'island']) {
      run(['ip', '-n', hub, 'link', 'add', br, 'type', 'bridge']);
      run(['ip', '-n', hub, 'link', 'set', br, 'up']);
    }
    // This process's own link into the hub.
    run(['ip', 'link', 'add', hostIf, 'type', 'veth', 'peer', 'name', 'host', 'netns', hub]);
    run(['ip', 'addr', 'add', `${subnet}.1/24`, 'dev', hostIf]);
    run(['ip', 'link', 'set', hostIf, 'up']);
    run(['ip', '-n', hub, 'link', 'set', 'host', 'master', 'main', 'up']);
    for (let i = 1; i <= 4; i++) {
      run(['ip', 'netns', 'add', nodeNs(i)]);
      made.push(nodeNs(i));
      run(['ip', '-n', hub, 'link', 'add', `node${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', nodeNs(i)]);
      run(['ip', '-n', hub, 'link', 'set', `node${i}`, 'master', 'main', 'up']);
      run(['ip', '-n', nodeNs(i), 'addr', 'add', `${subnet}.${10 + i}/24`, 'dev', 'eth0']);
      run(['ip', '-n', nodeNs(i), 'link', 'set', 'eth0', 'up']);
      run(['ip', '-n', nodeNs(i), 'link', 'set', 'lo', 'up']);
    }
  } catch (error) {
    destroy();
    process.off('exit', onExit);
    throw error;
  }
  const netem = netemAvailable(hub);
  return {
    hostAddress: `${subnet}.1`,
    nodeAddress: (i) => `${subnet}.${10 + i}`,
    nodeNamespace: nodeNs,
    netem,
    setLinkUp: (i, up) => run(['ip', '-n', hub, 'link', 'set', `node${i}`, up ? 'up' : 'down']),
    island: (nodes) => {
      for (let i = 1; i <= 4; i++) run(['ip', '-n', hub, 'link', 'set', `node${i}`, 'master', nodes.includes(i) ? 'island' : 'main']);
    },
    netemOn: (i, delayMs, lossPercent) => {
      for (const [ns, dev] of [[hub, `node${i}`], [nodeNs(i), 'eth0']] as const) {
        if (delayMs === 0 && lossPercent === 0) tryRun(['tc', '-n', ns, 'qdisc', 'del', 'dev', dev, 'root']);
        else run(['tc', '-n', ns, 'qdisc', 'replace', 'dev', dev, 'root', 'netem', 'delay', `${delayMs}ms`, 'loss', `${lossPercent}%`]);
      }
    },
    nftLoss: (i, lossPercent) => {
      tryRun(['ip', 'netns', 'exec', nodeNs(i), 'nft', 'delete', 'table', 'inet', 'civic_sim']);
      if (lossPercent === 0) return;
      const drop = `meta l4proto tcp numgen random mod 100 < ${lossPercent} drop`;
      run(['ip', 'netns', 'exec', nodeNs(i), 'nft', '-f', '-'], `table inet civic_sim {\n  chain in { type filter hook input priority 0; policy accept; ${drop}; }\n  chain out { type filter hook output priority 0; policy accept; ${drop}; }\n}\n`);
    },
    destroy: () => {
      destroy();
      process.off('exit', onExit);
    },
  };
};

/** Runs `command` in namespace `ns` (for spawn): `ip netns exec` execs it, so the pid is the command's. */
export const inNamespace = (ns: string, command: string, args: string[]): [string, string[]] => ['ip', ['netns', 'exec', ns, command, ...args]];

export const nftAvailable = (): boolean => {
  try {
    execFileSync('nft', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};
