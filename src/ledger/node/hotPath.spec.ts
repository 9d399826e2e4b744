/**
 * The node's hot path, in process: a round (propose + finalize) costs each node one fsync, awaited off
 * the event loop (no synchronous fsync), and each proposed entry is JSON-parsed once.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { utf8 } from '../bytes.ts';
import { checkpointHash, formatCheckpoint } from '../checkpoint.ts';
import { hashLeaf, MerkleTree } from '../merkle.ts';
import { nodeSha256 } from '../nodeCrypto.ts';
import { LedgerNode } from './ledgerNode.ts';
import { tallyPoll } from '../../domain/tally.ts';
import { pollBallotsFromEntries } from './entryChecker.ts';
import { ballotEntry, ballotText, entryText, inProcessCluster, inProcessRound, openPollEntries, ORIGIN } from './testing.ts';

/** A budget poll's opening entries: openPollEntries' poll as a budget poll (options a, b, c cost 60, 50, 30). */
function budgetPollEntries(pollId: string, budget: Record<string, unknown>): string[] {
  return openPollEntries(pollId).map((text, k) => {
    if (k > 0) return text;
    const created = JSON.parse(text) as { data: { definition: { kind: string; budget: unknown; questions: { maxChoices: number; options: { id: string; cost?: number }[] }[] } } };
    const definition = created.data.definition;
    definition.kind = 'budget';
    definition.budget = budget;
    for (const o of definition.questions[0]!.options) o.cost = { a: 60, b: 50, c: 30 }[o.id];
    return entryText(created as never);
  });
}

const calls = vi.hoisted(() => ({ fsyncSync: 0, fdatasync: 0 }));
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  return {
    ...fs,
    fsyncSync: (fd: number) => {
      calls.fsyncSync++;
      fs.fsyncSync(fd);
    },
    fdatasync: (fd: number, cb: (e: NodeJS.ErrnoException | null) => void) => {
      calls.fdatasync++;
      fs.fdatasync(fd, cb);
    },
  };
});

const quiet = (): void => {};

const cluster = (pageBytes?: number): LedgerNode[] => inProcessCluster(pageBytes).nodes;
const round = inProcessRound;

