import { describe, expect, it } from 'vitest';
import { nobleEd25519 as ed, nobleSha256 as h } from '../../ledger/hash.ts';
import { generateSignerKey, parseSignerKey } from '../../ledger/note.ts';
import { signTallyNote, tallyHash } from '../../ledger/tallyNote.ts';
import { compareLeaves, movedBuckets, sameTally, tallyVerification } from './verification.ts';

const ORIGIN = 'test.civic-vote.local/ledger';
const nodes = [1, 2, 3, 4].map((i) => generateSignerKey(h, ed, `ledger-node-${i}`, new Uint8Array(32).fill(i)));
const verifierKeys = nodes.map((n) => n.verifierKey);
const published = { pollId: 'p1', ballots: 3, questions: [{ questionId: 'q1', options: [{ optionId: 'a', count: 3 }], freeTextAnswers: 0 }] };
const other = { ...published, ballots: 2 };
const answer = (i: number, tally: unknown) => ({
  url: `node-${i}`,
  ok: true,
  note: signTallyNote(ed, { origin: ORIGIN, pollId: 'p1', size: 10, tallyHash: tallyHash(h, tally) }, [parseSignerKey(h, ed, nodes[i]!.signerKey)]),
});
const verdict = (answers: ReturnType<typeof answer>[] | Array<{ url: string; ok: boolean; reason?: string }>) =>
  tallyVerification(h, ed, answers, published, { verifierKeys, quorum: 3, origin: ORIGIN, pollId: 'p1' });

describe('tallyVerification', () => {
  it('completes with three matching node signatures, even when the fourth signed another result', () => {
    expect(verdict([answer(0, published), answer(1, published), answer(2, published), answer(3, other)])).toEqual({
      status: 'completed',
      detail: '3 node(s) signed the published result; 1 signed a different result (ledger-node-4)',
    });
  });
  it('fails when two nodes signed a different result', () => {
    expect(verdict([answer(0, published), answer(1, published), answer(2, other), answer(3, other)]).status).toBe('failed');
  });
  it('stays pending with fewer than three agreeing and at most one conflicting', () => {
    expect(verdict([answer(0, published), answer(1, published), { url: 'node-2', ok: false, reason: 'down' }, answer(3, other)])).toMatchObject({
      status: 'pending',
      detail: expect.stringContaining('1 did not answer'),
    });
  });
});

describe('compareLeaves', () => {
  const anchored = [
    { leafIndex: 0, eventId: 'e0', pollId: 'p1', entryHash: 'aa' },
    { leafIndex: 1, eventId: 'e1', pollId: 'p1', entryHash: 'bb' },
    { leafIndex: 2, eventId: 'e2', pollId: 'p2', entryHash: 'cc' },
  ];
  it('names edited and deleted events by leaf and event id', () => {
    expect(compareLeaves(anchored, new Map([['e0', 'aa'], ['e1', 'XX'], ['e9', 'dd']]))).toEqual([
      { leafIndex: 1, eventId: 'e1', pollId: 'p1', kind: 'event-edited' },
      { leafIndex: 2, eventId: 'e2', pollId: 'p2', kind: 'event-deleted' },
    ]);
    expect(compareLeaves(anchored, new Map([['e0', 'aa'], ['e1', 'bb'], ['e2', 'cc']]))).toEqual([]);
  });
  it('compares tallies as canonical JSON', () => {
    expect(sameTally({ a: 1, b: [1, 2] }, { b: [1, 2], a: 1 })).toBe(true);
    expect(sameTally({ a: 1 }, { a: 2 })).toBe(false);
  });
});

describe('movedBuckets', () => {
  it('names changed, new and vanished buckets, in order, and nothing when the digests are the same', () => {
    const before = new Map([[0, 'a'], [1, 'b'], [2, 'c']]);
    expect(movedBuckets(before, new Map(before))).toEqual([]);
    expect(movedBuckets(before, new Map([[0, 'a'], [2, 'x'], [3, 'd']]))).toEqual([1, 2, 3]);
    expect(movedBuckets(new Map(), before)).toEqual([0, 1, 2]);
  });
});
