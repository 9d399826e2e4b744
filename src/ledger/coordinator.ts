/**
 * The app's anchoring coordinator: the client side of the ledger node protocol (docs/ledger-protocol.md).
 * It keeps the Merkle frontier of the final tree (O(log n) hashes, see MerkleFrontier) and the entries
 * given but not yet final, proposes the next checkpoint to the four nodes in parallel (one request body,
 * built once per round), makes it final with a quorum of valid signatures and sends the final note back
 * to every node. Nothing it holds grows with the log: only with the backlog waiting to be final.
 * Server-side only (node:crypto). Requests go through the global fetch, whose pool keeps connections to
 * each node alive between rounds.
 *
 * Usage: `const c = createCoordinator({ nodes, token, origin })`, then `await c.anchor(newEntries, start)`
 * whenever entries arrive (the app calls it about once a second). Entries are canonical JSON texts
 * (src/ledger/entry.ts). The app persists what `anchor` reports final (the note, and the frontier for a
 * quick restart) and passes it back as `anchored` after a restart, so anchoring continues with no gap
 * and no duplicate.
 */
import { Mutex } from 'async-mutex';
import pRetry, { AbortError } from 'p-retry';
import { bytesEqual, utf8 } from './bytes.ts';
import { checkpointHash, formatCheckpoint, GENESIS_PREV, parseCheckpoint, type Checkpoint } from './checkpoint.ts';
import { hashLeaf, MerkleFrontier } from './merkle.ts';
import { nodeEd25519, nodeSha256 } from './nodeCrypto.ts';
import { distinctSigners, openNote, parseVerifierKeys, type NoteVerifier } from './note.ts';
import { describeRefusal, QUORUM, refusalOf, saysStale, type NodeRefusal } from './protocol.ts';

const h = nodeSha256;
const ed = nodeEd25519;

export interface CoordinatorOptions {
  /** Base URLs of the four ledger nodes, e.g. `http://127.0.0.1:7101`. */
  nodes: readonly string[];
  /** Bearer token the nodes accept on their coordinator routes. */
  token: string;
  /** The log's origin line; must equal the nodes' --origin. */
  origin: string;
  /** Distinct valid node signatures that make a checkpoint final. Default QUORUM (3). */
  quorum?: number;
  /** Pins the nodes' verifier keys; by default each node's key is read from its /v1/info. */
  verifierKeys?: readonly string[];
  /** Timeout of one request to one node, ms. Default 3000. */
  timeoutMs?: number;
  /**
   * Timeout of one tally request, ms: a node reads every entry of the poll to answer it (seconds at
   * 250,000 ballots, more under load), so the round timeout would give up on it, and the retry would ask
   * for the whole tally again. Default 120,000 (never less than `timeoutMs`).
   */
  tallyTimeoutMs?: number;
  /** Most entries in one checkpoint; a larger backlog is anchored in several rounds. Default 2000. */
  maxBatch?: number;
  /**
   * Most entry text (bytes) in one checkpoint besides `maxBatch`; an entry larger than this is a round of
   * its own. Default 8 MiB: a node holds a proposal several times over while it checks it (the body, its
   * text, the entries, each parsed), and a sealed poll's opening entries are 75-190 KB each, so a backlog
   * of them would make a round of 2,000 up to ~380 MB (beyond the node's 64 MiB body limit).
   */
  maxRoundBytes?: number;
  /**
   * What is already anchored, to resume after a restart: the frontier of the tree of every leaf stored
   * before (its size is where `anchor` continues), and the last final note, whose root it must match.
   * Entries after the note's size that the frontier covers cannot be re-proposed from here: give a
   * frontier of exactly the note's size and hand those entries to `anchor` again.
   */
  anchored?: { frontier: MerkleFrontier; note?: string | null };
  fetch?: typeof fetch;
  /** Clock in ms, for the reported lag. Default Date.now. */
  now?: () => number;
}

