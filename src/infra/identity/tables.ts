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

export interface RateLimitsTable {
  key: string;
  window_start: Date;
  hits: number;
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
  rate_limits: RateLimitsTable;
  sessions: SessionsTable;
  sms_outbox: SmsOutboxTable;
}
