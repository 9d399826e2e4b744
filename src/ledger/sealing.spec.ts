import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countedBallots } from '../domain/tally.ts';
import { countedSealedChooser } from './sealedOpening.ts';
import { fromUtf8, toHex } from './bytes.ts';
import { ballotTrackerCode, canonicalEntryBytes, type LedgerEntry } from './entry.ts';
import { countedSealedFromEntries, createSealingClient } from './sealing.ts';
import type { OpeningData } from './sealedOpening.ts';
import { makeShareBatch, type ShareBatch } from './threshold/decryption.ts';
import { G, installFastMultiply, mod, pointToHex, randomScalar } from './threshold/group.ts';
import { useSodiumMultiply } from './threshold/sodium.ts';
import { sealSelections } from './threshold/seal.ts';
import { deal, ownShare, publicKeySetOf, receiveShare, transportKeyOf } from './threshold/vss.ts';
import type { PollDefinition } from '../domain/pollDefinition.ts';

/** The four nodes' ceremony in one process (a test of the opener, not of the nodes). */
const transports = [1, 2, 3, 4].map((i) => transportKeyOf(new Uint8Array(32).fill(20 + i)));
const transportKeys = Object.fromEntries(transports.map((t, k) => [String(k + 1), t.publicKey]));
const dealt = [1, 2, 3, 4].map((d) => deal('opener-test', d, transportKeys));
const secrets = [1, 2, 3, 4].map((me) =>
  dealt.reduce((x, { dealing, secret }) => mod(x + (dealing.dealer === me ? ownShare(secret, me) : receiveShare(dealing, me, transports[me - 1]!.secret, transports[me - 1]!.publicKey))), 0n),
);
const keySet = publicKeySetOf('opener-test', Object.fromEntries(dealt.map(({ dealing }) => [String(dealing.dealer), dealing.commitments])));

const pollId = 'poll-sealed';
const definition = {
  pollId,
  kind: 'general',
  title: 'Sealed',
  tags: [],
  questions: [{ id: 'q1', text: 'Pick', minChoices: 1, maxChoices: 1, options: [{ id: 'a', label: 'A' }, { id: 'b', label: 'B' }] }],
  settings: { opensAt: '2026-01-01T00:00:00.000Z', closesAt: '2026-01-02T00:00:00.000Z', resultsVisibility: 'sealed', allowRevote: false },
} as unknown as PollDefinition;

const BALLOTS = 1_100; // three batches of OPEN_BATCH (500): the last one short
const entries = Array.from({ length: BALLOTS }, (_, j) => {
  const eventId = `ev-${j}`;
  const salt = toHex(new Uint8Array(32).fill(j % 251));
  const sealed = sealSelections(keySet, { pollId, voterTag: `tag-${j}`, ballotId: eventId }, { selections: { q1: [j % 3 === 0 ? 'b' : 'a'] } });
  const entry: LedgerEntry = { kind: 'ballot', pollId, eventType: 'BallotCast', eventId, at: '2026-01-01T12:00:00.000Z', data: { voterTag: `tag-${j}`, sealed, salt, tracker: ballotTrackerCode(salt, eventId) } };
  return fromUtf8(canonicalEntryBytes(entry));
});
const items = entries.map((text) => {
  const e = JSON.parse(text) as { eventId: string; data: { sealed: { ephemeral: string } } };
  return { eventId: e.eventId, ephemeral: e.data.sealed.ephemeral };
});

/** Nodes answering /shares from their secret; `lie` makes a node replace one share per batch. */
function fakeNodes(behaviour: Record<number, 'lie' | 'down'>) {
  const asked: number[][] = [];
  const fetchFn = (async (url: URL | string, init?: RequestInit) => {
    const u = new URL(url);
    const node = Number(u.port) - 9000;
    const { batch } = JSON.parse(String(init!.body)) as { batch: number };
    (asked[batch] ??= []).push(node);
    if (behaviour[node] === 'down') throw new Error('connection refused');
    let shares: ShareBatch = makeShareBatch(secrets[node - 1]!, { keyId: keySet.keyId, pollId, node, batch }, items.slice(batch * 500, (batch + 1) * 500));
    if (behaviour[node] === 'lie') shares = { ...shares, shares: shares.shares.map((d, j) => (j === 5 ? pointToHex(G.multiply(randomScalar())) : d)) };
    return new Response(JSON.stringify({ shares, total: BALLOTS }), { status: 200, headers: { 'content-type': 'application/json' } });
  }) as typeof fetch;
  return { fetchFn, asked };
}

