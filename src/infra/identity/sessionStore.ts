import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';
import { sessionsWithRoles, type CitizenRoles } from '../readModels/citizens.ts';
import { createBatchLoader } from './batchLoader.ts';

/** How long a session read is reused in this process. Another instance's sign-out reaches here within it. */
export const SESSION_CACHE_MS = 1000;

/**
 * The koa-session external store: sessions in PostgreSQL (`sessions`), so they survive restarts and
 * are shared by every app instance. `citizen_id` is a column so that account deletion can end every
 * session of a citizen.
 */
export const createSessionStore = (
  db: Kysely<Database>,
  options: {
    cacheMs?: number;
    /**
     * Gets each loaded session's citizen roles (read in the same query), so the user look-up needs no
     * query of its own; `before` is called just before the query (to detect a cache clear meanwhile).
     */
    citizenRoles?: { before: () => number; loaded: (citizenId: string, roles: CitizenRoles | undefined, token: number) => void };
  } = {},
) => {
  // Concurrent reads go as one `id = ANY(...)` query; a row is reused for `cacheMs` (writes and deletes
  // made here replace or drop it at once; another instance's sign-out is seen here within `cacheMs`).
  const rows = createBatchLoader<{ data: Record<string, unknown>; expiresAt: number }>(
    async (keys) => {
      const token = options.citizenRoles?.before() ?? 0;
      const found = await sessionsWithRoles(db, keys);
      for (const r of found) if (r.citizenId !== null) options.citizenRoles?.loaded(r.citizenId, r.citizen, token);
      return new Map(found.map((r) => [r.id, { data: r.data, expiresAt: r.expiresAt.getTime() }]));
    },
    { ttlMs: options.cacheMs ?? SESSION_CACHE_MS },
  );
  return {
    async get(key: string): Promise<Record<string, unknown> | undefined> {
      const row = await rows.load(key);
      if (!row || row.expiresAt <= Date.now()) return undefined;
      // A copy: koa-session's session object must not share state with the cache or other requests.
      return { ...row.data };
    },
    async set(key: string, session: Record<string, unknown>, maxAge: number): Promise<void> {
      rows.invalidate(key);
      const expires = new Date(Date.now() + (typeof maxAge === 'number' ? maxAge : 86_400_000));
      const values = { data: JSON.stringify(session), citizen_id: typeof session.citizenId === 'string' ? session.citizenId : null, expires_at: expires };
      const inserted = await db
        .insertInto('sessions')
        .values({ id: key, ...values })
        .onConflict((oc) => oc.column('id').doUpdateSet(values))
        .returning(sql<boolean>`xmax = 0`.as('created'))
        .executeTakeFirstOrThrow();
      // Each new session sweeps a few expired ones, so the table needs no separate janitor.
      // Raw SQL: DELETE with a LIMITed subquery on the same table (PostgreSQL has no DELETE ... LIMIT).
      if (inserted.created) await sql`DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE expires_at < now() LIMIT 100)`.execute(db);
      rows.prime(key, { data: JSON.parse(values.data) as Record<string, unknown>, expiresAt: expires.getTime() });
    },
    async destroy(key: string): Promise<void> {
      rows.invalidate(key);
      await db.deleteFrom('sessions').where('id', '=', key).execute();
      rows.invalidate(key);
    },
    /** Drops every cached session (after revoking a citizen's sessions in this process). */
    forgetAll: (): void => rows.clear(),
  };
};

/** Ends every session of a citizen. */
export const revokeSessionsOf = (db: Kysely<Database>) => async (citizenId: string): Promise<void> => {
  await db.deleteFrom('sessions').where('citizen_id', '=', citizenId).execute();
};
