import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { cpuUsage } from 'node:process';
import { startAppOn } from '../test/ledger/support.ts';
import { createPostgresTestDb } from '../test/support/testDb.ts';
import { openGeneralPoll, official, openPoll } from '../test/support/pollFixtures.ts';
import { makeShareBatch } from '../src/ledger/threshold/decryption.ts';
import { G, mod, pointToHex } from '../src/ledger/threshold/group.ts';
import { deal, ownShare, publicKeySetOf, receiveShare, transportKeyOf } from '../src/ledger/threshold/vss.ts';
import { sealSelections } from '../src/ledger/threshold/seal.ts';
import { useServerCrypto } from '../src/ledger/threshold/serverCrypto.ts';
import { OPEN_BATCH, openBatch, type SealedBallotRef } from '../src/ledger/sealedOpening.ts';
import { getVerification } from '../src/infra/readModels/pollVerification.ts';
import { ballotEntriesOnNodes, publishWhenOpened } from '../test/load/scenarioDriver.ts';
import { openBudgetPoll } from '../src/cli/provisionVoters.ts';
import { cpuByProcess, cpuDeltaByRole, cpuProfilerFor, fmt, loadAverage, percentile, rssOfProcessAndChildren, type Bench } from './harness.ts';

/**
 * Sealed polls. Three measurements, each with its baseline or its parts in the same run:
 *
 * 1. Casting: the app's cast use case (decider, sealing, event append, PostgreSQL, four ledger nodes
 *    anchoring in the background) on a live poll and on a sealed poll, alternated in rounds so that
 *    the machine's load hits both alike. Ballots per second and the app's CPU per ballot.
 * 2. Opening end to end, on the same app and its four node processes: a sealed poll of
 *    SEALED_E2E_BALLOTS ballots (or several sizes, comma-separated, one poll each) is closed; the clock runs from the close until the result is published
 *    (the nodes' shares and proofs, checking them, combining, opening, storing and anchoring every
 *    opening entry) and then until the nodes' tallies are verified. CPU of the app and of the node
 *    processes from /proc; each node process's peak RSS through that, and while every node's whole log
 *    is then read page by page (as the full scenario counts the ballot entries on each node).
 *    SEALED_E2E_POLL=budget closes the full scenario's budget poll instead of a one-question poll.
 * 3. Opening, the cryptography alone, for SEALED_OPEN_BALLOTS ballots in one process (250,000 for the
 *    issue's full size), per step: one node's shares and proof, and the opener's checking, combining and
 *    opening. From these, the time of a 250,000-ballot opening on this machine's cores.
 */
const ROUNDS = Number(process.env.SEALED_CAST_ROUNDS ?? 3);
const PER_ROUND = Number(process.env.SEALED_CAST_BALLOTS ?? 2000);
const CONCURRENCY = 16;
/**
 * SEALED_CAST_RATE=N: cast at most N ballots per second (each ballot starts no earlier than its slot) so
 * that both kinds run at the same rate: their CPU per ballot then compares the same batching (anchoring
 * rounds, projection batches), which a closed loop gives the faster kind more of. 0: as fast as it goes.
 */
const RATE = Number(process.env.SEALED_CAST_RATE ?? 0);
const OPEN_BALLOTS = Number(process.env.SEALED_OPEN_BALLOTS ?? 5000);
/** One size, or several separated by commas (e.g. 10000,20000): one poll each, in order, on the same app. */
const E2E_SIZES = (process.env.SEALED_E2E_BALLOTS ?? '3000').split(',').map(Number).filter((n) => n > 0);
const FULL = 250_000;
/**
 * The poll the end-to-end opening closes: `general` (one question, three options) or `budget`, the full
 * scenario's participatory budget (50 projects, approve up to 5): its nodes' tallies keep every ballot's
 * approval set.
 */
const E2E_POLL = process.env.SEALED_E2E_POLL === 'budget' ? 'budget' : 'general';

/**
 * The largest resident set of each ledger node process (this process's children) while `work` runs,
 * sampled every 250 ms from /proc: issue 14's bound is on each node's RSS through the opening.
 */
