/**
 * The app's anchoring coordinator: the client side of the ledger node protocol (docs/ledger-protocol.md).
 * It keeps its own copy of the Merkle tree over every entry it was given, proposes the next checkpoint
 * to the four nodes in parallel, makes it final with a quorum of valid signatures and sends the final
 * note back to every node. Server-side only (node:crypto).
 *
 * Usage: `const c = createCoordinator({ nodes, token, origin })`, then `await c.anchor(newEntries, start)`
 * whenever entries arrive (the app calls it about once a second). Entries are canonical JSON texts
 * (src/ledger/entry.ts). The app persists what `anchor` reports final and passes it back as `anchored`
 * after a restart, so anchoring continues with no gap and no duplicate.
 */
import { bytesEqual, utf8 } from './bytes.ts';
import { checkpointHash, formatCheckpoint, GENESIS_PREV, parseCheckpoint, type Checkpoint } from './checkpoint.ts';
import { hashLeaf, MerkleTree } from './merkle.ts';
import { nodeEd25519, nodeSha256 } from './nodeCrypto.ts';
import { distinctSigners, openNote, parseVerifierKeys, type NoteVerifier } from './note.ts';

const h = nodeSha256;
const ed = nodeEd25519;

export interface CoordinatorOptions {
  /** Base URLs of the four ledger nodes, e.g. `http://127.0.0.1:7101`. */
  nodes: readonly string[];
  /** Bearer token the nodes accept on their coordinator routes. */
  token: string;
  /** The log's origin line; must equal the nodes' --origin. */
  origin: string;
  /** Distinct valid node signatures that make a checkpoint final. Default 3. */
  quorum?: number;
  /** Pins the nodes' verifier keys; by default each node's key is read from its /v1/info. */
  verifierKeys?: readonly string[];
  /** Timeout of one request to one node, ms. Default 3000. */
  timeoutMs?: number;
  /** Most entries in one checkpoint; a larger backlog is anchored in several rounds. Default 2000. */
  maxBatch?: number;
  /** Entries already anchored (and the final note covering them, if kept), to resume after a restart. */
  anchored?: { entries: readonly string[]; note?: string | null };
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
      /** Why each node that did not sign did not, by node URL. */
      reasons: Record<string, string>;
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
   * final. `startIndex` may repeat entries already given (they must be identical) but must not leave a
   * gap: it throws RangeError when `startIndex` is beyond the entries given so far, and Error when a
   * repeated entry differs. Calls are serialised. Never throws for node failures: with fewer than
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
  /** Size of the latest final checkpoint. */
  readonly finalSize: number;
  /** The latest final checkpoint note, or null before the first. */
  readonly lastNote: string | null;
}

