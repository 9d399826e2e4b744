import type { Kysely } from 'kysely';
import type { SendSms } from '../../app/identity/ports.ts';
import type { Database } from '../db/schema.ts';

/**
 * The development SMS adapter: messages go to the `sms_outbox` table and the /dev/sms page instead of
 * a phone. Config refuses it in production (src/infra/config.ts).
 */
export const outboxSms = (db: Kysely<Database>): SendSms => async (toE164, text) => {
  await db.insertInto('sms_outbox').values({ to_e164: toE164, body: text }).execute();
};

export interface OutboxMessage {
  to: string;
  text: string;
  sentAt: Date;
}

/** The newest messages first; with `to`, only those sent to that E.164 number (tests read codes here). */
export const readOutbox = async (db: Kysely<Database>, options: { to?: string; limit?: number } = {}): Promise<OutboxMessage[]> => {
  let query = db.selectFrom('sms_outbox').select(['to_e164', 'body', 'created_at']).orderBy('id', 'desc').limit(options.limit ?? 50);
  if (options.to) query = query.where('to_e164', '=', options.to);
  return (await query.execute()).map((r) => ({ to: r.to_e164, text: r.body, sentAt: r.created_at }));
};

/** The last 6-digit code sent to a number, or null. */
export const lastCodeSentTo = async (db: Kysely<Database>, toE164: string): Promise<string | null> => {
  const [message] = await readOutbox(db, { to: toE164, limit: 1 });
  return message?.text.match(/\b(\d{6})\b/)?.[1] ?? null;
};
