import type { PollDefinition } from '../../domain/pollDefinition.ts';
import type { TallyBallot } from '../../domain/tally.ts';
import type { PollRow } from '../projections/polls.ts';

/** What a page or the API may show of a poll's results now. */
export interface PollResultsView {
  visible: boolean;
  ballots: number;
  /** Counts per question per option, when visible. */
  counts: Record<string, Record<string, number>> | null;
  final: boolean;
  funded?: string[];
}

/** The live count of a poll's counted ballots, per question per option. */
export type LiveCounts = (poll: PollRow) => Promise<{ ballots: number; counts: Record<string, Record<string, number>> }>;

/**
 * The results rule: the published tally once there is one; before that, live counts, except that a
 * poll with sealed results visibility shows none (only its ballot count) until it has closed.
 */
export const pollResults =
  (deps: { liveCounts: LiveCounts; now: () => string }) =>
  async (poll: PollRow): Promise<PollResultsView> => {
    if (poll.result) {
      const counts = Object.fromEntries(poll.result.questions.map((q) => [q.questionId, Object.fromEntries(q.options.map((o) => [o.optionId, o.count]))]));
      return { visible: true, ballots: poll.result.ballots, counts, final: true, ...(poll.result.budget ? { funded: poll.result.budget.funded } : {}) };
    }
    const closed = Date.parse(poll.closesAt) <= Date.parse(deps.now()) || !['Open', 'Scheduled', 'Draft'].includes(poll.status);
    if (poll.definition.settings.resultsVisibility === 'sealed' && !closed) return { visible: false, ballots: poll.ballots, counts: null, final: false };
    const live = await deps.liveCounts(poll);
    return { visible: true, ballots: live.ballots, counts: live.counts, final: false };
  };

/**
 * The ballots a poll's tally counts: its current ballots, except for a sealed poll with ballots, whose
 * read models hold no choices: it counts the ballots of its opening (after close). A sealed poll's rows
 * are not loaded (250,000 of them only to learn that there are some): `hasBallots` answers that.
 */
export const countedBallots =
  (deps: {
    currentBallots: (pollId: string) => Promise<TallyBallot[]>;
    hasBallots: (pollId: string) => Promise<boolean>;
    openedBallots: (pollId: string) => Promise<TallyBallot[]>;
  }) =>
  async (pollId: string, definition: PollDefinition): Promise<TallyBallot[]> => {
    if (definition.settings.resultsVisibility !== 'sealed') return deps.currentBallots(pollId);
    return (await deps.hasBallots(pollId)) ? deps.openedBallots(pollId) : [];
  };
