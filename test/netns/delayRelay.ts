/**
 * `tsx test/netns/delayRelay.ts <listen host> <listen port> <target host> <target port> <delay ms>`:
 * a TCP relay that holds every chunk `delay ms` in each direction, order kept; prints "ready" when
 * listening. The network test puts it in front of a ledger node, inside the node's namespace, only where
 * the kernel has no `tc netem` (CONFIG_NET_SCH_NETEM unset, as on some VM kernels): no other way to add
 * latency exists there, and no Debian package does this one job (toxiproxy is not packaged).
 */
import { connect, createServer, type Socket } from 'node:net';

const [listenHost, listenPort, targetHost, targetPort, delay] = process.argv.slice(2);
const delayMs = Number(delay);

/** Writes what `from` sends to `to`, each chunk `delayMs` later; the end follows the last chunk. */
const delayed = (from: Socket, to: Socket) => {
  from.on('data', (chunk) => setTimeout(() => to.writable && to.write(chunk), delayMs));
  from.on('end', () => setTimeout(() => to.end(), delayMs));
  from.on('error', () => to.destroy());
  from.on('close', () => setTimeout(() => to.destroy(), delayMs + 10));
};

const server = createServer((client) => {
  const upstream = connect(Number(targetPort), targetHost);
  delayed(client, upstream);
  delayed(upstream, client);
});
server.listen(Number(listenPort), listenHost, () => process.stdout.write('ready\n'));
// Ends with its parent (the test holds a pipe on stdin), however the parent ends.
process.stdin.on('close', () => process.exit(0));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
process.on('SIGTERM', () => process.exit(0));
