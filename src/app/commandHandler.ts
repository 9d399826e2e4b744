import type { Decider } from '../domain/decider.ts';
import { fold } from '../domain/decider.ts';
import type { AppendToStream, ExpectedRevision, ReadStream } from './eventStore.ts';

export interface CommandHandlerDeps {
  readStream: ReadStream;
  append: AppendToStream;
}

/**
 * The one generic command handler: read the stream, fold it, decide, append with the expected revision.
 * A concurrent writer makes the append fail with StreamConflictError, never a lost update.
 */
export const handleCommand = async <C, E extends { type: string; data: object }, S>(
  deps: CommandHandlerDeps,
  decider: Decider<C, E, S>,
  streamId: string,
  /** The command, or a function making it from the current state (when the command needs the state's facts). */
  command: C | ((state: S) => C | Promise<C>),
  metadata: Record<string, unknown> = {},
): Promise<{ events: E[]; state: S }> => {
  const recorded = await deps.readStream(streamId);
  const state = fold(decider, recorded.map((e) => ({ type: e.type, data: e.data }) as unknown as E));
  const events = decider.decide(typeof command === 'function' ? await (command as (state: S) => C | Promise<C>)(state) : command, state);
  if (events.length > 0) {
    const expected: ExpectedRevision = recorded.length === 0 ? 'no_stream' : recorded[recorded.length - 1]!.streamRevision;
    await deps.append(
      streamId,
      events.map((e) => ({ type: e.type, data: e.data as Record<string, unknown>, metadata })),
      expected,
    );
  }
  return { events, state: events.reduce(decider.evolve, state) };
};
