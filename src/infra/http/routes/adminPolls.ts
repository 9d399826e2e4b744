import Router from '@koa/router';
import type { Middleware, ParameterizedContext } from 'koa';
import type { HideCommentInput } from '../../../app/polls/commentCommands.ts';
import type { PollCommands } from '../../../app/polls/pollCommands.ts';
import type { CommentRow, PollRow } from '../../../app/projections/polls.ts';
import { DomainError, httpStatusOf, InvalidPollDefinition, NotPollOwner, PollNotFound, type FieldProblem } from '../../../domain/errors.ts';
import type { Actor } from '../../../domain/poll.ts';
import type { PollKind } from '../../../domain/pollDefinition.ts';
import type { RollParseResult } from '../../polls/voterRollCsv.ts';
import { applyFormAction, definitionOfForm, emptyPollForm, flattenBody, formOfDefinition, POLL_KINDS, problemsByField, readPollForm, type PollForm } from '../pollForm.ts';
import { InputError, fieldProblems, reflectionInput } from '../pollInput.ts';
import { decodedPath } from '../requestBody.ts';
import type { UploadRoute } from '../uploadBody.ts';
import { renderPage, type PageGlobals } from '../views.ts';
import { adminPollView, adminPollRowView, pollFormView, rollReportView, turnoutView, type RollReport } from './adminPollViews.ts';

export interface AdminPollDeps {
  /** requireOfficial from auth.ts: officials in force and administrators. */
  requireOfficial: Middleware;
  now: () => string;
  commands: PollCommands;
  getPoll: (pollId: string) => Promise<PollRow | null>;
  listManagedPolls: (orgId: string) => Promise<PollRow[]>;
  liveCounts: (pollId: string) => Promise<{ ballots: number; counts: Record<string, Record<string, number>> }>;
  listComments: (pollId: string) => Promise<CommentRow[]>;
  parseRoll: (csv: string) => RollParseResult;
  keyRollPhones: (phones: string[]) => string[];
  hideComment: (input: HideCommentInput) => Promise<void>;
  /** Casting caches poll state for a second; an early close or open must reach it at once. */
  invalidatePoll: (pollId: string) => void;
  /** Waits until the read models include what was just written (read-your-writes after a POST). */
  settled: () => Promise<void>;
  /** Hosts option images may come from besides this site (IMAGE_HOSTS). */
  imageHosts?: readonly string[];
}

type Ctx = ParameterizedContext;
type OfficialActor = Extract<Actor, { kind: 'official' }>;
const t = (ctx: Ctx) => (ctx.state.page as PageGlobals).t;
const fields = (ctx: Ctx) => (ctx.request.body ?? {}) as Record<string, unknown>;
const str = (value: unknown) => (typeof value === 'string' ? value : '');
const user = (ctx: Ctx) => ctx.state.user as { id: string; roles: string[]; orgId?: string };

/** The official acting, with their organisation; an administrator without one may only look. */
const actorOf = (ctx: Ctx): OfficialActor => {
  const { id, orgId } = user(ctx);
  if (!orgId) throw new NotPollOwner('(no organisation)');
  return { kind: 'official', id, orgId };
};

/** A domain error in the page's language; anything else goes on to the error page. */
const messageOf = (ctx: Ctx, error: unknown): string => {
  if (!(error instanceof DomainError)) throw error;
  const text = t(ctx)(`error.${error.code}`);
  return text === `error.${error.code}` ? error.message : text;
};

const DONE = new Set(['created', 'saved', 'scheduled', 'opened', 'closed', 'published', 'reflected', 'hidden', 'placed']);

/**
 * The admin area for officials: their organisation's polls, from draft to reflection. Every page is a
 * plain form that works without JavaScript (POST, 303, GET); htmx only swaps parts. The decider checks
 * that the official's organisation owns the poll; pages check it too before showing anything.
 */
