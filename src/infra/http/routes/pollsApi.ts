import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type { CastBallotInput, CastBallotResult } from '../../../app/polls/castBallot.ts';
import type { PollCommands } from '../../../app/polls/pollCommands.ts';
import type { PollResultsView } from '../../../app/polls/pollResults.ts';
import type { PollRow } from '../../../app/projections/polls.ts';
import type { Actor } from '../../../domain/poll.ts';
import type { PollDefinition } from '../../../domain/pollDefinition.ts';
import { decodePollCursor, type PollListFilter, type PollListPage } from '../../readModels/polls.ts';
import type { RollParseResult } from '../../polls/voterRollCsv.ts';
import { ballotInput, parseInput, pollDefinitionSchema, reflectionInput } from '../pollInput.ts';
import { z } from 'zod';
import { PollNotFound } from '../../../domain/errors.ts';
import type { SessionUser } from '../auth.ts';

/** The actor a signed-in user acts as: an official of their organisation, or a citizen. */
export const actorOf = (user: SessionUser): Actor =>
  user.roles.includes('official') && user.orgId ? { kind: 'official', id: user.id, orgId: user.orgId } : { kind: 'citizen', id: user.id };

export interface PollsApiDeps {
  requireCitizen: Middleware;
  /** Officials in force and administrators (auth.ts): voter rolls are theirs only. */
  requireOfficial: Middleware;
  commands: PollCommands;
  castBallot: (input: CastBallotInput) => Promise<CastBallotResult>;
  listPolls: (filter: Omit<PollListFilter, 'now'>) => Promise<PollListPage>;
  getPoll: (pollId: string) => Promise<PollRow | null>;
  results: (poll: PollRow) => Promise<PollResultsView>;
  parseRoll: (csv: string) => RollParseResult;
  keyRollPhones: (phones: string[]) => string[];
  /** Hosts option images may come from besides this site (IMAGE_HOSTS). */
  imageHosts?: readonly string[];
}

/** What the API shows of a poll: the definition and the public facts, never voter data. */
export const pollSummary = (row: PollRow) => ({
  pollId: row.pollId, kind: row.kind, title: row.title, tags: row.tags, status: row.status, opensAt: row.opensAt, closesAt: row.closesAt,
  ballots: row.ballots, official: row.creatorKind === 'official', orgId: row.orgId, policy: row.definition.policy ?? null,
});

const listQuery = z.object({
  scope: z.enum(['policy', 'general']).optional(),
  state: z.enum(['open', 'closed']).optional(),
  tag: z.string().max(30).optional(),
  q: z.string().max(100).optional(),
  cursor: z.string().max(200).refine((c) => decodePollCursor(c) !== null, 'is not a cursor this API gave out').optional(),
  limit: z.coerce.number().int().min(1).max(100).optional(),
});

const user = (ctx: Context) => ctx.state.user as SessionUser;

/**
 * The JSON API: the same use cases as the pages, for load tests, kiosks and integrations. Errors are
 * `{ error: { code, message, details? } }` with the status of the error's kind (see server.ts).
 */
export const pollsApiRoutes = (deps: PollsApiDeps): Router => {
  const router = new Router({ prefix: '/api' });
  const definitionSchema = pollDefinitionSchema(deps.imageHosts);
  /** The poll, or 404; a draft only for its creator and its organisation's officials, as on the site. */
  const mustFind = async (ctx: Context) => {
    const poll = await deps.getPoll(String(ctx.params.pollId));
    const viewer = ctx.state.user as SessionUser | undefined;
    const mayManage = (p: PollRow) => viewer !== undefined && (p.creatorId === viewer.id || (p.orgId !== null && p.orgId === viewer.orgId && viewer.roles.includes('official')));
    if (!poll || (poll.status === 'Draft' && !mayManage(poll))) throw new PollNotFound(String(ctx.params.pollId));
    return poll;
  };

  router.get('/polls', async (ctx) => {
    const q = parseInput(listQuery, ctx.query);
    const page = await deps.listPolls({ scope: q.scope, state: q.state, tag: q.tag, search: q.q, cursor: q.cursor, limit: q.limit });
    ctx.body = { polls: page.polls.map(pollSummary), nextCursor: page.nextCursor };
  });

  router.get('/polls/:pollId', async (ctx) => {
    const poll = await mustFind(ctx);
    ctx.body = { ...pollSummary(poll), definition: poll.definition, reflection: poll.reflection };
  });

  router.get('/polls/:pollId/results', async (ctx) => {
    ctx.body = await deps.results(await mustFind(ctx));
  });

  router.post('/polls', deps.requireCitizen, async (ctx) => {
    const definition = parseInput(definitionSchema, ctx.request.body) as Omit<PollDefinition, 'pollId'>;
    const pollId = await deps.commands.create(definition, actorOf(user(ctx)));
    ctx.status = 201;
    ctx.body = { pollId };
  });

  for (const action of ['schedule', 'open', 'close'] as const)
    router.post(`/polls/:pollId/${action}`, deps.requireCitizen, async (ctx) => {
      await deps.commands[action](String(ctx.params.pollId), actorOf(user(ctx)));
      ctx.body = { pollId: ctx.params.pollId, done: action };
    });

  router.post('/polls/:pollId/publish', deps.requireCitizen, async (ctx) => {
    const pollId = String(ctx.params.pollId);
    ctx.body = { pollId, result: await deps.commands.publishResult(pollId, actorOf(user(ctx))) };
  });

  // Voter rolls are lists of real people's numbers: officials only, as in the admin area (README).
  router.post('/polls/:pollId/roll', deps.requireOfficial, async (ctx) => {
    const body = ctx.request.body as { csv?: unknown } | undefined;
    const csv = typeof body?.csv === 'string' ? body.csv : ctx.throw(422, 'Send { "csv": "<one phone number per line>" }');
    const parsed = deps.parseRoll(csv);
    const added = await deps.commands.addVoterRoll(String(ctx.params.pollId), deps.keyRollPhones(parsed.phones), actorOf(user(ctx)));
    ctx.body = { added, duplicates: parsed.duplicates, rejected: parsed.rejected };
  });

  router.post('/polls/:pollId/reflection', deps.requireCitizen, async (ctx) => {
    const poll = await mustFind(ctx);
    const reflection = parseInput(reflectionInput, ctx.request.body);
    const actor = actorOf(user(ctx));
    if (actor.kind !== 'official') ctx.throw(403, 'Only officials post policy reflections');
    await (poll.reflection ? deps.commands.updateReflection : deps.commands.postReflection)(poll.pollId, reflection, actor as Extract<Actor, { kind: 'official' }>);
    ctx.body = { pollId: poll.pollId, reflection };
  });

  router.post('/polls/:pollId/ballots', deps.requireCitizen, async (ctx) => {
    const input = parseInput(ballotInput, ctx.request.body);
    const cast = await deps.castBallot({
      pollId: String(ctx.params.pollId),
      citizenId: user(ctx).id,
      selections: { selections: input.selections, ...(input.freeText ? { freeText: input.freeText } : {}) },
      ...(input.location ? { location: input.location } : {}),
    });
    ctx.status = 201;
    ctx.body = { ballotId: cast.ballotId, tracker: cast.tracker, castAt: cast.castAt, replaces: cast.replaces, receipt: `/receipts/${cast.tracker}` };
  });

  return router;
};
