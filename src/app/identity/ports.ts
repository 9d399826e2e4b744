/**
 * Ports of the identity use cases, as function types. Infra implements them (src/infra/identity, sms).
 */

/** Sends one SMS. Rejects when the gateway did not accept it. */
export type SendSms = (toE164: string, text: string) => Promise<void>;

/** HMAC-SHA256(serverSecret, E.164), hex: the stable, keyed pseudonym of a number (voter rolls use it too). */
export type PhoneHashOf = (e164: string) => string;

/**
 * Counts one hit against `key` and says whether it is within `limit` hits per window of `windowSeconds`
 * (the window starts at the key's first hit). Shared by every app instance (the counts live in the database).
 */
export type HitRateLimit = (key: string, limit: number, windowSeconds: number) => Promise<boolean>;

export type AttemptResult = 'ok' | 'wrong' | 'expired' | 'too-many' | 'none';

/** One-time codes: only a keyed hash of the code is stored. */
export interface OtpStore {
  /** Replaces any earlier challenge for the number. */
  save(phoneHash: string, codeHash: string, expiresAt: Date, maxAttempts: number): Promise<void>;
  /** Counts one attempt atomically; 'ok' consumes the challenge, so a code works once. */
  attempt(phoneHash: string, codeHash: string, now: Date): Promise<AttemptResult>;
}

/** Per-citizen encryption of personal data (AES-256-GCM), with the key kept outside the event store. */
export interface CitizenVault {
  /** Makes the citizen's key if it does not exist yet (idempotent). */
  ensureKey(citizenId: string): Promise<void>;
  encrypt(citizenId: string, plaintext: string): Promise<string>;
  /** null when the key is gone (the citizen was forgotten) or the blob does not decrypt. */
  decrypt(citizenId: string, blob: string): Promise<string | null>;
  /** Deletes the key: every blob of this citizen becomes unreadable for good. */
  forget(citizenId: string): Promise<void>;
}

/** Ends every session of a citizen (account deletion). */
export type RevokeSessions = (citizenId: string) => Promise<void>;
