import { describe, expect, it } from 'vitest';
import { optionCountDeltas, type CurrentBallotRow } from './polls.ts';

const ballot = (voterTag: string, q1: string[], pollId = 'p1'): CurrentBallotRow => ({
  pollId, voterTag, ballotId: `b-${voterTag}`, tracker: 'T', selections: { selections: { q1 } }, castAt: '2026-11-25T00:00:00Z', casts: 1,
});

describe('optionCountDeltas', () => {
  it('adds a new ballot, moves a re-vote and drops changes that cancel out', () => {
    const before = new Map([['p1|v2', ballot('v2', ['a', 'b'])], ['p1|v3', ballot('v3', ['c'])]]);
    const changes = new Map<string, CurrentBallotRow | null>([
      ['p1|v1', ballot('v1', ['a'])],
      ['p1|v2', ballot('v2', ['b', 'c'])],
      ['p1|v3', ballot('v3', ['c'])],
    ]);
    // a: +1 (v1) -1 (v2 left it); b: -1 +1 (v2 kept it); c: +1 (v2), v3 unchanged.
    expect(optionCountDeltas(changes, before)).toEqual([{ pollId: 'p1', questionId: 'q1', optionId: 'c', delta: 1 }]);
  });

  it('subtracts a deleted row and keeps polls apart', () => {
    const before = new Map([['p1|v1', ballot('v1', ['a'])]]);
    const changes = new Map<string, CurrentBallotRow | null>([['p1|v1', null], ['p2|v1', ballot('v1', ['a'], 'p2')]]);
    expect(optionCountDeltas(changes, before)).toEqual([
      { pollId: 'p1', questionId: 'q1', optionId: 'a', delta: -1 },
      { pollId: 'p2', questionId: 'q1', optionId: 'a', delta: 1 },
    ]);
  });

  it('moves no count for a ballot without selections', () => {
    const malformed = { ...ballot('v1', []), selections: {} } as unknown as CurrentBallotRow;
    expect(optionCountDeltas(new Map([['p1|v1', malformed]]), new Map())).toEqual([]);
  });
});