const peakNodeRss = async <T>(work: () => Promise<T>): Promise<{ result: T; peakMiB: number[] }> => {
  const peaks = new Map<number, number>();
  const sample = () => {
    for (const [pid, rss] of rssOfProcessAndChildren(process.pid, 'ledger/node/main').children) peaks.set(pid, Math.max(peaks.get(pid) ?? 0, rss));
  };
  sample();
  const timer = setInterval(sample, 250);
  try {
    const result = await work();
    sample();
    return { result, peakMiB: [...peaks.values()].map((b) => b / 2 ** 20) };
  } finally {
    clearInterval(timer);
  }
};
/**
 * The app's own memory (this process: the bench hosts the app) while `work` runs, sampled every 250 ms:
 * peak RSS, heap used, and external + array buffers (Buffers, WebAssembly memory, PGlite), in MiB.
 * SEALED_MEMORY_TRACE=1 prints every sample to stderr with the step the bench is in (see `step`).
 */
const appMemory = () => {
  const peak = { rss: 0, heap: 0, external: 0 };
  let step = '';
  const byStep = new Map<string, { rss: number; heap: number }>();
  const t0 = performance.now();
  const sample = () => {
    const m = process.memoryUsage();
    peak.rss = Math.max(peak.rss, m.rss);
    peak.heap = Math.max(peak.heap, m.heapUsed);
    peak.external = Math.max(peak.external, m.external + m.arrayBuffers);
    const mine = byStep.get(step) ?? { rss: 0, heap: 0 };
    byStep.set(step, { rss: Math.max(mine.rss, m.rss), heap: Math.max(mine.heap, m.heapUsed) });
    if (process.env.SEALED_MEMORY_TRACE === '1') {
      const mib = (b: number) => (b / 2 ** 20).toFixed(0);
      process.stderr.write(`mem ${((performance.now() - t0) / 1000).toFixed(1)} s ${step}: rss ${mib(m.rss)} heap ${mib(m.heapUsed)}/${mib(m.heapTotal)} external ${mib(m.external)} arrayBuffers ${mib(m.arrayBuffers)}\n`);
    }
  };
  sample();
  const timer = setInterval(sample, 250);
  return {
    step: (name: string) => {
      step = name;
      sample();
    },
    stop: () => {
      sample();
      clearInterval(timer);
      const mib = (b: number) => b / 2 ** 20;
      const steps = [...byStep].filter(([name]) => name !== '' && name !== 'between').map(([name, p]) => `${name} ${mib(p.rss).toFixed(0)} / ${mib(p.heap).toFixed(0)}`);
      return { rssMiB: mib(peak.rss), heapMiB: mib(peak.heap), externalMiB: mib(peak.external), steps: steps.join(', ') };
    },
  };
};
/** CPU seconds (user + system) of every process below this one: the ledger nodes the app started. */
function descendantsCpuSeconds(): number {
  const rows = execFileSync('ps', ['-e', '-o', 'pid=,ppid=,times='], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number) as [number, number, number]);
  const children = new Map<number, number[]>();
  for (const [pid, ppid] of rows) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  const times = new Map(rows.map(([pid, , t]) => [pid, t]));
  let total = 0;
  const stack = [...(children.get(process.pid) ?? [])];
  while (stack.length > 0) {
    const pid = stack.pop()!;
    total += times.get(pid) ?? 0;
    stack.push(...(children.get(pid) ?? []));
  }
  return total;
}
const ownCpuSeconds = () => {
  const u = cpuUsage();
  return (u.user + u.system) / 1e6;
};

type App = Awaited<ReturnType<typeof startAppOn>>;

/** Where the cores went while each kind of poll was cast: by process, and the app's own threads. */
const CAST_ROLES = ['app', 'ledger nodes', 'postgres', 'other'] as const;
type CastRole = (typeof CAST_ROLES)[number];
/**
 * The app is this process; the ledger nodes are its descendants (with their tsx helpers); "postgres" is
 * the backends serving the bench's own database (their process title names it: the server is shared
 * with other engineers' tests, whose backends and the server's shared writers count as "other").
 */
