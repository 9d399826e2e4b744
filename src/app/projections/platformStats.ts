import { assertNever } from '../../domain/decider.ts';
import type { Projection } from '../projection.ts';

/** Site-wide counters for the home page header. One row. */
export interface PlatformStats {
  polls: number;
  ballots: number;
}

export const platformStatsProjection: Projection<PlatformStats, 'PollCreated' | 'BallotCast'> = {
  name: 'platform-stats',
  handles: ['PollCreated', 'BallotCast'],
  keyOf: () => 'all',
  evolve: (row, event) => {
    const stats = row ?? { polls: 0, ballots: 0 };
    switch (event.type) {
      case 'PollCreated':
        return { ...stats, polls: stats.polls + 1 };
      case 'BallotCast':
        // A re-vote replaces a ballot: it is not a new voter.
        return event.data.replaces ? stats : { ...stats, ballots: stats.ballots + 1 };
      default:
        return assertNever(event);
    }
  },
};
