/**
 * The ledger node's HTTP API (docs/ledger-protocol.md) on plain node:http: a dozen fixed routes do not
 * need a framework, and the node stays small enough to audit.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import { normalizeTracker } from '../entry.ts';
import { NodeError, type LedgerNode } from './ledgerNode.ts';
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

async function route(node: LedgerNode, req: IncomingMessage, url: URL, token: string | undefined): Promise<Reply> {
  const path = url.pathname;
  if (req.method === 'GET') {
    if (path === '/v1/info') return json(node.info());
    if (path === '/v1/checkpoint') {
      const note = node.latestCheckpoint();
      return note ? text(note) : notFound('final checkpoint');
    }
    let m = /^\/v1\/checkpoint\/(0|[1-9][0-9]*)$/.exec(path);
    if (m) {
      const note = node.checkpointAt(Number(m[1]));
      return note ? text(note) : notFound('checkpoint at that size');
    }
    if (path === '/v1/signed') return json({ checkpoints: node.signedCheckpoints() });
    if (path === '/v1/entries') return json({ entries: node.entries(intParam(url, 'start'), intParam(url, 'end')) });
    if (path === '/v1/proof/inclusion') {
      const [index, size] = [intParam(url, 'index'), intParam(url, 'size')];
      return json({ index, size, proof: node.inclusionProof(index, size) });
    }
    if (path === '/v1/proof/consistency') {
      const [from, to] = [intParam(url, 'from'), intParam(url, 'to')];
      return json({ from, to, proof: node.consistencyProof(from, to) });
    }
    m = /^\/v1\/tracker\/([^/]+)$/.exec(path);
    if (m) {
      const tracker = normalizeTracker(decodeURIComponent(m[1]!));
      const receipt = tracker ? node.receipt(tracker) : null;
      return receipt ? json(receipt) : notFound('tracker');
    }
    m = /^\/v1\/polls\/([^/]+)\/(entries|tally)$/.exec(path);
    if (m) {
      const pollId = decodeURIComponent(m[1]!);
      if (m[2] === 'entries') return json({ pollId, entries: node.pollEntries(pollId) });
      const tally = node.tallyOf(pollId);
      return tally ? json(tally) : notFound('tally of that poll');
    }
    return notFound('route');
  }
  if (req.method === 'POST' && ['/v1/propose', '/v1/finalize', '/v1/tally'].includes(path)) {
    if (!authorised(req, token)) return json({ code: 'unauthorised', reason: 'coordinator token required' }, 401);
    const body = await readJson(req);
    if (path === '/v1/propose') return json(await node.propose({ start: body.start, entries: body.entries, checkpoint: body.checkpoint }));
    if (path === '/v1/finalize') return json(await node.finalize({ note: body.note }));
    return json(await node.tally({ pollId: body.pollId, size: body.size }));
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
    const url = new URL(req.url ?? '/', 'http://node');
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
