import { rmSync } from 'node:fs';
import { createCoordinator } from '../src/ledger/coordinator.ts';
import { utf8 } from '../src/ledger/bytes.ts';
import { hashLeaf } from '../src/ledger/merkle.ts';
import { nodeEd25519, nodeSha256 } from '../src/ledger/nodeCrypto.ts';
import { startLocalLedger } from '../src/ledger/node/localCluster.ts';
import { ballotText, openPollEntries, ORIGIN, tempDataDir, TOKEN } from '../src/ledger/node/testing.ts';
import { fmt, perSecond, percentile, time, type Bench } from './harness.ts';

/**
 * Anchoring through the coordinator and four real node processes on loopback, against the two
 * primitives it is made of, measured in the same run: SHA-256 leaf hashing (every entry is hashed by
 * the coordinator and by each node) and Ed25519 signing (each round, each node signs once).
 */
const ENTRIES = 20_000;
const RATE = 2_000; // entries/s offered in the lag run
const LAG_SECONDS = 8;
const HASHES_PER_ENTRY = 5; // the coordinator and each of the 4 nodes hash every leaf once

const ballots = (pollId: string, n: number): string[] => Array.from({ length: n }, (_, i) => ballotText({ pollId, voter: `v${i}`, option: ['a', 'b', 'c'][i % 3] }));

async function primitives(sample: string): Promise<{ hashes: number; signatures: number }> {
  const bytes = utf8(sample);
  const n = 200_000;
  const hashMs = await time(async () => {
    for (let i = 0; i < n; i++) hashLeaf(nodeSha256, bytes);
  });
  const seed = nodeSha256(utf8('bench seed'));
  const body = utf8(`${ORIGIN}\n123456\n${'A'.repeat(43)}=\nprev ${'A'.repeat(43)}=\n`);
  const m = 20_000;
  const signMs = await time(async () => {
    for (let i = 0; i < m; i++) nodeEd25519.sign(seed, body);
  });
  return { hashes: perSecond(n, hashMs), signatures: perSecond(m, signMs) };
}

export const ledgerBench: Bench = {
  name: 'ledger',
  title: 'Ledger anchoring (coordinator + 4 node processes)',
  run: async () => {
    const sample = ballots('sample', 1)[0]!;
    const base = await primitives(sample);
    const dataDir = tempDataDir();
    const ledger = await startLocalLedger({ dataDir, basePort: 0, token: TOKEN, origin: ORIGIN });
    const rows: string[] = [];
    try {
      const coordinator = createCoordinator({ nodes: ledger.urls, token: TOKEN, origin: ORIGIN, timeoutMs: 10_000 });
      let given = 0;
      const feed = async (texts: string[]) => {
        const result = await coordinator.anchor(texts, given);
        given += texts.length;
        if (result.status !== 'final') throw new Error(`anchoring stalled: ${JSON.stringify(result)}`);
        return result;
      };

      // Throughput: a backlog fed in batches, as the app does after a burst of votes.
      for (const [label, batch, pollId] of [['4 of 4 nodes up', 500, 't1'], ['4 of 4 nodes up', 2000, 't2']] as const) {
        const texts = [...openPollEntries(pollId), ...ballots(pollId, ENTRIES)];
        let rounds = 0;
        const ms = await time(async () => {
          for (let i = 0; i < texts.length; i += batch) {
            await feed(texts.slice(i, i + batch));
            rounds++;
          }
        });
        const rate = perSecond(texts.length, ms);
        const share = ((100 * rate * HASHES_PER_ENTRY) / base.hashes).toFixed(1);
        rows.push(`| throughput | ${label} | ${batch} | ${fmt(rate)} (${share}% of the hashing bound) | ${fmt(perSecond(rounds, ms))} | ${(ms / rounds).toFixed(0)} ms per round |`);
      }

      // Lag: entries offered at a steady rate; the anchor loop takes whatever is queued, as the app's
      // anchoring loop does. Lag = time from an entry being offered to the checkpoint holding it being final.
      const lagRun = async (label: string, pollId: string): Promise<void> => {
        const queue: { text: string; at: number }[] = [];
        const lags: number[] = [];
        const all = [...openPollEntries(pollId), ...ballots(pollId, RATE * LAG_SECONDS)];
        let offered = 0;
        const started = performance.now();
        const producer = setInterval(() => {
          const due = Math.min(all.length, Math.ceil(((performance.now() - started) / 1000) * RATE));
          for (; offered < due; offered++) queue.push({ text: all[offered]!, at: performance.now() });
        }, 10);
        let rounds = 0;
        while (offered < all.length || queue.length > 0) {
          if (queue.length === 0) {
            await new Promise((r) => setTimeout(r, 5));
            continue;
          }
          const taken = queue.splice(0, queue.length);
          await feed(taken.map((e) => e.text));
          rounds++;
          const now = performance.now();
          for (const e of taken) lags.push(now - e.at);
        }
        clearInterval(producer);
        lags.sort((a, b) => a - b);
        const ms = performance.now() - started;
        rows.push(
          `| lag at ${fmt(RATE)}/s | ${label} | ${(all.length / rounds).toFixed(0)} (mean) | ${fmt(perSecond(all.length, ms))} | ${fmt(perSecond(rounds, ms))} | p50 ${percentile(lags, 50).toFixed(0)} ms, p95 ${percentile(lags, 95).toFixed(0)} ms, max ${lags.at(-1)!.toFixed(0)} ms |`,
        );
      };
      await lagRun('4 of 4 nodes up', 'l1');
      await ledger.kill(3);
      await lagRun('3 of 4 nodes up', 'l2');
    } finally {
      await ledger.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
    return [
      `Baselines in this run (node:crypto, one core): SHA-256 leaf hashes of a ${utf8(sample).length}-byte ballot entry: ${fmt(base.hashes)}/s; Ed25519 signatures of a checkpoint body: ${fmt(base.signatures)}/s.`,
      `Hashing alone would bound anchoring at ~${fmt(Math.round(base.hashes / HASHES_PER_ENTRY))} entries/s on one core (5 leaf hashes per entry); signing alone at ~${fmt(base.signatures)} rounds/s per node.`,
      'Every round: HTTP to 4 node processes, each re-checking every ballot against its poll (domain decider), appending with fsync, fsyncing its signing state (temp file + rename), signing; then finalize to all.',
      '',
      '| run | nodes | entries per round | entries/s | rounds/s | finalisation lag |',
      '|---|---|---|---|---|---|',
      ...rows,
    ].join('\n');
  },
};
