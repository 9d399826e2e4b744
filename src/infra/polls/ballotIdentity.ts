import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { ballotTrackerCode } from '../../ledger/entry.ts';
import { nodeSha256 } from '../../ledger/nodeCrypto.ts';
import type { BallotIdentity } from '../../app/polls/castBallot.ts';

/**
 * HMAC-SHA256(serverSecret, pollId || 0x00 || citizenId): the per-poll voter tag. The separator keeps
 * ("ab","c") and ("a","bc") apart; without the secret nobody can link one citizen's tags across polls.
 */
export const voterTagOf = (secret: Buffer) => (pollId: string, citizenId: string): string =>
  createHmac('sha256', secret).update(pollId).update('\u0000').update(citizenId).digest('hex');

export const newBallotIdentity = (): BallotIdentity => {
  const eventId = randomUUID();
  const salt = randomBytes(32).toString('hex');
  return { ballotId: randomUUID(), eventId, salt, tracker: ballotTrackerCode(salt, eventId, nodeSha256) };
};
