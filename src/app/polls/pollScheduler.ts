import type { PollCommands } from './pollCommands.ts';

export interface DuePoll {
  pollId: string;
  status: string;
  official: boolean;
  due: 'open' | 'close';
}

const SYSTEM = { kind: 'system' } as const;

/**
 * Opens and closes polls at their times without anyone pressing a button, and publishes the result of
 * citizen polls at close (official polls are published by an official). Idempotent: a poll another
 * instance already moved is refused by the decider and skipped.
 */
export const runDuePolls = async (deps: { duePolls: () => Promise<DuePoll[]>; commands: PollCommands; onError: (pollId: string, error: unknown) => void }) => {
  let done = 0;
  for (const poll of await deps.duePolls()) {
    try {
      if (poll.due === 'open') await deps.commands.open(poll.pollId, SYSTEM);
      else if (poll.official) await deps.commands.close(poll.pollId, SYSTEM);
      else await deps.commands.publishResult(poll.pollId, SYSTEM);
      done++;
    } catch (error) {
      deps.onError(poll.pollId, error);
    }
  }
  return done;
};
