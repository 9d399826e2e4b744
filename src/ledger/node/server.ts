/**
 * The ledger node's HTTP API (docs/ledger-protocol.md) on plain node:http: a dozen fixed routes do not
 * need a framework, and the node stays small enough to audit.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { normalizeTracker } from '../entry.ts';
import type { LedgerNode } from './ledgerNode.ts';
import { NodeError } from './nodeError.ts';
import type { Log } from './store.ts';

const MAX_BODY = 64 * 1024 * 1024;

interface Reply {
  status: number;
  body: unknown;
  text?: boolean;
}

const json = (body: unknown, status = 200): Reply => ({ status, body });
const text = (body: string): Reply => ({ status: 200, body, text: true });
const notFound = (what: string): Reply => json({ code: 'not-found', reason: `${what} not found` }, 404);

function intParam(url: URL, name: string): number {
  const raw = url.searchParams.get(name);
  const n = raw !== null && /^(0|[1-9][0-9]*)$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n)) throw new NodeError(400, 'bad-request', `query parameter ${name} must be a non-negative integer`);
  return n;
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    total += (chunk as Buffer).length;
    if (total > MAX_BODY) throw new NodeError(413, 'too-large', 'request body too large');
    chunks.push(chunk as Buffer);
  }
  try {
    const value = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    if (typeof value !== 'object' || value === null) throw new Error('not an object');
    return value as Record<string, unknown>;
  } catch {
    throw new NodeError(400, 'bad-request', 'body must be a JSON object');
  }
}

function authorised(req: IncomingMessage, token: string | undefined): boolean {
  if (!token) return false;
  const given = Buffer.from(req.headers.authorization ?? '');
  const expected = Buffer.from(`Bearer ${token}`);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** A path segment decoded; a malformed percent-encoding (`%E0%A4%A`) is the client's mistake: 400. */
function segment(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new NodeError(400, 'bad-request', 'malformed percent-encoding in the path');
  }
}

/** One route of the API: `path` as documented (`:name` for a segment), `handle` given the decoded segments. */
export interface NodeRoute {
  method: 'GET' | 'POST';
  path: string;
  /** Coordinator routes need the bearer token and read a JSON body. */
  coordinator?: boolean;
  handle(node: LedgerNode, url: URL, params: string[], body: Record<string, unknown>): Reply | Promise<Reply>;
}

/** Every route of the node (docs/ledger-protocol.md); tests enumerate this table. */
export const NODE_ROUTES: readonly NodeRoute[] = [
  { method: 'GET', path: '/v1/info', handle: (node) => json(node.info()) },
  { method: 'GET', path: '/v1/checkpoint', handle: (node) => { const note = node.latestCheckpoint(); return note ? text(note) : notFound('final checkpoint'); } },
  {
    method: 'GET', path: '/v1/checkpoint/:size',
    handle: (node, _url, [size]) => {
      const note = /^(0|[1-9][0-9]{0,15})$/.test(size!) ? node.checkpointAt(Number(size)) : null;
      return note ? text(note) : notFound('checkpoint at that size');
    },
  },
  // The newest page without `start`; at most MAX_SIGNED_PAGE notes per answer either way: clients page on with `next`.
  { method: 'GET', path: '/v1/signed', handle: (node, url) => json(node.signedCheckpoints(url.searchParams.has('start') ? intParam(url, 'start') : undefined)) },
  // At most MAX_ENTRIES_PAGE entries and MAX_PAGE_BYTES of them per answer whatever `end` asks for: clients page on from the last index.
  { method: 'GET', path: '/v1/entries', handle: (node, url) => json({ entries: node.entries(intParam(url, 'start'), intParam(url, 'end')) }) },
  {
    method: 'GET', path: '/v1/proof/inclusion',
    handle: (node, url) => { const [index, size] = [intParam(url, 'index'), intParam(url, 'size')]; return json({ index, size, proof: node.inclusionProof(index, size) }); },
  },
  {
    method: 'GET', path: '/v1/proof/consistency',
    handle: (node, url) => { const [from, to] = [intParam(url, 'from'), intParam(url, 'to')]; return json({ from, to, proof: node.consistencyProof(from, to) }); },
  },
  {
    method: 'GET', path: '/v1/tracker/:code',
    handle: (node, _url, [code]) => {
      const tracker = normalizeTracker(code!);
      const receipt = tracker ? node.receipt(tracker) : null;
      return receipt ? json(receipt) : notFound('tracker');
    },
  },
  { method: 'GET', path: '/v1/polls/:pollId/entries', handle: (node, url, [pollId]) => json({ pollId, ...node.pollEntries(pollId!, url.searchParams.has('start') ? intParam(url, 'start') : 0) }) },
  { method: 'GET', path: '/v1/polls/:pollId/tally', handle: (node, _url, [pollId]) => { const tally = node.tallyOf(pollId!); return tally ? json(tally) : notFound('tally of that poll'); } },
  { method: 'POST', path: '/v1/propose', coordinator: true, handle: async (node, _url, _p, body) => json(await node.propose({ start: body.start, entries: body.entries, checkpoint: body.checkpoint })) },
  { method: 'POST', path: '/v1/finalize', coordinator: true, handle: async (node, _url, _p, body) => json(await node.finalize({ note: body.note })) },
  { method: 'POST', path: '/v1/tally', coordinator: true, handle: async (node, _url, _p, body) => json(await node.tally({ pollId: body.pollId, size: body.size })) },
  // Sealed polls: the public key set, the key ceremony and, after close only, decryption shares.
  { method: 'GET', path: '/v1/threshold', handle: (node) => json(node.thresholdInfo()) },
  { method: 'POST', path: '/v1/threshold/deal', coordinator: true, handle: async (node, _url, _p, body) => json(await node.deal({ epoch: body.epoch, transportKeys: body.transportKeys })) },
  { method: 'POST', path: '/v1/threshold/complete', coordinator: true, handle: async (node, _url, _p, body) => json(await node.completeCeremony({ epoch: body.epoch, dealings: body.dealings })) },
  { method: 'POST', path: '/v1/polls/:pollId/shares', coordinator: true, handle: async (node, _url, [pollId], body) => json(await node.openShares({ pollId: pollId!, size: body.size, batch: body.batch })) },
];

