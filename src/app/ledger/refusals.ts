/**
 * Reading the nodes' refusals. A leaf that every answering node refuses on its own merits (the poll was
 * closed at its time, a second ballot for one voter tag, ...) can never become final, and would hold up
 * every later leaf: the anchoring service takes it out and raises an alert instead.
 */
import { QUORUM, refusesEntry, type NodeRefusal } from '../../ledger/protocol.ts';

export interface LeafRefusal {
  index: number;
  code: string;
  reason: string;
}

/** The leaf at least `quorum` nodes refused, each naming the same leaf index with an entry-level code, or null. */
export function refusedLeaf(refusals: Readonly<Record<string, NodeRefusal>>, quorum: number = QUORUM): LeafRefusal | null {
  const byIndex = new Map<number, LeafRefusal[]>();
  for (const r of Object.values(refusals)) {
    if (!refusesEntry(r)) continue;
    byIndex.set(r.index, [...(byIndex.get(r.index) ?? []), { index: r.index, code: r.code, reason: r.reason }]);
  }
  for (const found of byIndex.values()) if (found.length >= quorum) return found[0]!;
  return null;
}
