import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import Koa from 'koa';
import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import pg from 'pg';

/**
 * The floor the issue measures casting against: a bare koa server whose ballot route parses the JSON
 * body and runs one INSERT (its own transaction, durable commit) per request. No session, no CSRF, no
 * poll check, no voter tag, no one-ballot-per-voter rule. It answers the same route as the app so that
 * the same load runner drives both.
 */
export const startCastBaseline = async (databaseUrl: string, poolSize: number): Promise<{ url: string; stop(): Promise<void> }> => {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: poolSize });
  // The bench drops its database at the end (DROP ... WITH FORCE): idle connections then end with
  // 57P01, which must not crash the run.
  pool.on('error', () => {});
  await pool.query('CREATE TABLE IF NOT EXISTS baseline_ballots (id uuid PRIMARY KEY, poll_id text NOT NULL, data jsonb NOT NULL, cast_at timestamptz NOT NULL DEFAULT now())');
  const router = new Router();
  router.post('/api/polls/:pollId/ballots', async (ctx) => {
    const id = randomUUID();
    await pool.query('INSERT INTO baseline_ballots (id, poll_id, data) VALUES ($1, $2, $3)', [id, ctx.params.pollId, JSON.stringify(ctx.request.body)]);
    ctx.status = 201;
    ctx.body = { ballotId: id };
  });
  const app = new Koa();
  app.use(bodyParser()).use(router.routes());
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    stop: async () => {
      await new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      await pool.end();
    },
  };
};
