/**
 * Reading the nodes' refusals. A leaf that every answering node refuses on its own merits (the poll was
 * closed at its time, a second ballot for one voter tag, ...) can never become final, and would hold up
 * every later leaf: the anchoring service takes it out and raises an alert instead.
 */

/** Refusal codes about the checkpoint or the node itself, not about one entry. */
const NOT_ABOUT_THE_ENTRY = new Set([
  'store-mismatch', 'conflict', 'conflicting-root', 'bad-prev', 'smaller', 'root-mismatch', 'bad-size', 'bad-checkpoint',
  'bad-origin', 'bad-request', 'bad-note', 'quorum', 'behind',
]);

export interface LeafRefusal {
  index: number;
  code: string;
  reason: string;
}

/**
 * The leaf at least `quorum` nodes refused, each naming the same leaf index with an entry-level code
 * (coordinator reasons read `422 <code>: <reason> (entry <index>)`), or null.
 */
export function refusedLeaf(reasons: Readonly<Record<string, string>>, quorum: number): LeafRefusal | null {
  const byIndex = new Map<number, LeafRefusal[]>();
  for (const text of Object.values(reasons)) {
    const m = /^422 ([\w.-]+): (.*) \(entry (\d+)\)$/s.exec(text);
    if (!m || NOT_ABOUT_THE_ENTRY.has(m[1]!)) continue;
    const index = Number(m[3]);
    byIndex.set(index, [...(byIndex.get(index) ?? []), { index, code: m[1]!, reason: m[2]! }]);
  }
  for (const refusals of byIndex.values()) if (refusals.length >= quorum) return refusals[0]!;
  return null;
}
