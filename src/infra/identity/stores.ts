import { randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
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
      .set({ attempts_left: sql`attempts_left - 1` })
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
 * Fixed-window counters in PostgreSQL (`rate_limits`), so limits hold across app instances. Keys are
 * hashed by the caller's `hashKey` (no raw addresses or numbers stored).
 */
export const createRateLimiter = (db: Kysely<Database>, hashKey: (key: string) => string): HitRateLimit => async (key, limit, windowSeconds, now) => {
  const windowMs = windowSeconds * 1000;
  const windowStart = new Date(Math.floor(now.getTime() / windowMs) * windowMs);
  const hashed = hashKey(key);
  const row = await db
    .insertInto('rate_limits')
    .values({ key: hashed, window_start: windowStart, hits: 1 })
    .onConflict((oc) => oc.columns(['key', 'window_start']).doUpdateSet({ hits: sql`rate_limits.hits + 1` }))
    .returning('hits')
    .executeTakeFirstOrThrow();
  // Earlier windows of this key are dead weight: drop them on the way.
  await db.deleteFrom('rate_limits').where('key', '=', hashed).where('window_start', '<', windowStart).execute();
  return row.hits <= limit;
};