interface NodeAnswer {
  status: number;
  body: Record<string, unknown>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Creates a coordinator; see {@link Coordinator}. Does no I/O until the first call. */
export function createCoordinator(options: CoordinatorOptions): Coordinator {
  const quorum = options.quorum ?? 3;
  const timeoutMs = options.timeoutMs ?? 3000;
  const maxBatch = options.maxBatch ?? 2000;
  const doFetch = options.fetch ?? fetch;
  const now = options.now ?? Date.now;
  const nodes = [...options.nodes];

  const tree = new MerkleTree(h);
  const entries: string[] = [];
  const arrivedAt: number[] = [];
  let finalSize = 0;
  let lastNote: string | null = null;
  let lastBody: string | null = null;
  /** Whether the latest final checkpoint was read from the nodes (or restored), so `prev` is right. */
  let synced = false;
  const keyOf = new Map<string, string>();
  const inflight = new Set<Promise<unknown>>();
  let queue: Promise<unknown> = Promise.resolve();

  function push(text: string): void {
    entries.push(text);
    arrivedAt.push(now());
    tree.append(hashLeaf(h, utf8(text)));
  }

  function adopt(note: string, cp: Checkpoint): void {
    finalSize = cp.size;
    lastNote = note;
    lastBody = openNote(ed, note, []).text;
  }

  if (options.anchored) {
    for (const text of options.anchored.entries) push(text);
    if (options.anchored.note) {
      const cp = parseCheckpoint(openNote(ed, options.anchored.note, []).text);
      if (cp.size > entries.length || !bytesEqual(tree.root(cp.size), cp.rootHash)) {
        throw new Error('the restored final checkpoint does not match the restored entries');
      }
      adopt(options.anchored.note, cp);
      synced = true;
    }
  }

  async function call(url: string, path: string, init?: { body: unknown }): Promise<NodeAnswer> {
    const res = await doFetch(new URL(path, url), {
      method: init ? 'POST' : 'GET',
      headers: init ? { 'content-type': 'application/json', authorization: `Bearer ${options.token}` } : {},
      body: init ? JSON.stringify(init.body) : undefined,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const raw = await res.text();
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw) as Record<string, unknown>;
    } catch {
      body = { text: raw };
    }
    return { status: res.status, body };
  }

  const describe = (e: unknown): string => {
    const err = e as { name?: string; message?: string; cause?: { code?: string } };
    if (err?.name === 'TimeoutError' || err?.name === 'AbortError') return `no answer within ${timeoutMs} ms`;
    return `unreachable: ${err?.cause?.code ?? err?.message ?? String(e)}`;
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
    if (found && found.cp.size > finalSize) {
      if (found.cp.size > entries.length) return; // not enough entries given yet to check it; try again later
      if (!bytesEqual(tree.root(found.cp.size), found.cp.rootHash)) {
        throw new Error(`the ledger's final checkpoint at size ${found.cp.size} does not match the app's entries`);
      }
      adopt(found.note, found.cp);
    }
    synced = true;
  }

  /** Proposes to one node; re-proposes after 'behind' while the node catches up from its peers. */
  async function propose(url: string, start: number, target: number, body: string, over: () => boolean): Promise<{ line?: string; reason?: string }> {
    for (let attempt = 0; ; attempt++) {
      let answer: NodeAnswer;
      try {
        answer = await call(url, '/v1/propose', { body: { start, entries: entries.slice(start, target), checkpoint: body } });
      } catch (e) {
        return { reason: describe(e) };
      }
      if (answer.status === 200 && typeof answer.body.signature === 'string') return { line: answer.body.signature };
      const reason = `${answer.status} ${String(answer.body.code ?? '')}: ${String(answer.body.reason ?? answer.body.text ?? '')}${
        answer.body.index !== undefined ? ` (entry ${String(answer.body.index)})` : ''
      }`;
      if (answer.status !== 409 || attempt >= 3 || over()) return { reason };
      await sleep(150 * 2 ** attempt);
      // The round may have finished meanwhile; a late proposal would only be refused as stale.
      if (over()) return { reason };
    }
  }

  /** One checkpoint round up to `target`; resolves as soon as a quorum of valid signatures is in. */
  async function round(target: number): Promise<{ note: string } | { signatures: number; reasons: Record<string, string> }> {
    const body = formatCheckpoint({
      origin: options.origin,
      size: target,
      rootHash: tree.root(target),
      prev: lastBody === null ? GENESIS_PREV : checkpointHash(h, lastBody),
      extensions: [],
    });
    const start = finalSize;
    const lines: string[] = [];
    const reasons: Record<string, string> = {};
    const signers = new Set<string>();
    let finished = false;
    await new Promise<void>((resolve) => {
      let open = nodes.length;
      const done = (): void => {
        open--;
        if (open === 0 || signers.size >= quorum) resolve();
      };
      for (const url of nodes) {
        propose(url, start, target, body, () => finished).then(async ({ line, reason }) => {
          if (line) {
            // Only the answering node's own key counts for its answer (a node that just answered is up,
            // so its key is at hand); a hung node never delays a round that has its quorum.
            const valid = validSigner(body, line, await keysFor(url));
            if (valid) {
              signers.add(valid);
              lines.push(line);
            } else reasons[url] = 'its signature does not verify with a known node key';
          } else reasons[url] = reason ?? 'no answer';
          done();
        }, done);
      }
    });
    finished = true;
    if (signers.size < quorum) return { signatures: signers.size, reasons };
    const note = `${body}\n${lines.join('')}`;
    for (const url of nodes) {
      const p = call(url, '/v1/finalize', { body: { note } }).catch(() => undefined);
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
    }
    return { note };
  }

  async function anchorLocked(given: readonly string[], startIndex: number): Promise<AnchorResult> {
    if (!Number.isSafeInteger(startIndex) || startIndex < 0 || startIndex > entries.length) {
      throw new RangeError(`entries start at ${startIndex} but the coordinator holds ${entries.length}: that would leave a gap`);
    }
    given.forEach((text, k) => {
      const i = startIndex + k;
      if (i < entries.length) {
        if (entries[i] !== text) throw new Error(`entry ${i} differs from the one given before`);
      } else push(text);
    });
    if (!synced) {
      try {
        await sync();
      } catch (e) {
        if (e instanceof Error && e.message.startsWith('the ledger')) throw e;
      }
    }
    const firstUnanchored = finalSize;
    let resynced = false;
    while (finalSize < entries.length) {
      const target = Math.min(entries.length, finalSize + maxBatch);
      const result = await round(target);
      if ('note' in result) {
        adopt(result.note, parseCheckpoint(openNote(ed, result.note, []).text));
        continue;
      }
      // A node that says our chain is stale means someone finalised past us (e.g. before a restart).
      const stale = Object.values(result.reasons).some((r) => /\b(bad-prev|smaller)\b/.test(r));
      if (stale && !resynced) {
        resynced = true;
        await sync().catch(() => undefined);
        continue;
      }
      return {
        status: 'pending',
        note: lastNote,
        size: finalSize,
        pendingEntries: entries.length - finalSize,
        signatures: result.signatures,
        reasons: result.reasons,
      };
    }
    if (lastNote === null) {
      return { status: 'pending', note: null, size: 0, pendingEntries: 0, signatures: 0, reasons: {} };
    }
    const lagMs = finalSize > firstUnanchored ? Math.max(0, now() - arrivedAt[firstUnanchored]!) : 0;
    return { status: 'final', note: lastNote, size: finalSize, lagMs };
  }

  return {
    anchor(given, startIndex) {
      const run = queue.then(() => anchorLocked(given, startIndex));
      queue = run.catch(() => undefined);
      return run;
    },

    async requestTallies(pollId, size) {
      return Promise.all(
        nodes.map(async (url): Promise<NodeTally> => {
          for (let attempt = 0; ; attempt++) {
            try {
              const answer = await call(url, '/v1/tally', { body: { pollId, size } });
              if (answer.status === 200) return { url, ok: true, tally: answer.body.tally, note: String(answer.body.note) };
              if (answer.status !== 409 || attempt >= 3) {
                return { url, ok: false, reason: `${answer.status} ${String(answer.body.code)}: ${String(answer.body.reason)}` };
              }
            } catch (e) {
              return { url, ok: false, reason: describe(e) };
            }
            await sleep(150 * 2 ** attempt);
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
            return { url, reachable: false, error: describe(e) };
          }
        }),
      );
    },

    async settled() {
      await Promise.allSettled([...inflight]);
    },

    get size() {
      return entries.length;
    },
    get finalSize() {
      return finalSize;
    },
    get lastNote() {
      return lastNote;
    },
  };
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