async function open(behaviour: Record<number, 'lie' | 'down'>) {
  const { fetchFn, asked } = fakeNodes(behaviour);
  const logs: { msg: string; fields?: Record<string, unknown> }[] = [];
  const client = createSealingClient({ nodes: [1, 2, 3, 4].map((i) => `http://127.0.0.1:${9000 + i}`), token: 't', fetch: fetchFn, log: (msg, fields) => logs.push({ msg, ...(fields ? { fields } : {}) }) });
  const opened: OpeningData[] = [];
  const result = await client.openPoll({ pollId, definition, size: BALLOTS, keySet, counted: countedSealedFromEntries(definition, pollId, entries), done: new Set(), now: () => '2026-01-03T00:00:00.000Z', onBatch: async (d) => void opened.push(d) });
  return { result, opened, asked, logs };
}

describe('opening a sealed poll from the nodes\u2019 shares', () => {
  // As the nodes and the app run: libsodium's multiplication (the pure-JS one is checked equal in threshold.spec).
  beforeAll(() => useSodiumMultiply());
  afterAll(() => installFastMultiply(null));

  it('asks only three nodes when their shares are good, and opens every ballot', async () => {
    const { result, opened, asked } = await open({});
    expect(result).toEqual({ status: 'opened', batches: 3 });
    expect(asked.map((nodes) => [...nodes].sort())).toEqual([[1, 2, 3], [1, 2, 3], [1, 2, 3]]);
    expect(opened.flatMap((d) => d.openings).filter((o) => 'selections' in o)).toHaveLength(BALLOTS);
    expect(opened.flatMap((d) => d.openings).filter((o) => 'selections' in o && (o.selections as { selections: { q1: string[] } }).selections.q1[0] === 'b')).toHaveLength(Math.ceil(BALLOTS / 3));
  });

  it('catches a node giving a wrong share, names it, and opens with the fourth node instead', async () => {
    const { result, opened, asked, logs } = await open({ 2: 'lie' });
    expect(result).toEqual({ status: 'opened', batches: 3 });
    // Batch 1 was already asked of the first three while batch 0 was checked; batch 2 no longer asks node 2.
    expect(logs.filter((l) => l.msg === 'WRONG DECRYPTION SHARES').map((l) => l.fields?.nodes)).toEqual([[2], [2]]);
    for (const d of opened) expect(d.shares.map((s) => s.node)).toEqual([1, 3, 4]);
    // After the first wrong batch the lying node is no longer asked first.
    expect(asked[2]).not.toContain(2);
    expect(opened.flatMap((d) => d.openings).every((o) => 'selections' in o)).toBe(true);
  });

  it('waits, naming the wrong and the silent node, when fewer than 3 nodes give good shares', async () => {
    const { result, opened } = await open({ 1: 'lie', 4: 'down' });
    expect(result).toMatchObject({ status: 'waiting', wrongNodes: [1], silentNodes: [4] });
    expect(opened).toEqual([]);
  });
});

describe('the counted sealed ballots chosen as they stream by', () => {
  it('choose what the domain counts (re-voting: the last by time; else the first), in log order', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (const allowRevote of [true, false]) {
      const ballots = Array.from({ length: 400 }, (_, i) => ({ i, voterTag: `v${Math.floor(random() * 60)}`, castAt: new Date(Date.UTC(2026, 0, 1) + Math.floor(random() * 50) * 1000).toISOString() }));
      const def = { settings: { allowRevote } } as Parameters<typeof countedBallots>[0];
      const chooser = countedSealedChooser(def);
      for (const b of ballots) chooser.offer(b.i, b);
      const expected = countedBallots(def, ballots).map((b) => b.i).sort((x, y) => x - y);
      expect(Array.from(chooser.positions())).toEqual(expected);
    }
  });
});
