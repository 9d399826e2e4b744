import { ballotDecider, ballotStreamId, isSealedPoll, type BallotCommand, type BallotEvent, type SealedChoices } from '../../domain/ballot.ts';
import { LedgerUnavailable, PollNotFound } from '../../domain/errors.ts';
import type { LatLng } from '../../domain/geo.ts';
import { pollStatusAt, type PollState } from '../../domain/poll.ts';
import type { BallotSelections } from '../../domain/pollDefinition.ts';
import { handleCommand, type CommandAttempt } from '../commandHandler.ts';
import type { AppendToStream, ReadStream } from '../eventStore.ts';

/** A fresh ballot identity: ids, the 32-byte salt and the tracker derived from them (infra: random + ledger). */
export interface BallotIdentity {
  ballotId: string;
  eventId: string;
  salt: string;
  tracker: string;
}

export interface CastBallotDeps {
  readStream: ReadStream;
  append: AppendToStream;
  /** The poll's current state (may be cached for a moment; the close time is re-checked from the clock). */
  loadPoll: (pollId: string) => Promise<Extract<PollState, { pollId: string }> | null>;
  voterTagOf: (pollId: string, citizenId: string) => string;
  isOnRoll: (pollId: string, citizenId: string) => Promise<boolean>;
  /** Whether the citizen's keyed phone hash is on the poll's exclusion list; asked only of polls that have one. */
  isExcluded: (pollId: string, citizenId: string) => Promise<boolean>;
  /** Atomically takes one of the poll's first-come seats; false when all are taken. */
  claimCapSeat: (pollId: string, cap: number) => Promise<boolean>;
  releaseCapSeat: (pollId: string) => Promise<void>;
  /** False while fewer than 3 ledger nodes could sign for longer than the configured grace. */
  ledgerAcceptsPolicyBallots: () => boolean;
  newBallotIdentity: () => BallotIdentity;
  /**
   * Seals a sealed poll's choices to the ledger nodes' joint key (throws SealingUnavailable without
   * one). The plaintext goes no further than this call and the decider.
   */
  seal: (context: { pollId: string; voterTag: string; ballotId: string }, selections: BallotSelections) => SealedChoices | Promise<SealedChoices>;
  now: () => string;
}

export interface CastBallotInput {
  pollId: string;
  citizenId: string;
  selections: BallotSelections;
  location?: LatLng;
}

/** What was stored; a sealed poll's result carries `sealed`, never the choices. */
export type CastBallotResult = BallotEvent['data'] & { eventId: string };

/** How many times a ballot is decided in all while other writers to the voter's stream keep winning. */
const CAST_ATTEMPTS = 5;

/**
 * Casts a ballot through the command handler's first-write fast path: the first ballot of a voter is
 * appended with `no_stream` without reading the stream (one round trip; the stream is almost always
 * new). A conflict means the voter already has a ballot: the stream is then read and the decider says
 * AlreadyVoted, or, where re-voting is on, replaces it.
 * A first-come seat is claimed before the append and released if the ballot is not stored, so the cap
 * can be under-filled by a crash but never exceeded.
 */
export const castBallot = (deps: CastBallotDeps) => async (input: CastBallotInput): Promise<CastBallotResult> => {
  const poll = await deps.loadPoll(input.pollId);
  if (!poll) throw new PollNotFound(input.pollId);
  const { definition } = poll;
  if (definition.kind === 'policy' && !deps.ledgerAcceptsPolicyBallots()) throw new LedgerUnavailable(input.pollId);
  const voterTag = deps.voterTagOf(input.pollId, input.citizenId);
  const streamId = ballotStreamId(input.pollId, voterTag);
  const [onRoll, excluded] = await Promise.all([
    definition.settings.voterRollRequired ? deps.isOnRoll(input.pollId, input.citizenId) : undefined,
    poll.exclusionChunks > 0 ? deps.isExcluded(input.pollId, input.citizenId) : undefined,
  ]);
  const cap = definition.settings.firstComeCap;

  const { events, eventIds } = await handleCommand(
    deps,
    ballotDecider,
    streamId,
    async (state): Promise<CommandAttempt<BallotCommand>> => {
      const now = deps.now();
      const identity = deps.newBallotIdentity();
      const sealed = isSealedPoll(definition) ? await deps.seal({ pollId: input.pollId, voterTag, ballotId: identity.ballotId }, input.selections) : undefined;
      const needsSeat = cap !== undefined && state.status === 'NotCast';
      const seat = needsSeat ? await deps.claimCapSeat(input.pollId, cap) : false;
      return {
        command: {
          type: 'CastBallot',
          data: {
            pollId: input.pollId,
            voterTag,
            ballotId: identity.ballotId,
            selections: input.selections,
            ...(sealed ? { sealed } : {}),
            salt: identity.salt,
            tracker: identity.tracker,
            now,
            poll: { definition, status: pollStatusAt(poll, now) },
            eligibility: { onRoll, excluded, location: input.location, capReached: needsSeat && !seat },
          },
        },
        eventIds: [identity.eventId],
        ...(seat ? { undo: () => deps.releaseCapSeat(input.pollId) } : {}),
      };
    },
    { expectNewStream: true, attempts: CAST_ATTEMPTS, metadata: { citizenId: input.citizenId } },
  );
  const [event] = events;
  const [eventId] = eventIds;
  if (!event || !eventId) throw new Error(`the ballot decider stored nothing for ${streamId}`);
  return { ...event.data, eventId };
};
