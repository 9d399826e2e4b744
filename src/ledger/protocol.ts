/**
 * What the ledger node protocol (docs/ledger-protocol.md) says in numbers and codes, shared by the nodes,
 * the app's coordinator and its anchoring service, so that none of them spells these out on its own.
 * Pure: no I/O, bundles for the browser.
 */

/** Signatures from distinct known node keys that make a checkpoint final (3 of the 4 nodes). */
export const QUORUM = 3;

/** The most signed bodies one GET /v1/signed answer carries (a note is ~250 bytes: ~250 KB a page). */
export const MAX_SIGNED_PAGE = 1000;

/** One page of GET /v1/signed: notes [start, next ?? count) of the `count` bodies the node has signed. */
export interface SignedPage {
  checkpoints: string[];
  start: number;
  /** Where the next page starts; null on the last page. */
  next: number | null;
  count: number;
}

/**
 * Refusal codes about the proposal, the checkpoint or the node itself, never about one entry: a node
 * that answers with one of these says nothing about whether an entry could ever be anchored.
 */
export const CHECKPOINT_REFUSAL_CODES = [
  'store-mismatch', 'conflict', 'conflicting-root', 'bad-prev', 'smaller', 'root-mismatch', 'bad-size', 'bad-checkpoint',
  'bad-origin', 'bad-request', 'bad-note', 'quorum', 'behind', 'unauthorised', 'too-large', 'not-found', 'internal',
] as const;
export type CheckpointRefusalCode = (typeof CHECKPOINT_REFUSAL_CODES)[number];
const checkpointCodes: ReadonlySet<string> = new Set(CHECKPOINT_REFUSAL_CODES);

/** Why one node did not sign a round, as its coordinator saw it. */
export type NodeRefusal =
  /** The node answered with a refusal: its HTTP status, its stable code, and the entry it names, if any. */
  | { kind: 'refused'; status: number; code: string; reason: string; index?: number }
  /** No answer (connection refused, timeout). */
  | { kind: 'unreachable'; reason: string }
  /** The node answered with a signature that does not verify with its known key. */
  | { kind: 'bad-signature' };

/** A refusal one entry earned on its own merits (a closed poll, a second ballot, ...), not the round. */
export const refusesEntry = (r: NodeRefusal): r is Extract<NodeRefusal, { kind: 'refused' }> & { index: number } =>
  r.kind === 'refused' && r.status === 422 && r.index !== undefined && !checkpointCodes.has(r.code);

/** Whether the node says the coordinator's chain is stale: someone finalised past it (e.g. before a restart). */
export const saysStale = (r: NodeRefusal): boolean => r.kind === 'refused' && (r.code === 'bad-prev' || r.code === 'smaller');

/** A line for people (the admin page, logs). */
export function describeRefusal(r: NodeRefusal): string {
  switch (r.kind) {
    case 'refused':
      return `${r.status} ${r.code}: ${r.reason}${r.index !== undefined ? ` (entry ${r.index})` : ''}`;
    case 'unreachable':
      return r.reason;
    case 'bad-signature':
      return 'its signature does not verify with a known node key';
  }
}

/** Reads a node's JSON refusal body `{ code, reason, index? }` (any other body says only its status). */
export function refusalOf(status: number, body: unknown): NodeRefusal {
  const b = (typeof body === 'object' && body !== null ? body : {}) as { code?: unknown; reason?: unknown; index?: unknown };
  return {
    kind: 'refused',
    status,
    code: typeof b.code === 'string' ? b.code : 'unknown',
    reason: typeof b.reason === 'string' ? b.reason : '',
    ...(Number.isSafeInteger(b.index) ? { index: b.index as number } : {}),
  };
}
