import { describe, expect, it } from 'vitest';
import { refusedLeaf } from './refusals.ts';

describe('refusedLeaf', () => {
  const closed = '422 poll.closed: Poll p1 is closed (entry 7)';
  it('names the leaf a quorum of nodes refused on its merits', () => {
    expect(refusedLeaf({ a: closed, b: closed, c: closed, d: 'unreachable: ECONNREFUSED' }, 3)).toEqual({ index: 7, code: 'poll.closed', reason: 'Poll p1 is closed' });
  });
  it('ignores refusals about the checkpoint or the node, and too few refusals', () => {
    expect(refusedLeaf({ a: closed, b: closed, c: 'unreachable: ECONNREFUSED' }, 3)).toBeNull();
    const mismatch = '422 store-mismatch: this node store does not match (entry 7)';
    expect(refusedLeaf({ a: mismatch, b: mismatch, c: mismatch }, 3)).toBeNull();
    expect(refusedLeaf({ a: closed, b: closed, c: '422 poll.closed: Poll p1 is closed (entry 8)' }, 3)).toBeNull();
  });
});