const matchers = NODE_ROUTES.map((r) => ({ route: r, pattern: new RegExp(`^${r.path.replace(/:[a-zA-Z]+/g, '([^/]+)')}$`) }));

async function route(node: LedgerNode, req: IncomingMessage, url: URL, token: string | undefined): Promise<Reply> {
  for (const { route: r, pattern } of matchers) {
    if (r.method !== req.method) continue;
    const m = pattern.exec(url.pathname);
    if (!m) continue;
    const params = m.slice(1).map(segment);
    if (!r.coordinator) return r.handle(node, url, params, {});
    // The token before the body: an unauthorised caller's body is never read.
    if (!authorised(req, token)) return json({ code: 'unauthorised', reason: 'coordinator token required' }, 401);
    return r.handle(node, url, params, await readJson(req));
  }
  return notFound('route');
}

function send(res: ServerResponse, reply: Reply, cors: boolean): void {
  const headers: Record<string, string> = {
    'content-type': reply.text ? 'text/plain; charset=utf-8' : 'application/json',
    'cache-control': 'no-store',
  };
  // The portal reads the public routes straight from the browser.
  if (cors) headers['access-control-allow-origin'] = '*';
  res.writeHead(reply.status, headers);
  res.end(reply.text ? (reply.body as string) : JSON.stringify(reply.body));
}

/** An http.Server serving `node`; coordinator routes need `Authorization: Bearer <token>`. */
export function createNodeServer(node: LedgerNode, token: string | undefined, log: Log): Server {
  return createServer((req, res) => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://node');
    } catch {
      send(res, json({ code: 'bad-request', reason: 'malformed request target' }, 400), false);
      return;
    }
    const cors = req.method === 'GET';
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { 'access-control-allow-origin': '*', 'access-control-allow-methods': 'GET', 'access-control-max-age': '86400' });
      res.end();
      return;
    }
    route(node, req, url, token).then(
      (reply) => send(res, reply, cors),
      (e: unknown) => {
        if (e instanceof NodeError) {
          // Refusals of the coordinator are the operator's first clue; public 404s are not worth a line.
          if (req.method === 'POST') log('refused', { path: url.pathname, status: e.status, code: e.code, reason: e.message });
          send(res, json({ code: e.code, reason: e.message, ...e.extra }, e.status), cors);
        } else if (e instanceof RangeError) {
          send(res, json({ code: 'bad-request', reason: e.message }, 400), cors);
        } else {
          log('request failed', { path: url.pathname, error: e instanceof Error ? e.message : String(e) });
          send(res, json({ code: 'internal', reason: 'internal error' }, 500), cors);
        }
      },
    );
  });
}