describe('a ledger node round', () => {
  let nodes: LedgerNode[] = [];
  afterEach(() => {
    for (const n of nodes) n.close();
    vi.restoreAllMocks();
  });

  it('costs one fsync per node, none of them synchronous, and parses each entry once', async () => {
    nodes = cluster();
    const opening = openPollEntries('hp');
    const first = await round(nodes, [], opening, null);
    const ballots = Array.from({ length: 20 }, (_, k) => ballotText({ pollId: 'hp', voter: `v${k}` }));

    calls.fsyncSync = 0;
    calls.fdatasync = 0;
    const parse = vi.spyOn(JSON, 'parse');
    await round(nodes, opening, ballots, first);
    const parses = parse.mock.calls.length;
    parse.mockRestore();

    expect(calls.fsyncSync).toBe(0);
    expect(calls.fdatasync).toBe(nodes.length);
    // Each of the 20 entries once per node: no second parse for the poll and tracker indexes.
    expect(parses).toBe(ballots.length * nodes.length);
    for (const node of nodes) expect(node.size).toBe(opening.length + ballots.length);
    expect(nodes[0]!.info().finalSize).toBe(opening.length + ballots.length);
  });

  it('answers a repeated tally of a poll at the same size with the tally it signed, without reading the poll again', async () => {
    nodes = cluster();
    const opening = openPollEntries('ht');
    const first = await round(nodes, [], opening, null);
    const ballots = Array.from({ length: 10 }, (_, k) => ballotText({ pollId: 'ht', voter: `v${k}` }));
    await round(nodes, opening, ballots, first);
    const node = nodes[0]!;
    const size = opening.length + ballots.length;
    const once = await node.tally({ pollId: 'ht', size });
    const parse = vi.spyOn(JSON, 'parse');
    const again = await node.tally({ pollId: 'ht', size });
    const parses = parse.mock.calls.length;
    parse.mockRestore();
    expect(again).toBe(once);
    expect(parses).toBe(0);
    const store = (node as unknown as { store: { tallies: unknown[] } }).store;
    expect(store.tallies).toHaveLength(1);
    // Another size is another question: read and signed.
    const earlier = await node.tally({ pollId: 'ht', size: size - 1 });
    expect(earlier.size).toBe(size - 1);
    expect((earlier.tally as { ballots: number }).ballots).toBe(ballots.length - 1);
    expect(store.tallies).toHaveLength(2);
  });

  it('tallies from its log as the domain tallies the same entries: re-votes, a re-vote dated earlier, a budget poll', async () => {
    nodes = cluster();
    const budget = { total: 100, currency: 'PLN', rule: 'equal-shares' };
    const setup = [...openPollEntries('tr', { allowRevote: true }), ...openPollEntries('tn'), ...budgetPollEntries('tb', budget)];
    const first = await round(nodes, [], setup, null);
    const EARLY = '2025-03-02T12:00:00.000Z';
    const ballots = [
      ...Array.from({ length: 12 }, (_, k) => ballotText({ pollId: 'tr', voter: `v${k}`, option: ['a', 'b', 'c'][k % 3] })),
      ballotText({ pollId: 'tr', voter: 'v1', eventId: 'tr-v1-2', option: 'c', replaces: 'tr-v1' }),
      // A re-vote dated before the ballot it replaces: the domain's rule keeps the later-dated one.
      ballotText({ pollId: 'tr', voter: 'v2', eventId: 'tr-v2-2', option: 'a', replaces: 'tr-v2', at: EARLY }),
      ballotText({ pollId: 'tr', voter: 'v1', eventId: 'tr-v1-3', option: 'a', replaces: 'tr-v1-2' }),
      ...Array.from({ length: 7 }, (_, k) => ballotText({ pollId: 'tn', voter: `v${k}`, option: ['a', 'b'][k % 2] })),
      ...Array.from({ length: 9 }, (_, k) => ballotText({ pollId: 'tb', voter: `v${k}`, option: ['a', 'b', 'c'][k % 3] })),
    ];
    await round(nodes, setup, ballots, first);
    const all = [...setup, ...ballots];
    for (const pollId of ['tr', 'tn', 'tb']) {
      const { definition, ballots: expected } = pollBallotsFromEntries(all, pollId);
      expect((await nodes[0]!.tally({ pollId, size: all.length })).tally).toEqual(tallyPoll(definition, expected));
    }
    const counts = ((await nodes[0]!.tally({ pollId: 'tr', size: all.length })).tally as { questions: { options: { count: number }[] }[] }).questions[0]!.options.map((o) => o.count);
    expect(counts).toEqual([5, 3, 4]);
  });

  it('a node restarted from its files judges re-votes as before, voters and their re-votes on both sides of its replay chunks', async () => {
    nodes = cluster();
    const opening = openPollEntries('rv', { allowRevote: true });
    let prev = await round(nodes, [], opening, null);
    const held = [...opening];
    // 1,500 first ballots, then re-votes of voters from before and after the 1,024th entry.
    const firsts = Array.from({ length: 1500 }, (_, k) => ballotText({ pollId: 'rv', voter: `v${k}` }));
    prev = await round(nodes, held, firsts, prev);
    held.push(...firsts);
    const revotes = [5, 1200].map((k) => ballotText({ pollId: 'rv', voter: `v${k}`, eventId: `rv-v${k}-2`, option: 'b', replaces: `rv-v${k}` }));
    prev = await round(nodes, held, revotes, prev);
    held.push(...revotes);
    const options = (nodes[0] as unknown as { options: { dataDir: string; keys: string[] } }).options;
    nodes[0]!.close();
    const again = new LedgerNode({ id: 1, dataDir: options.dataDir, origin: ORIGIN, peers: [], keys: options.keys, log: quiet });
    nodes[0] = again;
    expect(again.storeProblem).toBeNull();
    const body = (texts: string[]): string => {
      const tree = new MerkleTree(nodeSha256);
      for (const t of [...held, ...texts]) tree.append(hashLeaf(nodeSha256, utf8(t)));
      return formatCheckpoint({ origin: ORIGIN, size: tree.size, rootHash: tree.root(), prev: checkpointHash(nodeSha256, prev), extensions: [] });
    };
    const refusedCode = async (text: string): Promise<string | undefined> => {
      try {
        await again.propose({ start: held.length, entries: [text], checkpoint: body([text]) });
        return undefined;
      } catch (e) {
        return (e as { code?: string }).code;
      }
    };
    // Naming the ballot each voter replaced already is refused; a first ballot of a known voter too.
    expect(await refusedCode(ballotText({ pollId: 'rv', voter: 'v5', eventId: 'rv-v5-3', replaces: 'rv-v5' }))).toBe('ballot.replaces');
    expect(await refusedCode(ballotText({ pollId: 'rv', voter: 'v1200', eventId: 'rv-v1200-3' }))).toBe('ballot.replaces');
    expect(await refusedCode(ballotText({ pollId: 'rv', voter: 'v1499', eventId: 'rv-v1499-2' }))).toBe('ballot.replaces');
    expect(await refusedCode(ballotText({ pollId: 'rv', voter: 'v1200', eventId: 'rv-v1200-3', replaces: 'rv-v1200-2' }))).toBeUndefined();

    // The poll's entries come in pages of 1,000, each naming where the next starts.
    const first = again.pollEntries('rv');
    expect(first.entries).toHaveLength(1000);
    expect(first.next).toBe(1000);
    const second = again.pollEntries('rv', first.next!);
    expect(second.next).toBeNull();
    expect([...first.entries, ...second.entries].map((e) => e.entry)).toEqual([...held, ballotText({ pollId: 'rv', voter: 'v1200', eventId: 'rv-v1200-3', replaces: 'rv-v1200-2' })]);
    expect(again.pollEntries('rv', 1200).entries[0]!.index).toBe(1200);
  });

  it('bounds a page of entries by its bytes as well as its count, and paging on from the last index reads every entry', async () => {
    // A page is held whole while it is answered: a sealed poll's opening entries (75-190 KB each) made a
    // page of 1,000 entries up to 190 MB of text, held several times over by the node answering it.
    const budget = 2000;
    nodes = cluster(budget);
    const opening = openPollEntries('pg');
    let prev = await round(nodes, [], opening, null);
    const ballots = Array.from({ length: 30 }, (_, k) => ballotText({ pollId: 'pg', voter: `v${k}` }));
    prev = await round(nodes, opening, ballots, prev);
    const all = [...opening, ...ballots];
    const node = nodes[0]!;
    const bytes = (page: { entry: string }[]) => page.reduce((n, e) => n + Buffer.byteLength(e.entry) + 1, 0);

    const pages: { index: number; entry: string }[][] = [];
    for (let start = 0; start < all.length; start += pages[pages.length - 1]!.length) pages.push(node.entries(start, 1000));
    expect(pages.length).toBeGreaterThan(1);
    for (const page of pages) {
      expect(page.length).toBeGreaterThan(0);
      if (page.length > 1) expect(bytes(page)).toBeLessThanOrEqual(budget);
    }
    expect(pages.flat()).toEqual(all.map((entry, index) => ({ index, entry })));

    const pollPages: { index: number; entry: string }[][] = [];
    for (let start: number | null = 0; start !== null; ) {
      const page = node.pollEntries('pg', start);
      pollPages.push(page.entries);
      if (page.entries.length > 1) expect(bytes(page.entries)).toBeLessThanOrEqual(budget);
      start = page.next;
    }
    expect(pollPages.length).toBeGreaterThan(1);
    expect(pollPages.flat()).toEqual(all.map((entry, index) => ({ index, entry })));

    // An entry larger than the budget is a page of its own, so a reader still moves on.
    const tiny = cluster(10);
    try {
      await round(tiny, [], opening, null);
      expect(tiny[0]!.entries(0, 1000)).toEqual([{ index: 0, entry: opening[0] }]);
      expect(tiny[0]!.pollEntries('pg')).toEqual({ entries: [{ index: 0, entry: opening[0] }], next: 1 });
    } finally {
      for (const n of tiny) n.close();
    }
  });

  it('answers what it signed a page at a time, the newest page by default, whatever the length of its history', async () => {
    nodes = cluster();
    const opening = openPollEntries('sp');
    let prev = await round(nodes, [], opening, null);
    const ballots = Array.from({ length: 8 }, (_, k) => ballotText({ pollId: 'sp', voter: `v${k}` }));
    for (let r = 0; r < 4; r++) prev = await round(nodes, [...opening, ...ballots.slice(0, r * 2)], ballots.slice(r * 2, r * 2 + 2), prev);
    const options = (nodes[0] as unknown as { options: { dataDir: string; keys: string[] } }).options;
    const all = nodes[0]!.signedCheckpoints().checkpoints;
    expect(all).toHaveLength(5);
    nodes[0]!.close();
    const paged = new LedgerNode({ id: 1, dataDir: options.dataDir, origin: ORIGIN, peers: [], keys: options.keys, log: quiet, signedPage: 2 });
    nodes[0] = paged;
    expect(paged.signedCheckpoints()).toEqual({ checkpoints: all.slice(3), start: 3, next: null, count: 5 });
    const pages = [];
    for (let start: number | null = 0; start !== null; ) {
      const page = paged.signedCheckpoints(start);
      expect(page.checkpoints.length).toBeLessThanOrEqual(2);
      pages.push(...page.checkpoints);
      start = page.next;
    }
    expect(pages).toEqual(all);
    expect(paged.signedCheckpoints(99)).toEqual({ checkpoints: [], start: 5, next: null, count: 5 });
  });

  it('checks its newest notes before it serves and the older ones after, by a sweep that stops its signing when one fails', async () => {
    nodes = cluster();
    const opening = openPollEntries('sc');
    let prev = await round(nodes, [], opening, null);
    const ballots = Array.from({ length: 6 }, (_, k) => ballotText({ pollId: 'sc', voter: `v${k}` }));
    for (let r = 0; r < 6; r++) prev = await round(nodes, [...opening, ...ballots.slice(0, r)], ballots.slice(r, r + 1), prev);
    const options = (nodes[0] as unknown as { options: { dataDir: string; keys: string[] } }).options;
    nodes[0]!.close();
    const reopen = (startCheckNotes?: number): LedgerNode & { logged: string[] } => {
      const logged: string[] = [];
      const node = new LedgerNode({ id: 1, dataDir: options.dataDir, origin: ORIGIN, peers: [], keys: options.keys, log: (msg) => logged.push(msg), ...(startCheckNotes ? { startCheckNotes } : {}) });
      nodes[0] = node;
      return Object.assign(node, { logged });
    };
    // An intact store: the sweep over the older notes finds nothing and says it is done.
    const intact = reopen(2);
    expect(intact.storeProblem).toBeNull();
    await intact.whenStoreChecked();
    expect(intact.storeProblem).toBeNull();
    expect(intact.logged).toContain('store check of older notes done');
    intact.close();

    // This node's signature on its first signed body, damaged on disk (7 bodies: the oldest is not among the newest 2).
    const file = join(options.dataDir, 'signed.log');
    const lines = readFileSync(file, 'utf8').split('\n');
    expect(lines.filter(Boolean)).toHaveLength(7);
    const note = JSON.parse(lines[0]!) as string;
    const sig = note.lastIndexOf(' ') + 5;
    lines[0] = JSON.stringify(note.slice(0, sig) + (note[sig] === 'A' ? 'B' : 'A') + note.slice(sig + 1));
    writeFileSync(file, lines.join('\n'));

    // Checked whole at start (the default: the newest 256 cover all 7) ...
    const whole = reopen();
    expect(whole.storeProblem).toMatch(/signed.log line 1: this node's signature does not verify/);
    whole.close();
    // ... or, with only the newest 2 checked at start, serving first and found by the sweep.
    const swept = reopen(2);
    expect(swept.storeProblem).toBeNull();
    expect(swept.latestCheckpoint()).not.toBeNull();
    await swept.whenStoreChecked();
    expect(swept.storeProblem).toMatch(/signed.log line 1: this node's signature does not verify/);
    expect(() => swept.latestCheckpoint()).toThrow(/store has a problem/);
  });

  it('a node restarted from its files has the same log and final checkpoint', async () => {
    nodes = cluster();
    const opening = openPollEntries('hr');
    await round(nodes, [], opening, null);
    const dataDir = (nodes[0] as unknown as { options: { dataDir: string; keys: string[] } }).options;
    nodes[0]!.close();
    const again = new LedgerNode({ id: 1, dataDir: dataDir.dataDir, origin: ORIGIN, peers: [], keys: dataDir.keys, log: quiet });
    nodes[0] = again;
    expect(again.storeProblem).toBeNull();
    expect(again.size).toBe(opening.length);
    expect(again.info().finalSize).toBe(opening.length);
  });

  it('keeps entry texts and notes on disk: entries, receipts, checkpoints and signed bodies are read back from its files', async () => {
    nodes = cluster();
    const opening = openPollEntries('hd');
    const first = await round(nodes, [], opening, null);
    const ballots = Array.from({ length: 30 }, (_, k) => ballotText({ pollId: 'hd', voter: `v${k}` }));
    let prev = first;
    for (let r = 0; r < 3; r++) prev = await round(nodes, [...opening, ...ballots.slice(0, r * 10)], ballots.slice(r * 10, r * 10 + 10), prev);
    const node = nodes[0]!;
    const all = [...opening, ...ballots];
    expect(node.entries(0, 1000).map((e) => e.entry)).toEqual(all);
    expect(node.entries(5, 7)).toEqual([{ index: 5, entry: all[5] }, { index: 6, entry: all[6] }]);
    expect(node.pollEntries('hd')).toEqual({ entries: all.map((entry, index) => ({ index, entry })), next: null });
    const tracker = (ballotEntry({ pollId: 'hd', voter: 'v12' }).data as { tracker: string }).tracker;
    expect(node.receipt(tracker)?.leafIndex).toBe(opening.length + 12);
    expect(node.receipt('no-such-tracker')).toBeNull();
    expect(node.checkpointAt(opening.length + 10)).toContain(`\n${opening.length + 10}\n`);
    const signed = node.signedCheckpoints();
    expect(signed).toMatchObject({ start: 0, next: null, count: 4 });
    expect(signed.checkpoints).toHaveLength(4);
    expect(signed.checkpoints[3]!.startsWith(prev)).toBe(true);

    // The witness that the texts are not held in memory: an in-place edit of the file (same length) is
    // what the node serves next. (A restart's store check would refuse the edited log.)
    const dataDir = (node as unknown as { options: { dataDir: string } }).options.dataDir;
    const file = join(dataDir, 'entries.log');
    const before = readFileSync(file, 'utf8');
    const last = all[all.length - 1]!;
    const changed = last.replace(/"salt":"(.)/, (_m, c: string) => `"salt":"${c === 'a' ? 'b' : 'a'}`);
    writeFileSync(file, before.replace(last, changed));
    expect(readFileSync(file, 'utf8').length).toBe(before.length);
    expect(node.entries(all.length - 1, all.length)[0]!.entry).toBe(changed);
  });
});
