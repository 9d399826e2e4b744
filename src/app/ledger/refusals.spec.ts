import { describe, expect, it } from 'vitest';
import type { NodeRefusal } from '../../ledger/protocol.ts';
import { refusedLeaf } from './refusals.ts';

describe('refusedLeaf', () => {
  const closed: NodeRefusal = { kind: 'refused', status: 422, code: 'poll.closed', reason: 'Poll p1 is closed', index: 7 };
  const down: NodeRefusal = { kind: 'unreachable', reason: 'unreachable: ECONNREFUSED' };
  it('names the leaf a quorum of nodes refused on its merits', () => {
    expect(refusedLeaf({ a: closed, b: closed, c: closed, d: down })).toEqual({ index: 7, code: 'poll.closed', reason: 'Poll p1 is closed' });
  });
  it('ignores refusals about the checkpoint or the node, and too few refusals', () => {
    expect(refusedLeaf({ a: closed, b: closed, c: down })).toBeNull();
    const mismatch: NodeRefusal = { kind: 'refused', status: 422, code: 'store-mismatch', reason: 'this node store does not match', index: 7 };
    expect(refusedLeaf({ a: mismatch, b: mismatch, c: mismatch })).toBeNull();
    expect(refusedLeaf({ a: closed, b: closed, c: { ...closed, index: 8 } })).toBeNull();
    expect(refusedLeaf({ a: closed, b: closed, c: { ...closed, status: 409 } })).toBeNull();
  });
});
