import { describe, expect, it } from 'vitest';
import { nobleEd25519 as ed, nobleSha256 as h } from '../../ledger/hash.ts';
import { generateSignerKey, parseSignerKey } from '../../ledger/note.ts';
import { signTallyNote, tallyHash } from '../../ledger/tallyNote.ts';
import { compareLeaves, inRanges, movedBuckets, sameTally, sweepRanges, tallyVerification } from './verification.ts';

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

describe('sweepRanges', () => {
  it('reads everything while nothing is known, then the top and a window that wraps around', () => {
    expect(sweepRanges(null, 0, 2)).toEqual({ ranges: [{ from: 0 }], nextCursor: 0 });
    expect(sweepRanges(5, 0, 2)).toEqual({ ranges: [{ from: 0, to: 2 }, { from: 5 }], nextCursor: 2 });
    expect(sweepRanges(5, 2, 2)).toEqual({ ranges: [{ from: 2, to: 4 }, { from: 5 }], nextCursor: 4 });
    expect(sweepRanges(5, 4, 2)).toEqual({ ranges: [{ from: 4, to: 5 }, { from: 5 }], nextCursor: 0 });
    // The log grew past the cursor: the sweep goes on from there.
    expect(sweepRanges(9, 4, 2)).toEqual({ ranges: [{ from: 4, to: 6 }, { from: 9 }], nextCursor: 6 });
    expect(sweepRanges(5, 7, 2)).toEqual({ ranges: [{ from: 0, to: 2 }, { from: 5 }], nextCursor: 2 });
    // A window as large as the log: every bucket, every pass.
    expect(sweepRanges(5, 0, 100)).toEqual({ ranges: [{ from: 0, to: 5 }, { from: 5 }], nextCursor: 0 });
    expect(sweepRanges(0, 0, 2)).toEqual({ ranges: [{ from: 0 }], nextCursor: 0 });
  });

  it('covers every bucket below the top within top / window passes', () => {
    const seen = new Set<number>();
    let cursor = 0;
    for (let pass = 0; pass < Math.ceil(10 / 3); pass++) {
      const { ranges, nextCursor } = sweepRanges(10, cursor, 3);
      for (let b = 0; b <= 10; b++) if (inRanges(b, ranges)) seen.add(b);
      cursor = nextCursor;
    }
    expect([...seen].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });
});
