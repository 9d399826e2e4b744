import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tallyPoll } from '../../domain/tally.ts';
import { createCoordinator, type Coordinator } from '../coordinator.ts';
import { toHex, utf8 } from '../bytes.ts';
import { ballotTrackerCode, type LedgerEntry } from '../entry.ts';
import { nodeSha256 } from '../nodeCrypto.ts';
import { countedSealedFromEntries, createSealingClient } from '../sealing.ts';
import { countedInMemory, OPENING_EVENT, type OpeningData } from '../sealedOpening.ts';
import { deal, keySetProblem, publicKeySetOf, transportKeyOf, type PublicKeySet } from '../threshold/vss.ts';
import { sealSelections } from '../threshold/seal.ts';
import { EntryChecker, pollBallotsFromEntries } from './entryChecker.ts';
import type { LocalLedger } from './localCluster.ts';
import { entryText, feeder, openPollEntries, ORIGIN, pollDefinition, startTestLedger, TOKEN } from './testing.ts';

const DURING = '2025-03-04T12:00:00.000Z';

function sealedBallot(keySet: Pick<PublicKeySet, 'keyId' | 'jointKey'>, pollId: string, voter: string, option: string, extra: Partial<{ eventId: string; replaces: string }> = {}): LedgerEntry {
  const eventId = extra.eventId ?? `${pollId}-${voter}`;
  const salt = toHex(nodeSha256(utf8(eventId)));
  const voterTag = toHex(nodeSha256(utf8(`tag|${pollId}|${voter}`)));
  const sealed = sealSelections(keySet, { pollId, voterTag, ballotId: eventId }, { selections: { q1: [option] } });
  return {
    kind: 'ballot', pollId, eventType: 'BallotCast', eventId, at: DURING,
    data: { voterTag, ballotId: eventId, sealed, salt, tracker: ballotTrackerCode(salt, eventId, nodeSha256), ...(extra.replaces ? { replaces: extra.replaces } : {}) },
  };
}

/** A key set made in this process: what an app that wanted to read ballots itself would seal to. */
function appMadeKeySet(): PublicKeySet {
  const t = [1, 2, 3, 4].map((i) => transportKeyOf(new Uint8Array(32).fill(40 + i)));
  const keys = Object.fromEntries(t.map((k, i) => [String(i + 1), k.publicKey]));
  return publicKeySetOf('app-made', Object.fromEntries([1, 2, 3, 4].map((d) => [String(d), deal('app-made', d, keys).dealing.commitments])));
}

