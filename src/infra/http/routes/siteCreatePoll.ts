import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { InvalidPollDefinition } from '../../../domain/errors.ts';
import type { PollDefinition } from '../../../domain/pollDefinition.ts';
import type { Translate } from '../i18n/index.ts';
import { renderPage } from '../views.ts';
import { formField, globalsOf, refusalOf, userOf } from './siteViews.ts';

export interface SiteCreatePollDeps {
  requireCitizen: Middleware;
  now: () => string;
  /** Creates the poll as the citizen, schedules it, and opens it unless it starts later; returns its id once readable. */
  createCitizenPoll: (definition: Omit<PollDefinition, 'pollId'>, citizenId: string) => Promise<string>;
}

interface CreateForm {
  kind: 'general' | 'vs';
  title: string;
  description: string;
  answers: string;
  maxChoices: string;
  tags: string;
  opensAt: string;
  closesAt: string;
  results: 'live' | 'sealed';
  revote: boolean;
}

const emptyForm = (): CreateForm => ({ kind: 'general', title: '', description: '', answers: '', maxChoices: '1', tags: '', opensAt: '', closesAt: '', results: 'live', revote: false });

/** `datetime-local` has no zone: the form says KST, so it is read as UTC+9 (Korea has no daylight saving). */
const kstInstant = (value: string): string | null => {
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/.test(value)) return null;
  const ms = Date.parse(`${value}:00+09:00`);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
};

const readForm = (ctx: Context): CreateForm => ({
  kind: formField(ctx, 'kind') === 'vs' ? 'vs' : 'general',
  title: formField(ctx, 'title').trim(),
  description: formField(ctx, 'description').trim(),
  answers: formField(ctx, 'answers'),
  maxChoices: formField(ctx, 'maxChoices') || '1',
  tags: formField(ctx, 'tags'),
  opensAt: formField(ctx, 'opensAt'),
  closesAt: formField(ctx, 'closesAt'),
  results: formField(ctx, 'results') === 'sealed' ? 'sealed' : 'live',
  revote: formField(ctx, 'revote') === 'on',
});

/** The form as a poll definition, or the problems a person can fix, in their language. */
const toDefinition = (form: CreateForm, now: string, t: Translate): { definition: Omit<PollDefinition, 'pollId'> } | { problems: string[] } => {
  const problems: string[] = [];
  const answers = form.answers.split(/\r?\n/).map((a) => a.trim()).filter(Boolean);
  if (!form.title) problems.push(`${t('site.create.question')}: ${t('site.error.invalid-input')}`);
  if (answers.length < 2 || answers.length > 20 || (form.kind === 'vs' && answers.length !== 2)) problems.push(t('site.create.answers'));
  const closesAt = kstInstant(form.closesAt);
  if (!closesAt || closesAt <= now) problems.push(t('site.create.closesAt'));
  const opensAt = form.opensAt ? kstInstant(form.opensAt) : now;
  if (!opensAt || (closesAt && opensAt >= closesAt)) problems.push(t('site.create.opensAt'));
  const max = form.kind === 'vs' ? 1 : Number.parseInt(form.maxChoices, 10);
  if (!Number.isInteger(max) || max < 1 || max > Math.max(1, answers.length)) problems.push(t('site.create.maxChoices'));
  if (problems.length) return { problems };
  const tags = [...new Set(form.tags.split(/[,，]/).map((s) => s.trim().replace(/^#/, '')).filter(Boolean))].slice(0, 10);
  return {
    definition: {
      kind: form.kind,
      title: form.title,
      ...(form.description ? { description: form.description } : {}),
      tags,
      questions: [{ id: 'q1', text: form.title, minChoices: 1, maxChoices: max, options: answers.map((label, i) => ({ id: `a${i + 1}`, label })) }],
      settings: { opensAt: opensAt!, closesAt: closesAt!, resultsVisibility: form.results, allowRevote: form.revote },
    },
  };
};

/** GET/POST /polls/new: citizens create general and VS polls; a poll opens at once unless it starts later. */
export const siteCreatePollRoutes = (deps: SiteCreatePollDeps): Router => {
  const router = new Router();
  const show = (ctx: Context, form: CreateForm, problems: string[] = [], status?: number) =>
    renderPage(ctx, 'pages/create', { title: globalsOf(ctx).t('site.create.title'), form, problems }, { status });

  router.get('/polls/new', deps.requireCitizen, (ctx) => show(ctx, emptyForm()));

  router.post('/polls/new', deps.requireCitizen, async (ctx) => {
    const { t } = globalsOf(ctx);
    const form = readForm(ctx);
    const parsed = toDefinition(form, deps.now(), t);
    if ('problems' in parsed) return show(ctx, form, parsed.problems, 422);
    try {
      const pollId = await deps.createCitizenPoll(parsed.definition, userOf(ctx)!.id);
      ctx.status = 303;
      ctx.redirect(`/polls/${encodeURIComponent(pollId)}`);
    } catch (error) {
      const refusal = refusalOf(error, t);
      if (!refusal) throw error;
      const details = error instanceof InvalidPollDefinition ? error.problems.map((p) => `${p.field}: ${p.problem}`) : [];
      show(ctx, form, [refusal.message, ...details], refusal.status);
    }
  });
  return router;
};
