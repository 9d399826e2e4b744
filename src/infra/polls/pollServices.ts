import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { EventStore } from '../../app/eventStore.ts';
import { castBallot } from '../../app/polls/castBallot.ts';
import { commentCommands } from '../../app/polls/commentCommands.ts';
import type { PollCommands } from '../../app/polls/pollCommands.ts';
import { pollResults } from '../../app/polls/pollResults.ts';
import type { PollRow } from '../../app/projections/polls.ts';
import type { Database } from '../db/schema.ts';
import type { ProjectionRunner } from '../projections/runner.ts';
import * as pollQueries from '../readModels/polls.ts';
import { phoneHasher } from '../identity/crypto.ts';
import { newBallotIdentity, voterTagOf } from './ballotIdentity.ts';
import { createPollCache } from './pollCache.ts';
import { memoPerCheckpoint } from '../readModels/checkpointMemo.ts';
import { kstDay } from '../../app/projections/polls.ts';
import { parseVoterRollCsv } from './voterRollCsv.ts';
import { SealingUnavailable } from '../../domain/errors.ts';
import { sealSelections } from '../../ledger/threshold/seal.ts';

export interface PollServiceDeps {
  db: Kysely<Database>;
  eventStore: EventStore;
  projections: ProjectionRunner;
  serverSecret: Buffer;
  now: () => string;
  commands: PollCommands;
  phoneHashOfCitizen: (citizenId: string) => Promise<string | null>;
  ledgerAcceptsPolicyBallots: () => boolean;
  /** The ledger nodes' joint key for sealed ballots; null until their key ceremony ran (or without a ledger). */
  /** The nodes' joint key (a promise while this instance asks the nodes for it); null: none yet. */
  sealingKey: () => { keyId: string; jointKey: string } | null | Promise<{ keyId: string; jointKey: string } | null>;
}

/** The poll use cases bound to their adapters, plus the queries pages and the API read. */
export const buildPolls = (deps: PollServiceDeps) => {
  const { db, eventStore, serverSecret, now } = deps;
  const pollCache = createPollCache(eventStore.readStream);
  // Live charts poll every few seconds from every open page, and every voter loads the poll page
  // before casting: these reads are shared by every request made at the same projection checkpoint.
  const atCheckpoint = <Args extends unknown[], T>(keyOf: (...args: Args) => string, query: (...args: Args) => Promise<T>) =>
    memoPerCheckpoint(deps.projections.checkpoint, keyOf, query);
  const liveCounts = atCheckpoint((poll: PollRow) => poll.pollId, (poll: PollRow) => pollQueries.liveCounts(db, poll.pollId));
  const getPoll = atCheckpoint((pollId: string) => pollId, (pollId: string) => pollQueries.getPoll(db, pollId));
  return {
    // A poll change made here is seen by the next ballot at once; other instances see it within the
    // cache's TTL (the ledger nodes refuse a ballot dated after a close, and the poll then shows failed).
    commands: invalidatingPollCache(deps.commands, pollCache.invalidate),
    cast: castBallot({
      readStream: eventStore.readStream,
      append: eventStore.append,
      loadPoll: pollCache.get,
      voterTagOf: voterTagOf(serverSecret),
      isOnRoll: async (pollId, citizenId) => {
        const phoneHash = await deps.phoneHashOfCitizen(citizenId);
        return phoneHash !== null && pollQueries.isOnVoterRoll(db, pollId, phoneHash);
      },
      isExcluded: async (pollId, citizenId) => {
        const phoneHash = await deps.phoneHashOfCitizen(citizenId);
        return phoneHash !== null && pollQueries.isOnExclusionList(db, pollId, phoneHash);
      },
      claimCapSeat: (pollId, cap) => pollQueries.claimCapSeat(db, pollId, cap),
      releaseCapSeat: (pollId) => pollQueries.releaseCapSeat(db, pollId),
      ledgerAcceptsPolicyBallots: deps.ledgerAcceptsPolicyBallots,
      newBallotIdentity,
      seal: async (context, selections) => {
        const key = await deps.sealingKey();
        if (!key) throw new SealingUnavailable(context.pollId);
        return sealSelections(key, context, selections);
      },
      now,
    }),
    comments: commentCommands({ readStream: eventStore.readStream, append: eventStore.append, now, newId: randomUUID }),
    invalidatePoll: pollCache.invalidate,
    list: (filter: Omit<pollQueries.PollListFilter, 'now'>) => pollQueries.listPolls(db, { ...filter, now: now() }),
    get: getPoll,
    hotPollIds: atCheckpoint((at: string) => kstDay(at), (at: string) => pollQueries.hotPollIds(db, at)),
    listComments: atCheckpoint((pollId: string) => pollId, (pollId: string) => pollQueries.listComments(db, pollId)),
    /** Live counts where the poll allows them; the published tally after close. */
    results: pollResults({ liveCounts, now }),
    parseRoll: (csv: string) => parseVoterRollCsv(csv),
    // The same keyed hash as the one-account-per-number index, so a citizen's phone hash finds them on a roll.
    keyRollPhones: (phones: string[]) => phones.map(phoneHasher(serverSecret)),
    queries: pollQueries,
  };
};

export type Polls = ReturnType<typeof buildPolls>;

/**
 * The poll commands, each followed by dropping the poll from the cast cache. Listed one by one, so a
 * new command fails to compile here until it says whether it changes the poll.
 */
const invalidatingPollCache = (commands: PollCommands, invalidate: (pollId: string) => void): PollCommands => {
  const thenInvalidate =
    <A extends unknown[], R>(command: (pollId: string, ...rest: A) => Promise<R>) =>
    async (pollId: string, ...rest: A): Promise<R> => {
      try {
        return await command(pollId, ...rest);
      } finally {
        invalidate(pollId);
      }
    };
  return {
    // A new poll is in no cache yet; a launched one may be by the time it has opened.
    create: commands.create,
    launch: async (definition, by) => {
      const pollId = await commands.launch(definition, by);
      invalidate(pollId);
      return pollId;
    },
    updateDraft: thenInvalidate(commands.updateDraft),
    schedule: thenInvalidate(commands.schedule),
    open: thenInvalidate(commands.open),
    close: thenInvalidate(commands.close),
    publishResult: thenInvalidate(commands.publishResult),
    postReflection: thenInvalidate(commands.postReflection),
    updateReflection: thenInvalidate(commands.updateReflection),
    setOnSitePlace: thenInvalidate(commands.setOnSitePlace),
    addVoterRoll: thenInvalidate(commands.addVoterRoll),
    addExclusions: thenInvalidate(commands.addExclusions),
  };
};
