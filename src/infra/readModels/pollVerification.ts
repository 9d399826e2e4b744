import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.ts';
import type { VerificationStatus } from '../ledger/tables.ts';

/**
 * The "Blockchain verification" badge of each poll, written by the ledger services
 * (src/infra/ledger/verification.ts) and read by poll cards and pages.
 *
 * - `pending`: not (yet) verified: entries still waiting for a final checkpoint, result not published
 *   or not yet anchored, or fewer than 3 nodes have signed a tally equal to the published result.
 * - `completed`: at least 3 ledger nodes tallied the poll from their own copies and signed the result the
 *   app published, and the app's events and read model still agree with what was anchored.
 * - `failed`: 2 or more nodes signed a different result, or the app's events or read-model tally no
 *   longer match what the ledger holds (an edited or deleted event). Sticky: it never goes back.
 */
export type { VerificationStatus };

export interface PollVerification {
  pollId: string;
  status: VerificationStatus;
  /** Plain English for operators; never personal data. */
  detail: string;
  updatedAt: Date;
}

/** A poll_verification row as the database returns it. */
export interface VerificationRow {
  poll_id: string;
  status: VerificationStatus;
  detail: string;
  updated_at: Date | string;
}

export const toVerification = (r: VerificationRow): PollVerification => ({ pollId: r.poll_id, status: r.status, detail: r.detail, updatedAt: new Date(r.updated_at) });

/** A poll's verification; a poll the ledger services have not looked at yet is `pending`. */
export const getVerification = async (db: Kysely<Database>, pollId: string): Promise<PollVerification> => {
  const row = await db.selectFrom('poll_verification').select(['poll_id', 'status', 'detail', 'updated_at']).where('poll_id', '=', pollId).executeTakeFirst();
  return row ? toVerification(row) : { pollId, status: 'pending', detail: '', updatedAt: new Date(0) };
};