const castRoleOf = (database: string) => (pid: number, ppid: number, comm: string): CastRole => {
  if (pid === process.pid) return 'app';
  if (comm === 'postgres') {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(` ${database} `) ? 'postgres' : 'other';
    } catch {
      return 'other';
    }
  }
  for (let p = ppid, hops = 0; p > 1 && hops < 8; hops++) {
    if (p === process.pid) return 'ledger nodes';
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      p = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    } catch {
      break;
    }
  }
  return 'other';
};
/** CPU seconds of this process's threads, summed by thread name (main, worker, libuv, V8 helpers). */
const ownThreadsCpu = (): Map<string, number> => {
  const out = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const name = Number(tid) === process.pid ? 'main thread' : stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      out.set(name, (out.get(name) ?? 0) + (Number(fields[11]) + Number(fields[12])) / 100);
    } catch {
      // the thread ended
    }
  }
  return out;
};

/**
 * SEALED_CAST_PROFILE=DIR: a CPU profile of the app's main thread over each counted round of each kind,
 * its catch-up included (DIR/live-N.cpuprofile, DIR/sealed-N.cpuprofile), to see where a kind's extra goes.
 */
const castProfiler = cpuProfilerFor(process.env.SEALED_CAST_PROFILE);

const castBench = async (app: App, database: string): Promise<string> => {
  const roleOf = castRoleOf(database);
  const by = official('bench');
  const live = await openPoll(app, openGeneralPoll({}, { resultsVisibility: 'live' }), by);
  const sealed = await openPoll(app, openGeneralPoll({}, { resultsVisibility: 'sealed' }), by);
  const fresh = () => ({ ms: 0, n: 0, inline: 0, cpu: Object.fromEntries(CAST_ROLES.map((r) => [r, 0])) as Record<CastRole, number>, threads: new Map<string, number>() });
  const totals = { live: fresh(), sealed: fresh() };
  let voter = 0;
  /**
   * One round of one kind: PER_ROUND casts, 16 in flight, timed; then, untimed, until the projections
   * and the ledger anchoring have caught up, so each round starts on an empty backlog and the CPU
   * counted for it (until caught up) is the cost of its own ballots, not the other kind's.
   */
  const run = async (kind: 'live' | 'sealed', profileAs?: string) => {
    if (profileAs) await castProfiler?.start();
    const pollId = kind === 'live' ? live : sealed;
    const ids = Array.from({ length: PER_ROUND }, () => `bench-voter-${voter++}`);
    const cpu0 = cpuByProcess(roleOf);
    const threads0 = ownThreadsCpu();
    const pool = app.ledger!.encapsulationPool();
    const empty0 = pool?.counts().empty ?? 0;
    const t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < ids.length) {
          const slot = next;
          const citizenId = ids[next++]!;
          const wait = RATE > 0 ? t0 + (slot * 1000) / RATE - performance.now() : 0;
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          await app.polls.cast({ pollId, citizenId, selections: { selections: { q1: [['a', 'b', 'c'][next % 3]!] } } });
        }
      }),
    );
    const ms = performance.now() - t0;
    const inline = (pool?.counts().empty ?? 0) - empty0;
    await app.projections.settled();
    await app.ledger!.anchoring.settled(120_000);
    // The worker refills the encapsulation pool after a sealed round (a chunk of 64 every ~20 ms of CPU): that work is
    // the round's own too, so the next round starts when the pool has stopped growing.
    for (let before = -1, i = 0; pool && pool.ready() !== before && i < 300; i++) {
      before = pool.ready();
      await new Promise((r) => setTimeout(r, 200));
    }
    if (profileAs) await castProfiler?.stop(profileAs);
    const cpu = cpuDeltaByRole(CAST_ROLES, cpu0, cpuByProcess(roleOf));
    const t = totals[kind];
    t.ms += ms;
    t.n += ids.length;
    t.inline += inline;
    for (const r of CAST_ROLES) t.cpu[r] += cpu[r];
    for (const [name, s] of ownThreadsCpu()) t.threads.set(name, (t.threads.get(name) ?? 0) + s - (threads0.get(name) ?? 0));
    return (ids.length * 1000) / ms;
  };
  // Warm-up of both kinds (JIT, connections, the nodes' first entries of each kind), not counted.
  await run('live');
  await run('sealed');
  totals.live = fresh();
  totals.sealed = fresh();
  /** Per round: the load average at its start and each kind's ballots per second in it. */
  const rounds: { load: number; live: number; sealed: number }[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    // Each kind goes first in every other round, so the machine's drift hits both alike.
    const order: ('live' | 'sealed')[] = r % 2 === 0 ? ['live', 'sealed'] : ['sealed', 'live'];
    const round = { load: loadavg()[0]!, live: 0, sealed: 0 };
    for (const kind of order) round[kind] = await run(kind, `${kind}-${r + 1}`);
    rounds.push(round);
  }
  const rate = (k: 'live' | 'sealed') => (totals[k].n * 1000) / totals[k].ms;
  const msPer = (k: 'live' | 'sealed', seconds: number) => ((seconds * 1000) / totals[k].n).toFixed(2);
  const ownCpu = (k: 'live' | 'sealed') => (totals[k].cpu.app + totals[k].cpu['ledger nodes'] + totals[k].cpu.postgres) / totals[k].n;
  const threadNames = [...new Set([...totals.live.threads.keys(), ...totals.sealed.threads.keys()])]
    .map((name) => ({ name, live: totals.live.threads.get(name) ?? 0, sealed: totals.sealed.threads.get(name) ?? 0 }))
    .filter((t) => t.live + t.sealed >= 0.05)
    .sort((a, b) => b.live + b.sealed - (a.live + a.sealed));
  return [
    `Cast use case in process (no HTTP), PostgreSQL, ledger anchoring running (500 ms interval); ${ROUNDS} alternating rounds of ${PER_ROUND} ballots per kind, ${CONCURRENCY} in flight${RATE > 0 ? `, paced at ${RATE} ballots/s for both kinds` : ''}, after one warm-up round of each. Throughput is over the casts; after each round the bench waits (untimed) until the projections and the anchoring have caught up and the encapsulation pool has stopped refilling, so every round starts on an empty backlog and its CPU (from /proc, utime + stime, until caught up) is that of its own ballots.`,
    '',
    '| poll | ballots | ballots/s | app CPU ms per ballot (all threads) | ledger nodes (4 processes) | PostgreSQL (the bench database\'s backends) | other processes |',
    '|---|---|---|---|---|---|---|',
    ...(['live', 'sealed'] as const).map((k) => `| ${k === 'live' ? 'live (baseline)' : 'sealed'} | ${fmt(totals[k].n)} | ${rate(k).toFixed(0)} | ${msPer(k, totals[k].cpu.app)} | ${msPer(k, totals[k].cpu['ledger nodes'])} | ${msPer(k, totals[k].cpu.postgres)} | ${msPer(k, totals[k].cpu.other)} |`),
    '',
    `The app's threads, CPU ms per ballot (live / sealed): ${threadNames.map((t) => `${t.name} ${msPer('live', t.live)} / ${msPer('sealed', t.sealed)}`).join('; ')}.`,
    '',
    `CPU of the app, the nodes and this database's backends together per ballot, live / sealed: **${(ownCpu('live') / ownCpu('sealed')).toFixed(2)}** (${(ownCpu('live') * 1000).toFixed(2)} / ${(ownCpu('sealed') * 1000).toFixed(2)} ms): on cores that something else keeps busy, the throughput ratio follows it.`,
    '',
    `Sealed ballots whose encapsulation the cast request made itself because the worker's pool was empty: ${fmt(totals.sealed.inline)} of ${fmt(totals.sealed.n)}.`,
    '',
    `Each round (load average at its start: sealed / live ballots per second): ${rounds.map((r) => `${r.load.toFixed(1)}: ${(r.sealed / r.live).toFixed(2)}`).join('; ')}; median ${percentile(rounds.map((r) => r.sealed / r.live).sort((a, b) => a - b), 50).toFixed(2)}.`,
    '',
    `Sealed / live throughput: **${(rate('sealed') / rate('live')).toFixed(2)}x** (target ≥ 0.8x).`,
  ].join('\n');
};

