/**
 * A closed, tallied and published poll on four real ledger node processes, anchored through the real
 * coordinator (not HTTP voting, so 10,000 or 250,000 ballots take seconds). Shared by the portal specs,
 * the browser specs and bench/portal.bench.ts.
 */
import { tallyPoll, type PollTally } from '../../src/domain/tally.ts';
import { createCoordinator, type Coordinator } from '../../src/ledger/coordinator.ts';
import { pollBallotsFromEntries } from '../../src/ledger/node/entryChecker.ts';
import { ORIGIN, TOKEN, ballotEntry, closePollEntry, entryText, openPollEntries, startTestLedger, CLOSES_AT } from '../../src/ledger/node/testing.ts';
import type { LocalLedger } from '../../src/ledger/node/localCluster.ts';
import { nodeEd25519, nodeSha256 } from '../../src/ledger/nodeCrypto.ts';
import { createNodeClient } from '../../src/ledger/nodeClient.ts';
import { QUORUM, type VerifyContext } from '../../verify-portal/lib/common.ts';

export { ORIGIN };

export interface TestLedger extends LocalLedger {
  dataDir: string;
  coordinator: Coordinator;
  /** Anchors entries after everything anchored so far; throws unless they became final. */
  anchor(entries: readonly string[]): Promise<number>;
  /** A verification context over the four nodes, with node:crypto or the given primitives. */
  context(crypto?: Pick<VerifyContext, 'h' | 'ed'>): VerifyContext;
}

export async function startLedgerWithCoordinator(): Promise<TestLedger> {
  const ledger = await startTestLedger();
  const coordinator = createCoordinator({ nodes: ledger.urls, token: TOKEN, origin: ORIGIN, verifierKeys: ledger.verifierKeys, maxBatch: 5000, timeoutMs: 300_000 });
  return {
    ...ledger,
    coordinator,
    async anchor(entries) {
      const result = await coordinator.anchor(entries, coordinator.size);
      if (result.status !== 'final') throw new Error(`anchoring is pending: ${JSON.stringify(result.refusals)}`);
      await coordinator.settled();
      return result.size;
    },
    context: (crypto = { h: nodeSha256, ed: nodeEd25519 }) => ({
      clients: ledger.urls.map((u) => createNodeClient(u)),
      verifierKeys: ledger.verifierKeys,
      origin: ORIGIN,
      quorum: QUORUM,
      ...crypto,
    }),
  };
}

const OPTIONS = ['a', 'b', 'c'];

export interface ClosedPoll {
  pollId: string;
  trackers: string[];
  published: PollTally;
}

/**
 * Anchors a poll with `ballots` ballots (option i % 3 … skewed so the counts differ), closes it, has
 * the nodes tally it and anchors the published result. With `publish: false` it stops after closing.
 */
export async function anchorClosedPoll(ledger: TestLedger, pollId: string, ballots: number, opts: { publish?: boolean; tally?: boolean } = {}): Promise<ClosedPoll> {
  const texts = [...openPollEntries(pollId)];
  const trackers: string[] = [];
  for (let i = 0; i < ballots; i++) {
    const entry = ballotEntry({ pollId, voter: `v${i}`, option: OPTIONS[i % 7 === 0 ? 2 : i % 2]! });
    trackers.push((entry.data as { tracker: string }).tracker);
    texts.push(entryText(entry));
  }
  texts.push(closePollEntry(pollId));
  const CHUNK = 20_000;
  let size = 0;
  for (let i = 0; i < texts.length; i += CHUNK) size = await ledger.anchor(texts.slice(i, i + CHUNK));
  const { definition, ballots: counted } = pollBallotsFromEntries(texts, pollId);
  const published = tallyPoll(definition, counted);
  if (opts.tally !== false) {
    const tallies = await ledger.coordinator.requestTallies(pollId, size);
    if (tallies.filter((t) => t.ok).length < 3) throw new Error(`too few nodes tallied: ${JSON.stringify(tallies.map((t) => t.reason))}`);
  }
  if (opts.publish !== false) {
    await ledger.anchor([
      entryText({
        kind: 'poll',
        pollId,
        eventType: 'PollResultPublished',
        eventId: `${pollId}-published`,
        at: CLOSES_AT,
        data: { pollId, result: published, publishedBy: { kind: 'system' }, publishedAt: CLOSES_AT },
      }),
    ]);
  }
  return { pollId, trackers, published };
}
