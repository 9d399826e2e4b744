import type { Decider } from '../domain/decider.ts';
import { fold } from '../domain/decider.ts';
import { StreamConflictError, type AppendToStream, type ExpectedRevision, type ReadStream } from './eventStore.ts';

export interface CommandHandlerDeps {
  readStream: ReadStream;
  append: AppendToStream;
}

/** How many times a command is decided again when another writer got to the stream first. */
const CONFLICT_ATTEMPTS = 3;

/**
 * The one generic command handler: read the stream, fold it, decide, append with the expected revision.
 * A concurrent writer makes the append fail with StreamConflictError, never a lost update; the command
 * is then decided again on the new state (an official publishing while the scheduler publishes gets
 * the decider's "already published", not a bare conflict), and the conflict surfaces only if writers
 * keep winning.
 */
export const handleCommand = async <C, E extends { type: string; data: object }, S>(
  deps: CommandHandlerDeps,
  decider: Decider<C, E, S>,
  streamId: string,
  /** The command, or a function making it from the current state (when the command needs the state's facts). */
  command: C | ((state: S) => C | Promise<C>),
  metadata: Record<string, unknown> = {},
): Promise<{ events: E[]; state: S }> => {
  for (let attempt = 1; ; attempt++) {
    const recorded = await deps.readStream(streamId);
    const state = fold(decider, recorded.map((e) => ({ type: e.type, data: e.data }) as unknown as E));
    const events = decider.decide(typeof command === 'function' ? await (command as (state: S) => C | Promise<C>)(state) : command, state);
    if (events.length > 0) {
      const expected: ExpectedRevision = recorded.length === 0 ? 'no_stream' : recorded[recorded.length - 1]!.streamRevision;
      try {
        await deps.append(
          streamId,
          events.map((e) => ({ type: e.type, data: e.data as Record<string, unknown>, metadata })),
          expected,
        );
      } catch (error) {
        if (error instanceof StreamConflictError && attempt < CONFLICT_ATTEMPTS) continue;
        throw error;
      }
    }
    return { events, state: events.reduce(decider.evolve, state) };
  }
};