const e2eOpenBench = async (app: App, ballots: number): Promise<string> => {
  const by = official('bench-open');
  const pollId = E2E_POLL === 'budget' ? await openBudgetPoll(app.eventStore, by) : await openPoll(app, openGeneralPoll({}, { resultsVisibility: 'sealed' }), by);
  // A budget ballot approves 1 to 5 of the 50 projects, spread so that every project gets approvals.
  const selectionOf = (i: number): string[] => (E2E_POLL === 'budget' ? Array.from({ length: 1 + (i % 5) }, (_, k) => `p${1 + ((i * 7 + k * 11) % 50)}`) : [['a', 'b', 'c'][i % 3]!]);
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < ballots) {
        const i = next++;
        await app.polls.cast({ pollId, citizenId: `bench-open-${ballots}-voter-${i}`, selections: { selections: { q1: selectionOf(i) } } });
      }
    }),
  );
  await app.projections.settled();
  await app.ledger!.anchoring.settled(600_000);
  const load0 = loadavg()[0]!;
  const app0 = ownCpuSeconds();
  const nodes0 = descendantsCpuSeconds();
  const nodesBefore = [...rssOfProcessAndChildren(process.pid, 'ledger/node/main').children.values()].map((b) => b / 2 ** 20);
  const memBefore = process.memoryUsage();
  const mem = appMemory();
  const t0 = performance.now();
  const { result: tOpened, peakMiB } = await peakNodeRss(async () => {
    mem.step('close');
    await app.polls.commands.close(pollId, by);
    // The same steps as the full scenario's, each named in the memory trace.
    const stepped = <A extends unknown[], R>(name: string, fn: (...a: A) => Promise<R>) => async (...a: A): Promise<R> => {
      mem.step(name);
      try {
        return await fn(...a);
      } finally {
        mem.step('between');
      }
    };
    const traced = {
      ...app,
      ledger: { ...app.ledger!, openSealedNow: stepped('opening', app.ledger!.openSealedNow) },
      polls: { ...app.polls, commands: { ...app.polls.commands, publishResult: stepped('publish', app.polls.commands.publishResult) } },
    };
    await publishWhenOpened(traced, pollId, by, 3_600_000);
    mem.step('anchor');
    await app.ledger!.anchoring.settled(600_000);
    mem.step('verify');
    const opened = performance.now();
    const poll = await app.polls.get(pollId);
    if (poll?.result?.ballots !== ballots) throw new Error(`the opening counted ${String(poll?.result?.ballots)} of ${ballots} ballots`);
    for (;;) {
      const v = await getVerification(app.db.kysely, pollId);
      if (v.status === 'completed') break;
      if (v.status !== 'pending') throw new Error(`the nodes' tallies did not verify: ${JSON.stringify(v)}`);
      if (performance.now() - opened > 600_000) throw new Error('the nodes did not verify within 10 minutes');
      await new Promise((r) => setTimeout(r, 200));
    }
    return opened;
  });
  const tVerified = performance.now();
  const memPeak = mem.stop();
  const appCpu = ownCpuSeconds() - app0;
  const nodeCpu = descendantsCpuSeconds() - nodes0;
  // Then every node's whole log read page by page, as the full scenario counts each node's ballot entries
  // after the close (and as an auditor reads it): the pages that hold the opening's entries are the large ones.
  const tRead = performance.now();
  const { result: counts, peakMiB: readPeakMiB } = await peakNodeRss(() => ballotEntriesOnNodes(app.ledger!.urls, pollId, () => ''));
  const readS = (performance.now() - tRead) / 1000;
  if (Object.values(counts).some((n) => n !== ballots)) throw new Error(`ballot entries on the nodes: ${JSON.stringify(counts)}, not ${ballots} each`);
  const openS = (tOpened - t0) / 1000;
  const allS = (tVerified - t0) / 1000;
  const at250k = (sec: number) => ((sec / ballots) * FULL) / 60;
  return [
    `A sealed ${E2E_POLL === 'budget' ? 'budget poll (50 projects, approve 1 to 5)' : 'poll (one question, three options)'} of ${fmt(ballots)} ballots cast through the app, then closed; every ballot counted in the published result (zero lost). Load average at the close: ${load0.toFixed(1)}.`,
    '',
    '| stage | wall time | ms per ballot | linear at 250,000 |',
    '|---|---|---|---|',
    `| close → result published (shares, proofs, checking, combining, opening, storing and anchoring the openings) | ${openS.toFixed(1)} s | ${((openS * 1000) / ballots).toFixed(2)} | ${at250k(openS).toFixed(1)} min |`,
    `| close → nodes' tallies verified | ${allS.toFixed(1)} s | ${((allS * 1000) / ballots).toFixed(2)} | **${at250k(allS).toFixed(1)} min** |`,
    '',
    `Ledger node RSS (4 processes, sampled every 250 ms): ${nodesBefore.map((m) => m.toFixed(0)).join(' / ')} MiB at the close, at most **${peakMiB.map((m) => m.toFixed(0)).join(' / ')} MiB** from the close until the tallies were verified, **${readPeakMiB.map((m) => m.toFixed(0)).join(' / ')} MiB** while each node's whole log was read page by page afterwards (${readS.toFixed(1)} s; ${fmt(ballots)} ballot entries found on each). Issue 14: under 256 MiB each.`,
    '',
    `App process memory (this process hosts the app; sampled every 250 ms): at the close RSS ${(memBefore.rss / 2 ** 20).toFixed(0)} MiB, heap used ${(memBefore.heapUsed / 2 ** 20).toFixed(0)} MiB; at most **RSS ${memPeak.rssMiB.toFixed(0)} MiB**, heap used ${memPeak.heapMiB.toFixed(0)} MiB, external + array buffers ${memPeak.externalMiB.toFixed(0)} MiB from the close until the tallies were verified; by step, peak RSS / heap used in MiB: ${memPeak.steps}. Issue 14: the app under 1,024 MiB.`,
    '',
    `CPU over the whole opening: app ${appCpu.toFixed(1)} s, the four node processes ${nodeCpu.toFixed(1)} s: ${(((appCpu + nodeCpu) * 1000) / ballots).toFixed(2)} ms per ballot, ${(((appCpu + nodeCpu) / ballots) * FULL / 60 / Math.max(1, Math.min(2, cpus().length))).toFixed(1)} min of ${Math.min(2, cpus().length)} fully used cores at 250,000.`,
  ].join('\n');
};

