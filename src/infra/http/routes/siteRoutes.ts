import type Router from '@koa/router';
import type { Middleware } from 'koa';
import type { Kysely } from 'kysely';
import type { PollDefinition } from '../../../domain/pollDefinition.ts';
import type { Database } from '../../db/schema.ts';
import type { Polls } from '../../polls/pollServices.ts';
import * as pollQueries from '../../readModels/polls.ts';
import { pageReads, type PageReads } from '../../readModels/pageReads.ts';
import { siteAppRoutes } from './siteApp.ts';
import { siteCreatePollRoutes } from './siteCreatePoll.ts';
import { siteHomeRoutes } from './siteHome.ts';
import { notificationMark, siteMyRoutes } from './siteMy.ts';
import { sitePollRoutes } from './sitePoll.ts';
import { siteResultsRoutes } from './siteResults.ts';
import type { VerificationLookup } from './siteViews.ts';

export interface CitizenSiteDeps {
  db: Kysely<Database>;
  polls: Polls;
  requireCitizen: Middleware;
  now: () => string;
  /** Waits until the read models have seen every appended event, so a 303's GET shows the change. */
  settled: () => Promise<void>;
  stats: () => Promise<{ polls: number; ballots: number }>;
  /** The ledger's verdict per poll (blockchain badges); defaults to the poll_verification read model. */
  verifications?: VerificationLookup;
  /** The per-voter reads of pages, coalesced across requests (one set per app: middleware and routes share it). */
  reads: PageReads;
}

/** The citizen site's middleware: the header's unread-notifications mark. */
export const citizenSiteMiddleware = (deps: Pick<CitizenSiteDeps, 'reads'>): Middleware => notificationMark({ latestReflection: deps.reads.latestReflection });

export { pageReads };

/**
 * The citizen site's routers, bound to the poll services and queries. /polls/new is mounted before
 * /polls/:pollId so "new" is never read as a poll id.
 */
export const citizenSiteRouters = (deps: CitizenSiteDeps): Router[] => {
  const { db, polls, now, requireCitizen } = deps;
  const { reads } = deps;
  const verifications = deps.verifications ?? reads.verifications;
  const citizen = (id: string) => ({ kind: 'citizen' as const, id });
  return [
    siteAppRoutes(),
    siteHomeRoutes({
      now,
      listPolls: polls.list,
      getPoll: polls.get,
      hotPollIds: polls.hotPollIds,
      recommendedPolls: (citizenId, at) => pollQueries.recommendedPolls(db, citizenId, at, 4),
      votedPollIds: (citizenId, ids) => pollQueries.votedPollIds(db, citizenId, ids),
      verifications,
      stats: deps.stats,
    }),
    siteCreatePollRoutes({
      requireCitizen,
      now,
      createCitizenPoll: async (definition: Omit<PollDefinition, 'pollId'>, citizenId) => {
        const pollId = await polls.commands.launch(definition, citizen(citizenId));
        await deps.settled();
        return pollId;
      },
    }),
    sitePollRoutes({
      requireCitizen,
      now,
      getPoll: polls.get,
      results: polls.results,
      castBallot: async (input) => {
        const cast = await polls.cast(input);
        await deps.settled();
        return cast;
      },
      hotPollIds: polls.hotPollIds,
      votedPollIds: reads.votedPollIds,
      myTracker: reads.myTracker,
      listComments: polls.listComments,
      postComment: async ({ pollId, authorId, text }) => {
        await polls.comments.post({ pollId, authorId, text });
        await deps.settled();
      },
      verifications,
    }),
    siteMyRoutes({
      requireCitizen,
      now,
      myVotes: (citizenId) => pollQueries.myVotes(db, citizenId),
      createdPolls: (citizenId) => pollQueries.listManagedPolls(db, { creatorId: citizenId }),
      verifications,
    }),
    siteResultsRoutes({ listReflections: () => pollQueries.listReflections(db), verifications }),
  ];
};