export type AnchorResult =
  | {
      status: 'final';
      /** The final checkpoint as a signed note with at least `quorum` valid signatures. */
      note: string;
      /** Tree size of `note`: every entry given so far is anchored. */
      size: number;
      /** ms from the arrival of the oldest entry this call made final to its finalisation (0 if none). */
      lagMs: number;
    }
  | {
      status: 'pending';
      /** The last final note and its size (null and 0 before the first). */
      note: string | null;
      size: number;
      /** Entries given but not yet final. */
      pendingEntries: number;
      /** Valid signatures the last round collected. */
      signatures: number;
      /** Why each node that did not sign did not, by node URL (typed; describeRefusal words it). */
      refusals: Record<string, NodeRefusal>;
    };

export interface NodeStatus {
  url: string;
  reachable: boolean;
  nodeId?: number;
  name?: string;
  verifierKey?: string;
  /** Entries the node holds, and the size of its latest final checkpoint. */
  size?: number;
  finalSize?: number;
  /** Set when the node found its store does not match what it signed (it then signs nothing). */
  storeProblem?: string | null;
  error?: string;
}

export interface NodeTally {
  url: string;
  ok: boolean;
  /** The node's PollTally JSON and its signed tally note, when ok. */
  tally?: unknown;
  note?: string;
  reason?: string;
}

export interface Coordinator {
  /**
   * Adds `entries` (canonical JSON texts) at leaf index `startIndex` and anchors everything not yet
   * final. `startIndex` may repeat entries already given but must not leave a gap: it throws RangeError
   * when `startIndex` is beyond the entries given so far, and Error when a repeated entry that is not
   * final yet differs (final ones are no longer held here: the nodes hold them and refuse a rewrite).
   * Calls are serialised. Never throws for node failures: with fewer than
   * `quorum` signers it returns 'pending', and a later call (even with no entries) resumes.
   */
  anchor(entries: readonly string[], startIndex: number): Promise<AnchorResult>;
  /** Asks every node to tally `pollId` from its own entries up to `size` and sign the result. */
  requestTallies(pollId: string, size: number): Promise<NodeTally[]>;
  /** Each node's /v1/info, or why it is unreachable (for the admin page). */
  nodeStatus(): Promise<NodeStatus[]>;
  /** Waits for the final notes already sent to nodes to be delivered or to fail. */
  settled(): Promise<void>;
  /** Entries given so far. */
  readonly size: number;
  /** A copy of the frontier of the final tree (size `finalSize`), to store beside the final note. */
  finalFrontier(): MerkleFrontier;
  /** Size of the latest final checkpoint. */
  readonly finalSize: number;
  /** The latest final checkpoint note, or null before the first. */
  readonly lastNote: string | null;
}

interface NodeAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** A node's 409 `behind`: it is catching up from its peers, so asking again shortly may succeed. */
class NodeBehind extends Error {
  constructor(readonly refusal: NodeRefusal) {
    super(describeRefusal(refusal));
  }
}

/** Re-asks a node that is catching up: up to 3 more times, 150, 300, 600 ms apart (p-retry). */
const BEHIND_RETRY = { retries: 3, factor: 2, minTimeout: 150, randomize: false } as const;

/** The final tree's frontier plus the entries given after it, not yet final: all the coordinator holds. */
interface Pending {
  text: string;
  leafHash: Uint8Array;
  /** The text's UTF-8 length. */
  bytes: number;
  arrivedAt: number;
}