const openBench = async (): Promise<string> => {
  await useServerCrypto(); // as the node processes and the app do
  // A key ceremony among 4 simulated nodes (the node processes do the same; only the shares matter here).
  const transports = [1, 2, 3, 4].map((i) => transportKeyOf(new Uint8Array(32).fill(i)));
  const keys = Object.fromEntries(transports.map((t, k) => [String(k + 1), t.publicKey]));
  const dealt = [1, 2, 3, 4].map((d) => deal('bench', d, keys));
  const shares = [1, 2, 3, 4].map((me) =>
    dealt.reduce((x, { dealing, secret }) => mod(x + (dealing.dealer === me ? ownShare(secret, me) : receiveShare(dealing, me, transports[me - 1]!.secret, transports[me - 1]!.publicKey))), 0n),
  );
  const set = publicKeySetOf('bench', Object.fromEntries(dealt.map(({ dealing }) => [String(dealing.dealer), dealing.commitments])));
  if (pointToHex(G.multiply(shares[0]!)) !== set.verificationKeys['1']) throw new Error('ceremony broken');

  const pollId = 'bench-poll';
  // CPU time of this process (the work is single-threaded JavaScript and WebAssembly): wall time on a
  // shared machine says more about the other tenants than about this code.
  const now = () => ownCpuSeconds() * 1000;
  const wall0 = performance.now();
  const t0 = now();
  const ballots: SealedBallotRef[] = Array.from({ length: OPEN_BALLOTS }, (_, j) => {
    const ctx = { pollId, voterTag: `tag-${j}`, ballotId: `e-${j}` };
    return { eventId: `e-${j}`, voterTag: ctx.voterTag, ballotId: ctx.ballotId, castAt: '2026-01-01T00:00:00.000Z', sealed: sealSelections(set, ctx, { selections: { q1: [['a', 'b', 'c'][j % 3]!] } }) };
  });
  const sealMs = now() - t0;
  let sharesMs = 0;
  let openMs = 0;
  let opened = 0;
  for (let b = 0; b * OPEN_BATCH < ballots.length; b++) {
    const slice = ballots.slice(b * OPEN_BATCH, (b + 1) * OPEN_BATCH);
    const items = slice.map((x) => ({ eventId: x.eventId, ephemeral: x.sealed.ephemeral }));
    let t = now();
    // Each node decodes the ephemerals itself: they are separate processes.
    const batches = [1, 2, 3].map((node) => makeShareBatch(shares[node - 1]!, { keyId: set.keyId, pollId, node, batch: b }, items));
    sharesMs += now() - t;
    t = now();
    const result = openBatch(set, pollId, slice, batches);
    if (result.wrongNodes.length > 0) throw new Error('a share did not verify');
    opened += result.openings.filter((o) => !('unopenable' in o)).length;
    openMs += now() - t;
  }
  if (opened !== ballots.length) throw new Error(`opened ${opened} of ${ballots.length}`);
  const wallMs = performance.now() - wall0;
  const per = (ms: number) => ((ms * 1000) / ballots.length).toFixed(0);
  const at250k = (ms: number) => ((ms / ballots.length) * FULL) / 60_000;
  const perNode = sharesMs / 3;
  const cores = Math.min(2, cpus().length);
  // Nodes and opener run at once (separate processes, the next batch asked for while one is checked):
  // on `cores` cores the opening takes at least the busiest process and at least the total over the cores.
  const parallel = Math.max(at250k(perNode), at250k(openMs), at250k(sharesMs + openMs) / cores);
  return [
    `${fmt(ballots.length)} sealed ballots opened in one process (batches of ${OPEN_BATCH}), libsodium's multiplication installed as in the nodes and the app; CPU time of the process per step (wall time of the whole run: ${(wallMs / 1000).toFixed(0)} s).`,
    '',
    '| step | CPU total | µs per ballot | at 250,000 ballots |',
    '|---|---|---|---|',
    `| sealing (app, at cast time; not part of opening) | ${(sealMs / 1000).toFixed(1)} s | ${per(sealMs)} | ${at250k(sealMs).toFixed(1)} min |`,
    `| one node: decryption shares + batched proof | ${(perNode / 1000).toFixed(1)} s | ${per(perNode)} | ${at250k(perNode).toFixed(1)} min per node |`,
    `| opener: checking 3 nodes' proofs, combining, opening (AEAD + commitment) | ${(openMs / 1000).toFixed(1)} s | ${per(openMs)} | ${at250k(openMs).toFixed(1)} min |`,
    `| **all of it, one after another** | **${((sharesMs + openMs) / 1000).toFixed(1)} s** | ${per(sharesMs + openMs)} | **${at250k(sharesMs + openMs).toFixed(1)} min** |`,
    '',
    `With the 3 nodes and the opener in their own processes on ${cores} cores: **${parallel.toFixed(1)} min** of cryptography for 250,000 ballots (the larger of the busiest process and the total over the cores).`,
  ].join('\n');
};