describe('sealed polls on four ledger node processes', () => {
  let ledger: LocalLedger;
  let coordinator: Coordinator;
  let keySet: PublicKeySet;
  const sealing = () => createSealingClient({ nodes: ledger.urls, token: TOKEN, timeoutMs: 10_000 });
  const { given, anchor } = feeder(() => coordinator);

  beforeAll(async () => {
    ledger = await startTestLedger();
    coordinator = createCoordinator({ nodes: ledger.urls, token: TOKEN, origin: ORIGIN, timeoutMs: 10_000 });
  });
  afterAll(async () => {
    await ledger?.stop();
  });

  it('run a key ceremony whose public key set every node reports and anyone recomputes', async () => {
    keySet = (await sealing().ensureKeySet(() => 'epoch-1'))!;
    expect(keySet).not.toBeNull();
    expect(keySetProblem(keySet)).toBeUndefined();
    for (const url of ledger.urls) {
      const info = (await (await fetch(`${url}/v1/threshold`)).json()) as { current: PublicKeySet };
      expect(info.current).toEqual(keySet);
      expect(JSON.stringify(info)).not.toMatch(/share"|coefficients/);
    }
    // Asking again finds the agreed set; no second ceremony.
    expect((await sealing().ensureKeySet(() => 'epoch-2'))?.keyId).toBe(keySet.keyId);
  });

  it('give no decryption shares before the poll closes, nor without the coordinator token', async () => {
    const settings = { resultsVisibility: 'sealed' as const, closesAt: '2099-01-01T00:00:00.000Z' };
    expect(await anchor([...openPollEntries('sf', settings), entryText(sealedBallot(keySet, 'sf', 'v1', 'a'))])).toMatchObject({ status: 'final' });
    const ask = (auth: boolean) =>
      fetch(`${ledger.urls[0]}/v1/polls/sf/shares`, { method: 'POST', headers: auth ? { authorization: `Bearer ${TOKEN}` } : {}, body: JSON.stringify({ size: given.length, batch: 0 }) });
    const early = await ask(true);
    expect(early.status).toBe(409);
    expect(await early.json()).toMatchObject({ code: 'opening.poll-open' });
    expect((await ask(false)).status).toBe(401);
  });

  it('anchor sealed ballots whose choices no node serves, refuse plaintext and foreign keys', async () => {
    const ballots = ['v1', 'v2', 'v3', 'v4'].map((v, k) => sealedBallot(keySet, 'sp', v, ['a', 'b', 'a', 'c'][k]!));
    expect(await anchor([...openPollEntries('sp', { resultsVisibility: 'sealed' }), ...ballots.map(entryText)])).toMatchObject({ status: 'final' });
    const served = await (await fetch(`${ledger.urls[0]}/v1/polls/sp/entries`)).text();
    expect(served).not.toMatch(/"selections"/);

    // The nodes' own checker, as each node runs it: refusals need no processes.
    const checker = new EntryChecker(nodeSha256, { keySet: (id) => (id === keySet.keyId ? keySet : null), sealedBallots: () => countedInMemory([]) });
    const txn = checker.begin();
    for (const t of openPollEntries('sq', { resultsVisibility: 'sealed' })) expect(txn.check(t)).toBeUndefined();
    const plain = { kind: 'ballot' as const, pollId: 'sq', eventType: 'BallotCast', eventId: 'sq-plain', at: DURING, data: { ...sealedBallot(keySet, 'sq', 'x', 'a').data as object, sealed: undefined, selections: { selections: { q1: ['a'] } } } };
    expect(txn.check(entryText(JSON.parse(JSON.stringify(plain)) as LedgerEntry))).toMatchObject({ code: 'ballot.invalid' });
    expect(txn.check(entryText(sealedBallot(appMadeKeySet(), 'sq', 'y', 'a')))).toMatchObject({ code: 'ballot.sealed-key' });
    expect(txn.check(entryText(sealedBallot(keySet, 'sq', 'z', 'a')))).toBeUndefined();
    expect(txn.check(entryText(sealedBallot(keySet, 'sq', 'z', 'b', { eventId: 'sq-z2' })))).toMatchObject({ code: 'ballot.already-voted' });
  });

  it('wait with fewer than 3 nodes, then open with a node restarted from its store, anchor the opening and tally it', async () => {
    const entries = given.filter((t) => (JSON.parse(t) as LedgerEntry).pollId === 'sp');
    const definition = pollDefinition('sp', { resultsVisibility: 'sealed' });
    const size = given.length;
    const appended: OpeningData[] = [];
    const open = () =>
      sealing().openPoll({ pollId: 'sp', definition, size, keySet, counted: countedSealedFromEntries(definition, 'sp', entries), done: new Set(appended.map((a) => a.batch)), now: () => '2025-03-09T00:00:00.000Z', onBatch: async (d) => void appended.push(d) });

    await ledger.kill(1);
    await ledger.kill(3);
    const waiting = await open();
    expect(waiting).toMatchObject({ status: 'waiting', silentNodes: [2, 4] });
    expect(appended).toEqual([]);

    await ledger.restart(1);
    const opened = await open();
    expect(opened).toEqual({ status: 'opened', batches: 1 });
    expect(appended[0]!.shares.map((s) => s.node).sort()).toEqual([1, 2, 3]);
    expect(appended[0]!.openings.map((o) => ('selections' in o ? o.selections.selections.q1 : null))).toEqual([['a'], ['b'], ['a'], ['c']]);

    await ledger.restart(3);
    const openingEntry: LedgerEntry = { kind: 'poll', pollId: 'sp', eventType: OPENING_EVENT, eventId: 'sp-opened-0', at: '2025-03-09T00:00:00.000Z', data: appended[0] };
    expect(await anchor([entryText(openingEntry)])).toMatchObject({ status: 'final' });
    // The same batch again is refused: every commitment has exactly one opening.
    const again = await anchor([entryText({ ...openingEntry, eventId: 'sp-opened-0b' })]);
    expect(again.status).toBe('pending');
    expect(JSON.stringify(again)).toContain('opening.duplicate');
    given.pop();

    const tallies = await coordinator.requestTallies('sp', size + 1);
    const expected = tallyPoll(definition, pollBallotsFromEntries([...given], 'sp').ballots);
    expect(expected.questions[0]!.options.map((o) => o.count)).toEqual([2, 1, 1]);
    expect(tallies.filter((t) => JSON.stringify(t.tally) === JSON.stringify(expected)).length).toBeGreaterThanOrEqual(3);
  });

});
