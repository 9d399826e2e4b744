import { utf8 } from '../src/ledger/bytes.ts';
import { hashLeaf, MerkleFrontier } from '../src/ledger/merkle.ts';
import { nodeSha256 } from '../src/ledger/nodeCrypto.ts';
import type { LedgerNode } from '../src/ledger/node/ledgerNode.ts';
import { ballotText, inProcessCluster, openPollEntries, signRound } from '../src/ledger/node/testing.ts';
import { fmt, loadAverage, type Bench } from './harness.ts';

/**
 * A ledger node's restart as its history of rounds grows: a cluster of four in-process nodes takes
 * rounds of one ballot each (a quiet hour's rounds: one signed body and one final note a round), and
 * node 1 is restarted at 1,000 and at 4,000 rounds. The time until it serves, and how much of it is the
 * store check (the rest is the replay of its entries), against the 1,000-round restart of the same run.
 * BENCH_NODE_ROUNDS: the larger size (default 4,000).
 */
const SIZES = [1_000, Number(process.env.BENCH_NODE_ROUNDS ?? 4_000)];

export const nodeStartupBench: Bench = {
  name: 'node-startup',
  title: 'A ledger node restart as its rounds add up (issue 14)',
  run: async () => {
    const load = loadAverage();
    const cluster = inProcessCluster();
    // The log's frontier kept here: inProcessRound would hash the whole log again each round.
    const frontier = MerkleFrontier.empty(nodeSha256);
    let prev: string | null = null;
    const round = async (nodes: LedgerNode[], texts: string[]): Promise<void> => {
      const start = frontier.size;
      for (const t of texts) frontier.append(hashLeaf(nodeSha256, utf8(t)));
      prev = await signRound(nodes, start, texts, frontier.size, frontier.root(), prev);
    };
    await round(cluster.nodes, openPollEntries('restart'));
    const rows: string[] = [];
    let rounds = 0;
    let baseline = 0;
    try {
      for (const size of SIZES) {
        for (; rounds < size; rounds++) await round(cluster.nodes, [ballotText({ pollId: 'restart', voter: `v${rounds}` })]);
        const t0 = performance.now();
        const node = cluster.restart(0);
        const startMs = performance.now() - t0;
        const t1 = performance.now();
        await node.whenStoreChecked();
        const sweepMs = performance.now() - t1;
        if (node.storeProblem) throw new Error(`store problem after restart: ${node.storeProblem}`);
        baseline ||= startMs;
        rows.push(`| ${fmt(size)} | ${fmt(Math.round(startMs))} (${(startMs / baseline).toFixed(2)}×) | ${fmt(Math.round(sweepMs))} |`);
      }
    } finally {
      for (const n of cluster.nodes) n.close();
    }
    return [
      `Machine load average when the run started: ${load}. Four LedgerNode instances in the bench process (their files in the OS temp directory), rounds of one ballot each.`,
      '',
      '| rounds signed and finalised | restart until it serves, ms (vs 1,000 rounds) | then the background check of the older notes, ms |',
      '|---|---|---|',
      ...rows,
    ].join('\n');
  },
};