export const adminPollRoutes = (deps: AdminPollDeps): Router => {
  const router = new Router();
  // Every route here is the admin area: officials in force and administrators only.
  router.use(deps.requireOfficial);

  const ownedPoll = async (ctx: Ctx): Promise<PollRow> => {
    const poll = await deps.getPoll(String(ctx.params.pollId));
    if (!poll) throw new PollNotFound(String(ctx.params.pollId));
    if (!poll.orgId || poll.orgId !== user(ctx).orgId) throw new NotPollOwner(poll.pollId);
    return poll;
  };

  const pollPage = async (ctx: Ctx, poll: PollRow, extra: { error?: string; status?: number; reflection?: { values: Record<string, string>; problems: Record<string, string[]> } } = {}) => {
    const [live, comments] = await Promise.all([deps.liveCounts(poll.pollId), deps.listComments(poll.pollId)]);
    const done = str(ctx.query.done);
    const model = adminPollView(t(ctx), poll, live, comments, deps.now(), { done: DONE.has(done) ? done : null, error: extra.error ?? null, reflection: extra.reflection ?? null });
    renderPage(ctx, 'pages/admin/poll', model, extra.status ? { status: extra.status } : {});
  };

  const formPage = (ctx: Ctx, form: PollForm, target: { action: string; pollId?: string }, problems: readonly FieldProblem[] = [], status?: number) => {
    renderPage(ctx, 'pages/admin/pollForm', pollFormView(t(ctx), form, target, problemsByField(problems)), status ? { status } : {});
  };

  /** Saves the form with `save`, or re-renders it grown or shrunk; field problems come back next to their fields. */
  const submitForm = async (ctx: Ctx, target: { action: string; pollId?: string }, save: (definition: ReturnType<typeof definitionOfForm>) => Promise<string>) => {
    const form = readPollForm(fields(ctx));
    const changed = applyFormAction(form, str(fields(ctx)._action));
    if (changed) return formPage(ctx, changed, target);
    let pollId: string;
    try {
      pollId = await save(definitionOfForm(form, deps.imageHosts));
    } catch (error) {
      if (error instanceof InputError || error instanceof InvalidPollDefinition) return formPage(ctx, form, target, error.problems, 422);
      throw error;
    }
    await deps.settled();
    ctx.status = 303;
    ctx.redirect(`/admin/polls/${encodeURIComponent(pollId)}?done=${target.pollId ? 'saved' : 'created'}`);
  };

  router.get('/admin', async (ctx) => {
    const orgId = user(ctx).orgId;
    const polls = orgId ? await deps.listManagedPolls(orgId) : [];
    renderPage(ctx, 'pages/admin/index', {
      title: t(ctx)('admin.polls.title'), hasOrg: Boolean(orgId),
      polls: polls.map((p) => adminPollRowView(t(ctx), p, deps.now())),
      kinds: POLL_KINDS.map((k) => ({ value: k, label: t(ctx)(`admin.kind.${k}`) })),
    });
  });

  router.get('/admin/polls/new', (ctx) => {
    const kind = (POLL_KINDS as readonly string[]).includes(str(ctx.query.kind)) ? (str(ctx.query.kind) as PollKind) : 'policy';
    formPage(ctx, emptyPollForm(kind, deps.now()), { action: '/admin/polls' });
  });

  router.post('/admin/polls', (ctx) => submitForm(ctx, { action: '/admin/polls' }, (definition) => deps.commands.create(definition, actorOf(ctx))));

  router.get('/admin/polls/:pollId', async (ctx) => pollPage(ctx, await ownedPoll(ctx)));

  router.get('/admin/polls/:pollId/edit', async (ctx) => {
    const poll = await ownedPoll(ctx);
    if (poll.status !== 'Draft') return ctx.redirect(`/admin/polls/${encodeURIComponent(poll.pollId)}`);
    formPage(ctx, formOfDefinition(poll.definition), { action: `/admin/polls/${encodeURIComponent(poll.pollId)}/edit`, pollId: poll.pollId });
  });

  router.post('/admin/polls/:pollId/edit', async (ctx) => {
    const poll = await ownedPoll(ctx);
    const target = { action: `/admin/polls/${encodeURIComponent(poll.pollId)}/edit`, pollId: poll.pollId };
    await submitForm(ctx, target, async (definition) => {
      await deps.commands.updateDraft(poll.pollId, { ...definition, pollId: poll.pollId, orgId: poll.orgId! }, actorOf(ctx));
      return poll.pollId;
    });
  });

  /** Lifecycle buttons: each is a one-field form; a refusal (e.g. an empty roll) is shown on the poll page. */
  const lifecycle = { schedule: 'scheduled', open: 'opened', close: 'closed', publish: 'published' } as const;
  for (const [action, done] of Object.entries(lifecycle)) {
    router.post(`/admin/polls/:pollId/${action}`, async (ctx) => {
      const poll = await ownedPoll(ctx);
      try {
        if (action === 'publish') await deps.commands.publishResult(poll.pollId, actorOf(ctx));
        else await deps.commands[action as 'schedule' | 'open' | 'close'](poll.pollId, actorOf(ctx));
      } catch (error) {
        return pollPage(ctx, poll, { error: messageOf(ctx, error), status: error instanceof DomainError ? httpStatusOf(error) : 500 });
      }
      deps.invalidatePoll(poll.pollId);
      await deps.settled();
      ctx.status = 303;
      ctx.redirect(`/admin/polls/${encodeURIComponent(poll.pollId)}?done=${done}`);
    });
  }

  /** A new draft with the poll's definition and new dates (the old poll's duration kept when none are given). */
  router.post('/admin/polls/:pollId/duplicate', async (ctx) => {
    const poll = await ownedPoll(ctx);
    const { orgId: _org, ...definition } = poll.definition;
    const { pollId: _id, ...rest } = definition;
    const form = formOfDefinition(rest);
    form.title = `${form.title} ${t(ctx)('admin.duplicate.suffix')}`;
    const sent = flattenBody(fields(ctx));
    const fresh = emptyPollForm(poll.kind, deps.now());
    form.opensAt = sent['settings.opensAt'] || fresh.opensAt;
    form.closesAt = sent['settings.closesAt'] || fresh.closesAt;
    try {
      const copy = await deps.commands.create(definitionOfForm(form, deps.imageHosts), actorOf(ctx));
      await deps.settled();
      ctx.status = 303;
      ctx.redirect(`/admin/polls/${encodeURIComponent(copy)}/edit`);
    } catch (error) {
      if (error instanceof InputError || error instanceof InvalidPollDefinition) return formPage(ctx, form, { action: '/admin/polls' }, error.problems, 422);
      throw error;
    }
  });

  router.get('/admin/polls/:pollId/turnout', async (ctx) => {
    const poll = await ownedPoll(ctx);
    renderPage(ctx, 'partials/admin/turnout', { turnout: turnoutView(t(ctx), poll, await deps.liveCounts(poll.pollId), deps.now()) });
  });

  router.get('/admin/polls/:pollId/roll', async (ctx) => {
    const poll = await ownedPoll(ctx);
    const report = (ctx.session?.rollReport as RollReport | undefined) ?? null;
    if (ctx.session) delete ctx.session.rollReport;
    renderPage(ctx, 'pages/admin/roll', rollReportView(t(ctx), poll, report, deps.now()));
  });

  /** A pasted CSV (`csv`) or an uploaded file (`file`, multipart, see adminRollUpload). Only line numbers and reasons are kept. */
  router.post('/admin/polls/:pollId/roll', async (ctx) => {
    const poll = await ownedPoll(ctx);
    const csv = [str(fields(ctx).file), str(fields(ctx).csv)].filter((s) => s.trim() !== '').join('\n');
    const parsed = deps.parseRoll(csv);
    // The exclusion list is read, keyed and reported exactly like the roll; only the command differs.
    const list = str(fields(ctx).list) === 'exclusions' ? 'exclusions' : 'roll';
    const add = list === 'exclusions' ? deps.commands.addExclusions : deps.commands.addVoterRoll;
    let report: RollReport;
    try {
      if (parsed.phones.length === 0 && parsed.rejected.length === 0) throw new InputError([{ field: 'csv', problem: 'empty' }]);
      const added = parsed.phones.length > 0 ? await add(poll.pollId, deps.keyRollPhones(parsed.phones), actorOf(ctx)) : 0;
      report = { list, added, duplicates: parsed.duplicates, rejected: parsed.rejected.slice(0, 500), rejectedTotal: parsed.rejected.length, error: null };
    } catch (error) {
      const message = error instanceof InputError ? t(ctx)('admin.roll.empty') : messageOf(ctx, error);
      report = { list, added: 0, duplicates: parsed.duplicates, rejected: parsed.rejected.slice(0, 500), rejectedTotal: parsed.rejected.length, error: message };
    }
    await deps.settled();
    if (!ctx.session) return renderPage(ctx, 'pages/admin/roll', rollReportView(t(ctx), (await deps.getPoll(poll.pollId)) ?? poll, report, deps.now()), { status: report.error ? 422 : 200 });
    ctx.session.rollReport = report;
    ctx.status = 303;
    ctx.redirect(`/admin/polls/${encodeURIComponent(poll.pollId)}/roll${list === 'exclusions' ? '#exclusions-report' : ''}`);
  });

  /** Post the reflection the first time, update it after; the form shows the current one. */
  router.post('/admin/polls/:pollId/reflection', async (ctx) => {
    const poll = await ownedPoll(ctx);
    const values = { text: str(fields(ctx).text), links: str(fields(ctx).links), reflectedPercent: str(fields(ctx).reflectedPercent), status: str(fields(ctx).status) };
    const input = {
      text: values.text, status: values.status,
      links: values.links.split(/\s+/).filter((l) => l !== ''),
      reflectedPercent: values.reflectedPercent.trim() === '' ? Number.NaN : Number(values.reflectedPercent),
    };
    try {
      const parsed = reflectionInput.safeParse(input);
      if (!parsed.success) throw new InputError(fieldProblems(parsed.error));
      await (poll.reflection ? deps.commands.updateReflection : deps.commands.postReflection)(poll.pollId, parsed.data, actorOf(ctx));
    } catch (error) {
      if (error instanceof InputError || (error instanceof DomainError && 'problems' in error)) {
        const problems = (error as { problems: FieldProblem[] }).problems.map((p) => ({ field: p.field.replace(/\.\d+$/, ''), problem: p.problem }));
        return pollPage(ctx, poll, { status: 422, reflection: { values, problems: problemsByField(problems) } });
      }
      return pollPage(ctx, poll, { error: messageOf(ctx, error), status: httpStatusOf(error as DomainError) });
    }
    await deps.settled();
    ctx.status = 303;
    ctx.redirect(`/admin/polls/${encodeURIComponent(poll.pollId)}?done=reflected#reflection`);
  });

  /** Officials of the poll's organisation moderate its comments (the comment decider checks isModerator). */
  router.post('/admin/polls/:pollId/comments/:commentId/hide', async (ctx) => {
    const poll = await ownedPoll(ctx);
    const commentId = String(ctx.params.commentId);
    const belongs = (await deps.listComments(poll.pollId)).some((c) => c.commentId === commentId);
    const reason = str(fields(ctx).reason).trim().slice(0, 200);
    await deps.hideComment({ commentId, by: user(ctx).id, isModerator: belongs && poll.orgId === user(ctx).orgId, ...(reason ? { reason } : {}) });
    await deps.settled();
    ctx.status = 303;
    ctx.redirect(`/admin/polls/${encodeURIComponent(poll.pollId)}?done=hidden#comments`);
  });

  return router;
};

/** The largest voter-roll file read: about 200,000 numbers. */
const MAX_ROLL_FILE_BYTES = 5 * 1024 * 1024;

/**
 * The voter-roll file upload (`file`, with `_csrf` and an optional pasted `csv`), read by busboy
 * (uploadBody.ts) only for an official in force of the poll's organisation (or an administrator of it):
 * anyone else's body is never read.
 */
export const adminRollUpload = (deps: Pick<AdminPollDeps, 'getPoll'>): UploadRoute => ({
  path: /^\/admin\/polls\/[^/]+\/roll$/,
  fileBytes: MAX_ROLL_FILE_BYTES,
  fieldBytes: MAX_ROLL_FILE_BYTES,
  authorise: async (ctx) => {
    const viewer = ctx.state.user as { roles: string[]; orgId?: string } | undefined;
    if (!viewer || !(viewer.roles.includes('official') || viewer.roles.includes('admin')) || !viewer.orgId) return false;
    const pollId = decodedPath(ctx.path)?.split('/')[3];
    const poll = pollId ? await deps.getPoll(pollId) : null;
    return poll !== null && poll.orgId === viewer.orgId;
  },
});
