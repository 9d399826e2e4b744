/**
 * The running app's local admin endpoint: how `npm run admin:create` works while `npm start` holds the
 * embedded database (only one process may open a PGlite data directory, see db/dataDirLock.ts). The
 * app listens on a loopback port of its own, outside the public site and its session/CSRF middleware,
 * and writes the port into the data directory's lock file; the CLI reads it there and sends the
 * bearer token kept in `DATA_DIR/local-admin-token` (mode 0600: whoever can read it can read the
 * database files anyway). One route: POST /v1/admins { phone, displayName? } -> { citizenId }.
 * Plain node:http because it is one route that must not pass through the site's middleware.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import { join, resolve } from 'node:path';
import { DomainError } from '../../domain/errors.ts';
import type { Logger } from '../logger.ts';

export const LOCAL_ADMIN_TOKEN_FILE = 'local-admin-token';

/** The token, made once in DATA_DIR. */
export const loadLocalAdminToken = (dataDir: string): string => {
  const file = join(resolve(dataDir), LOCAL_ADMIN_TOKEN_FILE);
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const token = randomBytes(32).toString('hex');
  writeFileSync(file, token, { mode: 0o600 });
  return token;
};

const MAX_BODY = 16 * 1024;

const readBody = async (req: IncomingMessage): Promise<unknown> => {
  let text = '';
  for await (const chunk of req) {
    text += String(chunk);
    if (text.length > MAX_BODY) throw new Error('body too large');
  }
  return JSON.parse(text) as unknown;
};

export interface LocalAdminEndpoint {
  url: string;
  stop(): Promise<void>;
}

export const startLocalAdminEndpoint = async (deps: {
  token: string;
  grantAdmin: (input: { phone: string; displayName?: string; by: string }) => Promise<string>;
  logger: Logger;
}): Promise<LocalAdminEndpoint> => {
  const expected = Buffer.from(`Bearer ${deps.token}`);
  const server = createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    const given = Buffer.from(req.headers.authorization ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return send(401, { error: 'bearer token required' });
    if (req.method !== 'POST' || req.url !== '/v1/admins') return send(404, { error: 'no such route' });
    void (async () => {
      try {
        const body = (await readBody(req)) as { phone?: unknown; displayName?: unknown };
        if (typeof body.phone !== 'string' || (body.displayName !== undefined && typeof body.displayName !== 'string')) {
          return send(400, { error: 'body must be { phone, displayName? }' });
        }
        const citizenId = await deps.grantAdmin({ phone: body.phone, ...(body.displayName ? { displayName: body.displayName } : {}), by: 'cli' });
        // The id only: the number is personal data.
        deps.logger.info({ citizenId }, 'administrator granted through the local admin endpoint');
        send(200, { citizenId });
      } catch (error) {
        if (error instanceof DomainError || error instanceof SyntaxError) send(422, { error: (error as Error).message });
        else {
          deps.logger.error({ err: error }, 'local admin request failed');
          send(500, { error: 'the app could not do it; see its log' });
        }
      }
    })();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
};
