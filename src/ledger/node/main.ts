/**
 * `npm run ledger-node -- --id N [--port P] [--host H] [--data-dir D] [--peers URL,URL,URL] [--origin O]
 * [--token T] [--keys VKEY,VKEY,VKEY]`. Prints one JSON line `{"ready":true,"nodeId","port","verifierKey"}`
 * on stdout once listening (port 0 picks a free port; the line gives the real one); logs go to stderr.
 */
import { parseArgs } from 'node:util';
import { LedgerNode } from './ledgerNode.ts';
import { createNodeServer } from './server.ts';
import { PORT_IN_USE_EXIT_CODE } from './exitCodes.ts';
import type { Log } from './store.ts';
import { useServerCrypto } from '../threshold/serverCrypto.ts';

const { values } = parseArgs({
  options: {
    id: { type: 'string' },
    port: { type: 'string' },
    host: { type: 'string' },
    'data-dir': { type: 'string' },
    peers: { type: 'string' },
    origin: { type: 'string' },
    token: { type: 'string' },
    keys: { type: 'string' },
  },
});

const id = Number(values.id);
if (!Number.isInteger(id) || id < 1 || id > 4) {
  console.error('usage: ledger-node --id N (1..4) [--port P] [--data-dir D] [--peers URLS] [--origin O] [--token T] [--keys VKEYS]');
  process.exit(2);
}
const list = (v: string | undefined): string[] => (v ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');

const log: Log = (msg, fields = {}) => {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), node: id, msg, ...fields })}\n`);
};

// Decryption shares multiply with libsodium's WebAssembly build (same bytes, ten times faster); hashes
// and the sealed ballots' check use node:crypto and libsodium too.
await useServerCrypto();

const node = new LedgerNode({
  id,
  dataDir: values['data-dir'] ?? `./data/ledger-node-${id}`,
  origin: values.origin ?? 'civic-vote.local/ledger',
  peers: list(values.peers ?? process.env.LEDGER_PEERS),
  keys: list(values.keys ?? process.env.LEDGER_KEYS),
  log,
});
const token = values.token ?? process.env.LEDGER_COORDINATOR_TOKEN;
if (!token) log('no coordinator token (--token or LEDGER_COORDINATOR_TOKEN): this node will sign nothing');

const server = createNodeServer(node, token, log);
server.on('error', (error: NodeJS.ErrnoException) => {
  // Said plainly, with its own exit code, so the supervisor can say it too (localCluster.ts).
  if (error.code === 'EADDRINUSE') {
    log('cannot listen: the port is held by another process (a ledger node left running from an earlier start?)', { port: values.port, code: error.code });
    node.close();
    process.exit(PORT_IN_USE_EXIT_CODE);
  }
  log('cannot listen', { port: values.port, code: error.code, error: error.message });
  process.exit(1);
});
server.listen(Number(values.port ?? 0), values.host ?? '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  process.stdout.write(`${JSON.stringify({ ready: true, nodeId: id, port, verifierKey: node.verifierKey })}\n`);
  log('listening', { port, size: node.size });
  // Learn peers' keys and any final checkpoint missed while down, without delaying readiness.
  void node.refreshPeerKeys().then(() => node.catchUp());
});

const shutdown = (): void => {
  server.close();
  node.close();
  process.exit(0);
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
// Started by localCluster with a pipe on stdin: when the parent dies, however it dies, the pipe closes.
if (process.env.LEDGER_NODE_EXIT_WITH_PARENT === '1') {
  process.stdin.on('close', shutdown);
  process.stdin.on('end', shutdown);
  process.stdin.resume();
}