/** Creates a coordinator; see {@link Coordinator}. Does no I/O until the first call. */
export function createCoordinator(options: CoordinatorOptions): Coordinator {
  const quorum = options.quorum ?? QUORUM;
  const timeoutMs = options.timeoutMs ?? 3000;
  const tallyTimeoutMs = Math.max(timeoutMs, options.tallyTimeoutMs ?? 120_000);
  const maxBatch = options.maxBatch ?? 2000;
  const maxRoundBytes = options.maxRoundBytes ?? 8 * 1024 * 1024;
  const doFetch = options.fetch ?? fetch;
  const now = options.now ?? Date.now;
  const nodes = [...options.nodes];

  /** The tree of the final leaves [0, finalSize), as its frontier. */
  let final = MerkleFrontier.empty(h);
  /** Entries given after the final ones: leaf finalSize + k is pending[k]. Bounded by the backlog. */
  let pending: Pending[] = [];
  let lastNote: string | null = null;
  let lastBody: string | null = null;
  /** Whether the latest final checkpoint was read from the nodes (or restored), so `prev` is right. */
  let synced = false;
  const keyOf = new Map<string, string>();
  const inflight = new Set<Promise<unknown>>();
  const serial = new Mutex();

  const size = (): number => final.size + pending.length;

  function push(text: string): void {
    const bytes = utf8(text);
    pending.push({ text, leafHash: hashLeaf(h, bytes), bytes: bytes.length, arrivedAt: now() });
  }

  /** How many pending entries the next round proposes: at most maxBatch and maxRoundBytes, at least one. */
  function roundLength(): number {
    let n = 0;
    for (let bytes = 0; n < Math.min(pending.length, maxBatch); n++) {
      bytes += pending[n]!.bytes;
      if (n > 0 && bytes > maxRoundBytes) break;
    }
    return n;
  }

  /** Root of the first `n` leaves, for final.size <= n <= size(): the final frontier plus pending leaves. */
  function rootAt(n: number): Uint8Array {
    if (n === final.size) return final.root();
    const f = final.clone();
    for (let k = 0; k < n - final.size; k++) f.append(pending[k]!.leafHash);
    return f.root();
  }

  /** Makes the first `cp.size` leaves final: moves them from `pending` into the frontier. */
  function adopt(note: string, cp: Checkpoint): void {
    const moved = cp.size - final.size;
    for (let k = 0; k < moved; k++) final.append(pending[k]!.leafHash);
    pending = pending.slice(moved);
    lastNote = note;
    lastBody = openNote(ed, note, []).text;
  }

  if (options.anchored) {
    final = options.anchored.frontier.clone();
    if (options.anchored.note) {
      const cp = parseCheckpoint(openNote(ed, options.anchored.note, []).text);
      if (cp.size !== final.size || !bytesEqual(final.root(), cp.rootHash)) {
        throw new Error('the restored final checkpoint does not match the restored entries');
      }
      adopt(options.anchored.note, cp);
      synced = true;
    } else if (final.size > 0) {
      throw new Error('a restored frontier needs the final note it belongs to');
    }
  }

  async function call(url: string, path: string, body?: string, waitMs = timeoutMs): Promise<NodeAnswer> {
    const res = await doFetch(new URL(path, url), {
      method: body === undefined ? 'GET' : 'POST',
      headers: body === undefined ? {} : { 'content-type': 'application/json', authorization: `Bearer ${options.token}` },
      body,
      signal: AbortSignal.timeout(waitMs),
    });
    const raw = await res.text();
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      parsed = { text: raw };
    }
    return { status: res.status, body: parsed };
  }

  const unreachable = (e: unknown, waitedMs = timeoutMs): NodeRefusal => {
    const err = e as { name?: string; message?: string; cause?: { code?: string } };
    if (err?.name === 'TimeoutError' || err?.name === 'AbortError') return { kind: 'unreachable', reason: `no answer within ${waitedMs} ms` };
    return { kind: 'unreachable', reason: `unreachable: ${err?.cause?.code ?? err?.message ?? String(e)}` };
  };

  /** The key a node's signatures must verify with: pinned, or read once from that node's /v1/info. */
  async function keysFor(url: string): Promise<NoteVerifier[]> {
    if (options.verifierKeys) return parseVerifierKeys(h, options.verifierKeys);
    if (!keyOf.has(url)) {
      try {
        const info = await call(url, '/v1/info');
        if (typeof info.body.verifierKey === 'string') keyOf.set(url, info.body.verifierKey);
      } catch {
        // learnt on a later call
      }
    }
    return parseVerifierKeys(h, keyOf.has(url) ? [keyOf.get(url)!] : []);
  }

  async function allKeys(): Promise<NoteVerifier[]> {
    if (options.verifierKeys) return parseVerifierKeys(h, options.verifierKeys);
    await Promise.all(nodes.map(keysFor));
    return parseVerifierKeys(h, [...keyOf.values()]);
  }

  /** Reads the nodes' latest final checkpoint, so a restarted coordinator chains onto it. */
  async function sync(): Promise<void> {
    const known = await allKeys();
    let answered = false;
    let best: { note: string; cp: Checkpoint } | null = null;
    await Promise.all(
      nodes.map(async (url) => {
        try {
          const res = await doFetch(new URL('/v1/checkpoint', url), { signal: AbortSignal.timeout(timeoutMs) });
          answered = true;
          if (!res.ok) return;
          const note = await res.text();
          const opened = openNote(ed, note, known);
          const cp = parseCheckpoint(opened.text);
          if (distinctSigners(opened).length >= quorum && cp.origin === options.origin && (!best || cp.size > best.cp.size)) best = { note, cp };
        } catch {
          // an unreachable or unreadable node tells nothing
        }
      }),
    );
    if (!answered) return;
    const found = best as { note: string; cp: Checkpoint } | null;
    if (found && found.cp.size > final.size) {
      if (found.cp.size > size()) return; // not enough entries given yet to check it; try again later
      if (!bytesEqual(rootAt(found.cp.size), found.cp.rootHash)) {
        throw new LedgerMismatch(`the ledger's final checkpoint at size ${found.cp.size} does not match the app's entries`);
      }
      adopt(found.note, found.cp);
    }
    synced = true;
  }

  /** Proposes to one node; re-proposes after 'behind' while the node catches up from its peers. */
  async function propose(url: string, body: string, over: () => boolean): Promise<{ line: string } | { refusal: NodeRefusal }> {
    try {
      let last: NodeRefusal | null = null;
      return await pRetry(async () => {
        // The round may have finished while this node was waited for: a late proposal would only be refused as stale.
        if (last && over()) throw new AbortError(new NodeBehind(last));
        let answer: NodeAnswer;
        try {
          answer = await call(url, '/v1/propose', body);
        } catch (e) {
          throw new AbortError(new NodeBehind(unreachable(e)));
        }
        if (answer.status === 200 && typeof answer.body.signature === 'string') return { line: answer.body.signature };
        const refusal = (last = refusalOf(answer.status, answer.body));
        if (answer.status !== 409 || over()) throw new AbortError(new NodeBehind(refusal));
        throw new NodeBehind(refusal);
      }, { ...BEHIND_RETRY, shouldRetry: () => !over() });
    } catch (e) {
      return { refusal: e instanceof NodeBehind ? e.refusal : unreachable(e) };
    }
  }

  /** One checkpoint round up to `target`; resolves as soon as a quorum of valid signatures is in. */
  async function round(target: number): Promise<{ note: string } | { signatures: number; refusals: Record<string, NodeRefusal> }> {
    const checkpoint = formatCheckpoint({
      origin: options.origin,
      size: target,
      rootHash: rootAt(target),
      prev: lastBody === null ? GENESIS_PREV : checkpointHash(h, lastBody),
      extensions: [],
    });
    // One body for every node and every re-proposal of this round.
    const body = JSON.stringify({ start: final.size, entries: pending.slice(0, target - final.size).map((p) => p.text), checkpoint });
    const lines: string[] = [];
    const refusals: Record<string, NodeRefusal> = {};
    const signers = new Set<string>();
    let finished = false;
    await new Promise<void>((resolve) => {
      let open = nodes.length;
      const done = (): void => {
        open--;
        if (open === 0 || signers.size >= quorum) resolve();
      };
      for (const url of nodes) {
        propose(url, body, () => finished).then(async (answer) => {
          if ('line' in answer) {
            // Only the answering node's own key counts for its answer (a node that just answered is up,
            // so its key is at hand); a hung node never delays a round that has its quorum.
            const valid = validSigner(checkpoint, answer.line, await keysFor(url));
            if (valid) {
              signers.add(valid);
              lines.push(answer.line);
            } else refusals[url] = { kind: 'bad-signature' };
          } else refusals[url] = answer.refusal;
          done();
        }, done);
      }
    });
    finished = true;
    if (signers.size < quorum) return { signatures: signers.size, refusals };
    const note = `${checkpoint}\n${lines.join('')}`;
    const finalBody = JSON.stringify({ note });
    for (const url of nodes) {
      const p = call(url, '/v1/finalize', finalBody).catch(() => undefined);
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
    }
    return { note };
  }

  async function anchorLocked(given: readonly string[], startIndex: number): Promise<AnchorResult> {
    if (!Number.isSafeInteger(startIndex) || startIndex < 0 || startIndex > size()) {
      throw new RangeError(`entries start at ${startIndex} but the coordinator holds ${size()}: that would leave a gap`);
    }
    given.forEach((text, k) => {
      const i = startIndex + k;
      if (i < final.size) return; // final: the nodes hold it and refuse any other text at that index
      if (i < size()) {
        if (pending[i - final.size]!.text !== text) throw new Error(`entry ${i} differs from the one given before`);
      } else push(text);
    });
    if (!synced) {
      try {
        await sync();
      } catch (e) {
        if (e instanceof LedgerMismatch) throw e;
      }
    }
    const oldestArrival = pending[0]?.arrivedAt;
    const firstUnanchored = final.size;
    let resynced = false;
    while (pending.length > 0) {
      const target = final.size + roundLength();
      const result = await round(target);
      if ('note' in result) {
        adopt(result.note, parseCheckpoint(openNote(ed, result.note, []).text));
        continue;
      }
      // A node that says our chain is stale means someone finalised past us (e.g. before a restart).
      if (Object.values(result.refusals).some(saysStale) && !resynced) {
        resynced = true;
        await sync().catch(() => undefined);
        continue;
      }
      return {
        status: 'pending',
        note: lastNote,
        size: final.size,
        pendingEntries: pending.length,
        signatures: result.signatures,
        refusals: result.refusals,
      };
    }
    if (lastNote === null) {
      return { status: 'pending', note: null, size: 0, pendingEntries: 0, signatures: 0, refusals: {} };
    }
    const lagMs = final.size > firstUnanchored && oldestArrival !== undefined ? Math.max(0, now() - oldestArrival) : 0;
    return { status: 'final', note: lastNote, size: final.size, lagMs };
  }

  return {
    anchor(given, startIndex) {
      return serial.runExclusive(() => anchorLocked(given, startIndex));
    },

    async requestTallies(pollId, size) {
      const body = JSON.stringify({ pollId, size });
      return Promise.all(
        nodes.map(async (url): Promise<NodeTally> => {
          try {
            return await pRetry(async () => {
              let answer: NodeAnswer;
              try {
                answer = await call(url, '/v1/tally', body, tallyTimeoutMs);
              } catch (e) {
                throw new AbortError(new NodeBehind(unreachable(e, tallyTimeoutMs)));
              }
              if (answer.status === 200) return { url, ok: true, tally: answer.body.tally, note: String(answer.body.note) };
              const refusal = refusalOf(answer.status, answer.body);
              throw answer.status === 409 ? new NodeBehind(refusal) : new AbortError(new NodeBehind(refusal));
            }, BEHIND_RETRY);
          } catch (e) {
            return { url, ok: false, reason: describeRefusal(e instanceof NodeBehind ? e.refusal : unreachable(e)) };
          }
        }),
      );
    },

    async nodeStatus() {
      return Promise.all(
        nodes.map(async (url): Promise<NodeStatus> => {
          try {
            const { status, body } = await call(url, '/v1/info');
            if (status !== 200) return { url, reachable: false, error: `status ${status}` };
            if (typeof body.verifierKey === 'string') keyOf.set(url, body.verifierKey);
            return {
              url,
              reachable: true,
              nodeId: body.nodeId as number,
              name: body.name as string,
              verifierKey: body.verifierKey as string,
              size: body.size as number,
              finalSize: body.finalSize as number,
              storeProblem: (body.storeProblem as string | null) ?? null,
            };
          } catch (e) {
            return { url, reachable: false, error: describeRefusal(unreachable(e)) };
          }
        }),
      );
    },

    async settled() {
      await Promise.allSettled([...inflight]);
    },

    get size() {
      return size();
    },
    get finalSize() {
      return final.size;
    },
    get lastNote() {
      return lastNote;
    },
    finalFrontier: () => final.clone(),
  };
}

/** The nodes' quorum-signed history and the app's entries disagree: anchoring must stop, not resync. */
export class LedgerMismatch extends Error {
  override readonly name = 'LedgerMismatch';
}

/** The name of the known key whose valid signature `line` is over `body`, or null. */
function validSigner(body: string, line: string, known: readonly NoteVerifier[]): string | null {
  try {
    const opened = openNote(ed, `${body}\n${line.endsWith('\n') ? line : `${line}\n`}`, known);
    return opened.valid[0] ? `${opened.valid[0].name}+${opened.valid[0].keyHash}` : null;
  } catch {
    return null;
  }
}
