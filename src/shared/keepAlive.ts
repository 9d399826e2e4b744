import type { Server } from 'node:http';

/**
 * How long an idle keep-alive connection stays open. Node's default (5 s) races every client that reuses
 * a connection near that mark: the server closes it as the next request goes out, and the client sees
 * "socket hang up" for a request that was never read (nodejs/node#47130, #52649). It happened to ballots
 * in the CI-sized load test on a starved machine. A proxy in front (nginx, a cloud load balancer) keeps
 * upstream connections idle up to 60 s, so the server must wait longer than that; headers get one second
 * more, as Node requires headersTimeout > keepAliveTimeout for reused connections.
 */
export const KEEP_ALIVE_TIMEOUT_MS = 65_000;

export const keepConnectionsBeyondProxies = (server: Server): void => {
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = KEEP_ALIVE_TIMEOUT_MS + 1000;
};
