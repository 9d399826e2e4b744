import type { ReadStream } from '../../app/eventStore.ts';
import { fold } from '../../domain/decider.ts';
import { pollDecider, pollStreamId, type PollEvent, type PollState } from '../../domain/poll.ts';

type ExistingPoll = Extract<PollState, { pollId: string }>;

/**
 * The poll state for casting, folded from the poll stream and kept for `ttlMs`. A ballot never passes
 * the close time whatever the cache holds (the decider checks the clock); an early close by an official
 * reaches casting within `ttlMs`. Voter-roll chunks are skipped by the fold's cost only, not by reading.
 */
export const createPollCache = (readStream: ReadStream, ttlMs = 1000) => {
  const cache = new Map<string, { at: number; poll: Promise<ExistingPoll | null> }>();
  const load = async (pollId: string): Promise<ExistingPoll | null> => {
    const events = await readStream(pollStreamId(pollId));
    const state = fold(pollDecider, events.map((e) => ({ type: e.type, data: e.data }) as PollEvent));
    return state.status === 'Initial' ? null : state;
  };
  return {
    get: (pollId: string): Promise<ExistingPoll | null> => {
      const hit = cache.get(pollId);
      if (hit && Date.now() - hit.at < ttlMs) return hit.poll;
      const poll = load(pollId);
      cache.set(pollId, { at: Date.now(), poll });
      poll.catch(() => cache.delete(pollId));
      if (cache.size > 10_000) cache.delete(cache.keys().next().value!);
      return poll;
    },
    invalidate: (pollId: string) => void cache.delete(pollId),
  };
};
