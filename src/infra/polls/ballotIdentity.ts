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

/**
 * Salts come from one 8 KiB draw of the system CSPRNG shared by 256 ballots (randomUUID batches its
 * own draws the same way): a `randomBytes` call per ballot cost more than the 32 bytes it returned.
 * Each salt is a distinct slice, used once; the pool is refilled when spent.
 */
const SALT_BYTES = 32;
const SALT_POOL = 256 * SALT_BYTES;
let saltPool = Buffer.alloc(0);
let saltAt = SALT_POOL;
const nextSalt = (): string => {
  if (saltAt >= saltPool.length) {
    saltPool = randomBytes(SALT_POOL);
    saltAt = 0;
  }
  const salt = saltPool.toString('hex', saltAt, saltAt + SALT_BYTES);
  saltAt += SALT_BYTES;
  return salt;
};

export const newBallotIdentity = (): BallotIdentity => {
  const eventId = randomUUID();
  const salt = nextSalt();
  return { ballotId: randomUUID(), eventId, salt, tracker: ballotTrackerCode(salt, eventId, nodeSha256) };
};
