import { sql, type Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';

/**
 * The koa-session external store: sessions in PostgreSQL (`sessions`), so they survive restarts and
 * are shared by every app instance. `citizen_id` is a column so that account deletion can end every
 * session of a citizen.
 */
export const createSessionStore = (db: Kysely<Database>) => ({
  async get(key: string): Promise<Record<string, unknown> | undefined> {
    const row = await db.selectFrom('sessions').select(['data', 'expires_at']).where('id', '=', key).executeTakeFirst();
    if (!row || row.expires_at.getTime() <= Date.now()) return undefined;
    return row.data;
  },
  async set(key: string, session: Record<string, unknown>, maxAge: number): Promise<void> {
    const expires = new Date(Date.now() + (typeof maxAge === 'number' ? maxAge : 86_400_000));
    const values = { data: JSON.stringify(session), citizen_id: typeof session.citizenId === 'string' ? session.citizenId : null, expires_at: expires };
    const inserted = await db
      .insertInto('sessions')
      .values({ id: key, ...values })
      .onConflict((oc) => oc.column('id').doUpdateSet(values))
      .returning(sql<boolean>`xmax = 0`.as('created'))
      .executeTakeFirstOrThrow();
    // Each new session sweeps a few expired ones, so the table needs no separate janitor.
    if (inserted.created) await sql`DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE expires_at < now() LIMIT 100)`.execute(db);
  },
  async destroy(key: string): Promise<void> {
    await db.deleteFrom('sessions').where('id', '=', key).execute();
  },
});

/** Ends every session of a citizen. */
export const revokeSessionsOf = (db: Kysely<Database>) => async (citizenId: string): Promise<void> => {
  await db.deleteFrom('sessions').where('citizen_id', '=', citizenId).execute();
};
