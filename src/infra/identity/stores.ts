import { randomBytes } from 'node:crypto';
import { CompiledQuery, sql, type Kysely } from 'kysely';
import { RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import type { AttemptResult, CitizenVault, HitRateLimit, OtpStore } from '../../app/identity/ports.ts';
import type { Database } from '../db/schema.ts';
import { decryptBlob, encryptBlob } from './crypto.ts';

/** Per-citizen AES-256-GCM keys in `citizen_keys`. No cache: a forgotten key must be gone on every instance. */
export const createVault = (db: Kysely<Database>): CitizenVault => {
  const keyOf = async (citizenId: string): Promise<Buffer | null> => {
    const row = await db.selectFrom('citizen_keys').select('key_hex').where('citizen_id', '=', citizenId).executeTakeFirst();
    return row ? Buffer.from(row.key_hex, 'hex') : null;
  };
  return {
    ensureKey: async (citizenId) => {
      await db.insertInto('citizen_keys').values({ citizen_id: citizenId, key_hex: randomBytes(32).toString('hex') }).onConflict((oc) => oc.column('citizen_id').doNothing()).execute();
    },
    encrypt: async (citizenId, plaintext) => {
      const key = await keyOf(citizenId);
      if (!key) throw new Error(`citizen ${citizenId} has no key`);
      return encryptBlob(key, plaintext);
    },
    decrypt: async (citizenId, blob) => {
      const key = await keyOf(citizenId);
      return key ? decryptBlob(key, blob) : null;
    },
    forget: async (citizenId) => void (await db.deleteFrom('citizen_keys').where('citizen_id', '=', citizenId).execute()),
  };
};

/** One-time codes in `otp_challenges`, one row per number; attempts are counted in one UPDATE. */
export const createOtpStore = (db: Kysely<Database>): OtpStore => ({
  save: async (phoneHash, codeHash, expiresAt, maxAttempts) => {
    const row = { code_hash: codeHash, expires_at: expiresAt, attempts_left: maxAttempts };
    await db.insertInto('otp_challenges').values({ phone_hash: phoneHash, ...row }).onConflict((oc) => oc.column('phone_hash').doUpdateSet(row)).execute();
  },
  attempt: async (phoneHash, codeHash, now): Promise<AttemptResult> => {
    // A right code consumes the challenge in the same statement, so two concurrent tries cannot both win.
    const consumed = await db
      .deleteFrom('otp_challenges')
      .where('phone_hash', '=', phoneHash)
      .where('code_hash', '=', codeHash)
      .where('attempts_left', '>', 0)
      .where('expires_at', '>', now)
      .returning('phone_hash')
      .executeTakeFirst();
    if (consumed) return 'ok';
    const counted = await db
      .updateTable('otp_challenges')
      .set((eb) => ({ attempts_left: eb(eb.ref('attempts_left'), '-', 1) }))
      .where('phone_hash', '=', phoneHash)
      .where('attempts_left', '>', 0)
      .where('expires_at', '>', now)
      .returning('attempts_left')
      .executeTakeFirst();
    if (counted) return 'wrong';
    const row = await db.selectFrom('otp_challenges').select(['expires_at', 'attempts_left']).where('phone_hash', '=', phoneHash).executeTakeFirst();
    if (!row) return 'none';
    return row.expires_at <= now ? 'expired' : 'too-many';
  },
});

/**
 * Rate limits with rate-limiter-flexible's PostgreSQL store (table `rate_limiter`, made by migration
 * 0007), so limits hold across app instances: one atomic upsert per hit. Keys are hashed by the
 * caller's `hashKey` (no raw addresses or numbers stored). The library speaks node-postgres' query
 * shape; `kyselyQueryClient` runs those statements through kysely, so the same store works on
 * PostgreSQL and on embedded PGlite, over the app's own pool.
 */
export const createRateLimiter = (db: Kysely<Database>, hashKey: (key: string) => string): HitRateLimit => {
  const storeClient = kyselyQueryClient(db);
  // One limiter per (limit, window): the library fixes both at construction. There are two today.
  const limiters = new Map<string, RateLimiterPostgres>();
  const limiterFor = (limit: number, windowSeconds: number): RateLimiterPostgres => {
    const id = `${limit}/${windowSeconds}`;
    let limiter = limiters.get(id);
    if (!limiter) {
      limiter = new RateLimiterPostgres({
        storeClient,
        storeType: 'pool',
        tableName: 'rate_limiter',
        tableCreated: true,
        // Expired rows are swept by the library every 5 minutes (unref'd timer).
        clearExpiredByTimeout: true,
        keyPrefix: `rl${id}`,
        points: limit,
        duration: windowSeconds,
      });
      limiters.set(id, limiter);
    }
    return limiter;
  };
  return async (key, limit, windowSeconds) => {
    try {
      await limiterFor(limit, windowSeconds).consume(hashKey(key));
      return true;
    } catch (rejection) {
      // The library rejects with a RateLimiterRes when the limit is reached, and with an Error when the
      // store failed: only the first is a refusal.
      if (rejection instanceof RateLimiterRes) return false;
      throw rejection;
    }
  };
};

/** The node-postgres client shape rate-limiter-flexible calls (`query({ text, values })` -> `{ rows, rowCount }`). */
const kyselyQueryClient = (db: Kysely<Database>) => ({
  query: async (q: { text: string; values?: unknown[] }) => {
    const result = await db.executeQuery(CompiledQuery.raw(q.text, q.values ?? []));
    const rows = result.rows as Record<string, unknown>[];
    return { rows, rowCount: result.numAffectedRows !== undefined ? Number(result.numAffectedRows) : rows.length };
  },
});