export const sealedBench: Bench = {
  name: 'sealed',
  title: 'Sealed polls: casting and opening',
  run: async () => {
    const load = loadAverage(' / ');
    const parts = [`Load average at start: ${load} (1/5/15 min; ${cpus().length} cores shared by other engineers' tests).`, ''];
    if (process.env.SEALED_SKIP_APP !== '1') {
      let database = '';
      const app = await startAppOn(async () => {
        const db = await createPostgresTestDb();
        database = new URL(db.url!).pathname.slice(1);
        return db;
      }, { ANCHOR_INTERVAL_MS: '500' });
      try {
        await app.ledger!.anchoring.settled(120_000).catch(() => undefined);
        for (let i = 0; i < 100 && !app.ledger!.sealingKey(); i++) await new Promise((r) => setTimeout(r, 500));
        if (!app.ledger!.sealingKey()) throw new Error('the nodes did not complete their key ceremony');
        parts.push('### Casting: sealed vs live in the same run', '', await castBench(app, database), '');
        if (E2E_SIZES.length > 0) parts.push('### Opening end to end: app, PostgreSQL and the four node processes', '');
        for (const n of E2E_SIZES) parts.push(await e2eOpenBench(app, n), '');
      } finally {
        await app.stop();
      }
    }
    if (OPEN_BALLOTS > 0) parts.push('### Opening: the cryptography alone', '', await openBench(), '');
    parts.push(`Load average at end: ${loadAverage(' / ')}.`);
    return parts.join('\n');
  },
};
