import type { ColumnType, Generated } from 'kysely';

/** Sign-in state that is not an event: codes, rate-limit windows, sessions, keys, the dev SMS outbox. */
export interface CitizenKeysTable {
  citizen_id: string;
  key_hex: string;
  created_at: ColumnType<Date, never, never>;
}

export interface OtpChallengesTable {
  phone_hash: string;
  code_hash: string;
  expires_at: Date;
  attempts_left: number;
}

/** rate-limiter-flexible's PostgreSQL store (`expire` in epoch milliseconds; int8 arrives as a string). */
export interface RateLimiterTable {
  key: string;
  points: number;
  expire: ColumnType<string | null, number | null, number | null>;
}

export interface SessionsTable {
  id: string;
  data: ColumnType<Record<string, unknown>, string, string>;
  citizen_id: string | null;
  expires_at: Date;
}

export interface SmsOutboxTable {
  id: Generated<string>;
  to_e164: string;
  body: string;
  created_at: ColumnType<Date, never, never>;
}

export interface IdentityTables {
  citizen_keys: CitizenKeysTable;
  otp_challenges: OtpChallengesTable;
  rate_limiter: RateLimiterTable;
  sessions: SessionsTable;
  sms_outbox: SmsOutboxTable;
}
