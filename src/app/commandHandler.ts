import type { Decider } from '../domain/decider.ts';
import { fold } from '../domain/decider.ts';
import { StreamConflictError, type AppendToStream, type ExpectedRevision, type ReadStream } from './eventStore.ts';

export interface CommandHandlerDeps {
  readStream: ReadStream;
  append: AppendToStream;
}

/** One try at a command, made from the state it is decided on. */
export interface CommandAttempt<C> {
  command: C;
  /** Ids for the events the command makes, in order (the adapter makes one where absent). */
  eventIds?: readonly string[];
  /** Gives back what making this attempt took (a first-come seat), when its events are not stored. */
  undo?: () => Promise<void>;
}

export interface CommandOptions {
  /** Metadata of every appended event: correlation, actor; never personal data. */
  metadata?: Record<string, unknown>;
  /** How many times the command is decided in all when other writers keep getting there first. */
  attempts?: number;
  /**
   * The stream is almost always new (a voter's first ballot): the first try is decided on the initial
   * state and appended with `no_stream` without reading the stream (one round trip). A conflict means
   * the stream exists after all: it is then read and the command decided again, as for any command.
   */
  expectNewStream?: boolean;
}

export interface CommandOutcome<E, S> {
  events: E[];
  state: S;
  /** The ids the stored attempt gave its events ([] when it gave none). */
  eventIds: readonly string[];
}

/** How many times a command is decided by default when another writer got to the stream first. */
const CONFLICT_ATTEMPTS = 3;

/**
 * Runs a command; every write of the app goes through here. Read the stream, fold it, decide, append
 * with the expected revision. A concurrent writer makes the append fail with StreamConflictError, never
 * a lost update; the command is then decided again on the new state (an official publishing while the
 * scheduler publishes gets the decider's "already published", not a bare conflict), and the conflict
 * surfaces only if writers keep winning.
 *
 * `command` is the command itself, or a function making the attempt from the current state: when the
 * command needs the state's facts, fresh ids per try, or something to give back if the try fails
 * (annotate its return type, `CommandAttempt<TheCommand>`: the decider alone cannot type it).
 */
export const handleCommand = async <C, E extends { type: string; data: object }, S>(
  deps: CommandHandlerDeps,
  decider: Decider<C, E, S>,
  streamId: string,
  command: C | ((state: S) => CommandAttempt<C> | Promise<CommandAttempt<C>>),
  options: CommandOptions = {},
): Promise<CommandOutcome<E, S>> => {
  const attempts = options.attempts ?? CONFLICT_ATTEMPTS;
  const prepare = typeof command === 'function' ? (command as (state: S) => CommandAttempt<C> | Promise<CommandAttempt<C>>) : (): CommandAttempt<C> => ({ command });
  let state = decider.initialState;
  let expected: ExpectedRevision = 'no_stream';
  let known = options.expectNewStream === true;
  for (let attempt = 1; ; attempt++) {
    if (!known) {
      const recorded = await deps.readStream(streamId);
      state = fold(decider, recorded.map((e) => ({ type: e.type, data: e.data }) as unknown as E));
      expected = recorded.length === 0 ? 'no_stream' : recorded[recorded.length - 1]!.streamRevision;
    }
    known = false;
    const tried = await prepare(state);
    const eventIds = tried.eventIds ?? [];
    try {
      const events = decider.decide(tried.command, state);
      if (events.length === 0) {
        await tried.undo?.();
        return { events, state, eventIds: [] };
      }
      await deps.append(
        streamId,
        events.map((e, i) => ({ ...(eventIds[i] ? { id: eventIds[i] } : {}), type: e.type, data: e.data as Record<string, unknown>, metadata: options.metadata ?? {} })),
        expected,
      );
      return { events, state: events.reduce(decider.evolve, state), eventIds };
    } catch (error) {
      await tried.undo?.();
      if (error instanceof StreamConflictError && attempt < attempts) continue;
      throw error;
    }
  }
};

/** The decider of a stream that holds one fact, stored once: deciding on a stream that has it changes nothing. */
const onceDecider = <E>(): Decider<E[], E, boolean> => ({
  initialState: false,
  evolve: () => true,
  decide: (events, recorded) => (recorded ? [] : events),
});

/**
 * Stores a fact in its own new stream (a sealed poll's opening batch, an imported file), through the
 * command path's first-write fast path (no read). When the stream exists already, `duplicate: 'ignore'`
 * leaves it as it is (another writer stored the same fact first); 'refuse' throws the conflict.
 */
export const recordInNewStream = <E extends { type: string; data: object }>(
  deps: CommandHandlerDeps,
  streamId: string,
  events: E[],
  options: { duplicate: 'ignore' | 'refuse'; eventIds?: readonly string[] },
): Promise<CommandOutcome<E, boolean>> =>
  handleCommand(deps, onceDecider<E>(), streamId, (): CommandAttempt<E[]> => ({ command: events, ...(options.eventIds ? { eventIds: options.eventIds } : {}) }), {
    expectNewStream: true,
    attempts: options.duplicate === 'ignore' ? 2 : 1,
  });
