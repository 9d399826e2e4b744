/**
 * A small client for a ledger node's public read API (docs/ledger-protocol.md), shared by the CLI and
 * the verification portal's browser code. Uses only `fetch`: no node:* imports, so it bundles for the
 * browser. It trusts nothing it reads; callers verify every answer with the pure ledger functions.
 */
import type { SignedPage } from './protocol.ts';
import type { Receipt } from './receipt.ts';

/** A node answered with an unexpected status or a body of the wrong shape, or could not be reached. */
export class NodeClientError extends Error {
  override readonly name = 'NodeClientError';
  constructor(
    readonly url: string,
    /** HTTP status, or 0 when the node could not be reached or the body was unreadable. */
    readonly status: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface NodeInfo {
  nodeId: number;
  name: string;
  origin: string;
  verifierKey: string;
  size: number;
  /** Size of the latest checkpoint this node holds with a quorum of signatures (0 before the first). */
  finalSize: number;
  peers: string[];
  /** What the node's start-up check found wrong with its store (it then serves no checkpoints or proofs). */
  storeProblem?: string | null;
}

export interface IndexedEntry {
  index: number;
  /** The canonical entry JSON text exactly as the leaf hashes it. */
  entry: string;
}

export interface NodeTally {
  pollId: string;
  size: number;
  tally: unknown;
  note: string;
}

export interface NodeClientOptions {
  fetch?: typeof fetch;
  /** Per-request timeout; 15 s by default. */
  timeoutMs?: number;
}

/** The most entries one GET /v1/entries returns (the protocol's page limit; a page of large entries holds fewer). */
export const ENTRIES_PAGE = 1000;

export interface NodeClient {
  readonly url: string;
  info(): Promise<NodeInfo>;
  /** The latest final checkpoint as a signed note; null before the first. */
  checkpoint(): Promise<string | null>;
  checkpointAt(size: number): Promise<string | null>;
  /**
   * A page of the checkpoint bodies this node signed, each with its own signature only: from `start`,
   * or the newest page without it (at most MAX_SIGNED_PAGE; page on with `next`).
   */
  signed(start?: number): Promise<SignedPage>;
  /** Entries [start, end), following pages until `end`; `onPage` reports progress. */
  entries(start: number, end: number, onPage?: (done: number) => void): Promise<IndexedEntry[]>;
  inclusionProof(index: number, size: number): Promise<string[]>;
  consistencyProof(from: number, to: number): Promise<string[]>;
  /** The node's receipt for a tracker code (canonical form), null if it does not know it. */
  tracker(code: string): Promise<Receipt | null>;
  pollEntries(pollId: string): Promise<IndexedEntry[] | null>;
  /** The node's own signed tally, null before the poll is tallied. */
  pollTally(pollId: string): Promise<NodeTally | null>;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');

function isIndexedEntries(v: unknown): v is IndexedEntry[] {
  return Array.isArray(v) && v.every((e) => isObject(e) && Number.isSafeInteger(e.index) && typeof e.entry === 'string');
}

/** A client for the node at `baseUrl` (e.g. `http://127.0.0.1:3201`). */
export function createNodeClient(baseUrl: string, options: NodeClientOptions = {}): NodeClient {
  const doFetch = options.fetch ?? ((input, init) => fetch(input, init));
  const timeoutMs = options.timeoutMs ?? 15_000;
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;

  /** GET path; null on 404 when `allow404`; throws NodeClientError otherwise. */
  async function get(path: string, as: 'json' | 'text', allow404 = false): Promise<unknown> {
    const url = new URL(path.replace(/^\//, ''), base).toString();
    let res: Response;
    try {
      res = await doFetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: as === 'json' ? 'application/json' : 'text/plain' } });
    } catch (e) {
      throw new NodeClientError(url, 0, `cannot reach ${url}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
    if (res.status === 404 && allow404) {
      await res.body?.cancel();
      return null;
    }
    if (!res.ok) {
      // The node's own { code, reason } says why (a store problem, say); short, it is shown to people.
      const why = await res.text().then((t) => {
        try {
          const b = JSON.parse(t) as { code?: unknown; reason?: unknown };
          return typeof b.code === 'string' ? ` (${b.code}${typeof b.reason === 'string' ? `: ${b.reason.slice(0, 200)}` : ''})` : '';
        } catch {
          return '';
        }
      }, () => '');
      throw new NodeClientError(url, res.status, `${url} answered ${res.status}${why}`);
    }
    try {
      return as === 'json' ? await res.json() : await res.text();
    } catch {
      throw new NodeClientError(url, 0, `${url} sent an unreadable body`);
    }
  }

  function shape<T>(url: string, value: unknown, ok: (v: unknown) => v is T): T {
    if (!ok(value)) throw new NodeClientError(new URL(url.replace(/^\//, ''), base).toString(), 0, `${url}: unexpected answer`);
    return value;
  }

  const proofOf = (v: unknown): v is { proof: string[] } => isObject(v) && isStringArray(v.proof);
  const enc = encodeURIComponent;

  return {
    url: base.replace(/\/$/, ''),
    async info() {
      const v = await get('/v1/info', 'json');
      return shape('/v1/info', v, (x): x is NodeInfo => isObject(x) && typeof x.verifierKey === 'string' && typeof x.origin === 'string');
    },
    async checkpoint() {
      return (await get('/v1/checkpoint', 'text', true)) as string | null;
    },
    async checkpointAt(size) {
      return (await get(`/v1/checkpoint/${size}`, 'text', true)) as string | null;
    },
    async signed(start) {
      const path = start === undefined ? '/v1/signed' : `/v1/signed?start=${start}`;
      const v = await get(path, 'json');
      const isCount = (n: unknown): n is number => Number.isSafeInteger(n) && (n as number) >= 0;
      return shape(path, v, (x): x is SignedPage => isObject(x) && isStringArray(x.checkpoints) && isCount(x.start) && isCount(x.count) && (x.next === null || isCount(x.next)));
    },
    async entries(start, end, onPage) {
      const out: IndexedEntry[] = [];
      while (start + out.length < end) {
        const from = start + out.length;
        const path = `/v1/entries?start=${from}&end=${Math.min(end, from + ENTRIES_PAGE)}`;
        const v = await get(path, 'json');
        const page = shape(path, v, (x): x is { entries: IndexedEntry[] } => isObject(x) && isIndexedEntries(x.entries)).entries;
        if (page.length === 0) throw new NodeClientError(base, 0, `no entries from ${from}: the node holds fewer than ${end}`);
        for (const e of page) {
          if (e.index !== start + out.length) throw new NodeClientError(base, 0, `entries out of order at ${e.index}`);
          out.push(e);
        }
        onPage?.(out.length);
      }
      return out;
    },
    async inclusionProof(index, size) {
      const path = `/v1/proof/inclusion?index=${index}&size=${size}`;
      return shape(path, await get(path, 'json'), proofOf).proof;
    },
    async consistencyProof(from, to) {
      const path = `/v1/proof/consistency?from=${from}&to=${to}`;
      return shape(path, await get(path, 'json'), proofOf).proof;
    },
    async tracker(code) {
      const v = await get(`/v1/tracker/${enc(code)}`, 'json', true);
      return v === null ? null : shape('/v1/tracker', v, (x): x is Receipt => isObject(x));
    },
    async pollEntries(pollId) {
      // Page by page: a node answers up to 1,000 entries (and 4 MiB of them) and the `start` of the next page.
      const out: IndexedEntry[] = [];
      for (let start: number | null = 0; start !== null; ) {
        const path = `/v1/polls/${enc(pollId)}/entries?start=${start}`;
        const v = await get(path, 'json', true);
        if (v === null) return out.length === 0 ? null : out;
        const page = shape(path, v, (x): x is { entries: IndexedEntry[]; next?: unknown } => isObject(x) && isIndexedEntries(x.entries));
        out.push(...page.entries);
        const next: unknown = page.next;
        if (next !== undefined && next !== null && (typeof next !== 'number' || !Number.isSafeInteger(next) || next <= start)) {
          throw new NodeClientError(base, 0, `${path}: next page ${String(next)} does not move forward`);
        }
        start = typeof next === 'number' ? next : null;
      }
      return out;
    },
    async pollTally(pollId) {
      const path = `/v1/polls/${enc(pollId)}/tally`;
      const v = await get(path, 'json', true);
      return v === null
        ? null
        : shape(path, v, (x): x is NodeTally => isObject(x) && typeof x.note === 'string' && Number.isSafeInteger(x.size) && 'tally' in x);
    },
  };
}
