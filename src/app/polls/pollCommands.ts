import { IllegalPollTransition, PollNotFound } from '../../domain/errors.ts';
import { MAX_VOTER_ROLL_CHUNK, pollDecider, pollStreamId, type Actor, type PollCommand, type Reflection, type SystemActor } from '../../domain/poll.ts';
import type { OnSitePlace, PollDefinition } from '../../domain/pollDefinition.ts';
import { tallyPoll, type PollTally, type TallyBallot } from '../../domain/tally.ts';
import { handleCommand, type CommandAttempt, type CommandHandlerDeps } from '../commandHandler.ts';

export interface PollCommandDeps extends CommandHandlerDeps {
  now: () => string;
  newPollId: () => string;
  /** The ballots a poll's tally counts (see countedBallots in pollResults.ts), after the read models caught up with the event store. */
  loadBallots: (pollId: string, definition: PollDefinition) => Promise<TallyBallot[]>;
}

/** One row of an uploaded voter roll that could not be used, with the reason (for the upload report). */
export interface RejectedRollLine {
  line: number;
  reason: string;
}

const metadataOf = (by: Actor | SystemActor) => ({ actor: by.kind === 'system' ? 'system' : `${by.kind}:${by.id}` });

/**
 * The poll use cases: thin wrappers that supply the clock and lookups and run the poll decider through
 * the command handler. Every change is an event with its actor in the metadata.
 */
export const pollCommands = (deps: PollCommandDeps) => {
  const run = (pollId: string, command: PollCommand, by: Actor | SystemActor) =>
    handleCommand(deps, pollDecider, pollStreamId(pollId), command, { metadata: metadataOf(by) });

  const create = async (definition: Omit<PollDefinition, 'pollId'> & { pollId?: string }, by: Actor): Promise<string> => {
    const pollId = definition.pollId ?? deps.newPollId();
    // An official's poll belongs to their organisation.
    const owned = by.kind === 'official' ? { ...definition, pollId, orgId: by.orgId } : { ...definition, pollId };
    await run(pollId, { type: 'CreatePoll', data: { definition: owned, createdBy: by, now: deps.now() } }, by);
    return pollId;
  };
  const schedule = (pollId: string, by: Actor) => run(pollId, { type: 'SchedulePoll', data: { pollId, by, now: deps.now() } }, by);
  const open = (pollId: string, by: Actor | SystemActor) => run(pollId, { type: 'OpenPoll', data: { pollId, by, now: deps.now() } }, by);

  return {
    create,
    /** Creates a poll and schedules it; it opens at once when its start has come (citizens' polls, the demo data). */
    launch: async (definition: Omit<PollDefinition, 'pollId'>, by: Actor): Promise<string> => {
      const pollId = await create(definition, by);
      await schedule(pollId, by);
      if (Date.parse(definition.settings.opensAt) <= Date.parse(deps.now())) await open(pollId, by);
      return pollId;
    },
    updateDraft: (pollId: string, definition: PollDefinition, by: Actor) =>
      run(pollId, { type: 'UpdateDraft', data: { pollId, definition: { ...definition, pollId }, by, now: deps.now() } }, by),
    schedule,
    open,
    close: (pollId: string, by: Actor | SystemActor) => run(pollId, { type: 'ClosePoll', data: { pollId, by, now: deps.now() } }, by),
    /** Tallies the poll from its ballots and publishes the result (the decider refuses before close). */
    publishResult: async (pollId: string, by: Actor | SystemActor): Promise<PollTally> => {
      // One read of the poll stream: the tally is made from the state the decision is made on.
      const { state } = await handleCommand(
        deps,
        pollDecider,
        pollStreamId(pollId),
        async (state): Promise<CommandAttempt<PollCommand>> => {
          if (state.status === 'Initial') throw new PollNotFound(pollId);
          const result = tallyPoll(state.definition, await deps.loadBallots(pollId, state.definition));
          return { command: { type: 'PublishResult', data: { pollId, result, by, now: deps.now() } } };
        },
        { metadata: metadataOf(by) },
      );
      if (state.status !== 'ResultPublished') throw new IllegalPollTransition('publish the result of', state.status);
      return state.result;
    },
    postReflection: (pollId: string, reflection: Reflection, by: Actor) =>
      run(pollId, { type: 'PostReflection', data: { pollId, reflection, by, now: deps.now() } }, by),
    updateReflection: (pollId: string, reflection: Reflection, by: Actor) =>
      run(pollId, { type: 'UpdateReflection', data: { pollId, reflection, by, now: deps.now() } }, by),
    setOnSitePlace: (pollId: string, place: OnSitePlace | null, by: Actor) =>
      run(pollId, { type: 'SetOnSitePlace', data: { pollId, place, by, now: deps.now() } }, by),
    /** Adds already keyed roll entries in chunks small enough for one event each. */
    addVoterRoll: async (pollId: string, keyedEntries: string[], by: Actor): Promise<number> => {
      const unique = [...new Set(keyedEntries)];
      for (let i = 0; i < unique.length; i += MAX_VOTER_ROLL_CHUNK)
        await run(pollId, { type: 'AddVoterRollChunk', data: { pollId, entries: unique.slice(i, i + MAX_VOTER_ROLL_CHUNK), by, now: deps.now() } }, by);
      return unique.length;
    },
    /** Adds already keyed exclusion-list entries, chunked like the roll. */
    addExclusions: async (pollId: string, keyedEntries: string[], by: Actor): Promise<number> => {
      const unique = [...new Set(keyedEntries)];
      for (let i = 0; i < unique.length; i += MAX_VOTER_ROLL_CHUNK)
        await run(pollId, { type: 'AddExclusionChunk', data: { pollId, entries: unique.slice(i, i + MAX_VOTER_ROLL_CHUNK), by, now: deps.now() } }, by);
      return unique.length;
    },
  };
};

export type PollCommands = ReturnType<typeof pollCommands>;
