import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { InvalidPollDefinition, type FieldProblem } from '../../../domain/errors.ts';
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

/** A form field and what is wrong with it, in the citizen's language. */
type Problems = Partial<Record<keyof CreateForm | 'form', string>>;

/** The form as a poll definition, or each field's problem as a person can fix it, in their language. */
const toDefinition = (form: CreateForm, now: string, t: Translate): { definition: Omit<PollDefinition, 'pollId'> } | { problems: Problems } => {
  const problems: Problems = {};
  const answers = form.answers.split(/\r?\n/).map((a) => a.trim()).filter(Boolean);
  if (!form.title || form.title.length > 200) problems.title = t('site.create.problem.title');
  if (answers.length < 2 || answers.length > 20 || (form.kind === 'vs' && answers.length !== 2)) problems.answers = t(`site.create.problem.answers.${form.kind}`);
  const closesAt = kstInstant(form.closesAt);
  if (!closesAt) problems.closesAt = t('site.create.problem.closesAt.missing');
  else if (closesAt <= now) problems.closesAt = t('site.create.problem.closesAt.past');
  // An empty start time means "now": it is never a problem, whatever the closing time.
  const opensAt = form.opensAt ? kstInstant(form.opensAt) : now;
  if (!opensAt) problems.opensAt = t('site.create.problem.opensAt.invalid');
  else if (form.opensAt && closesAt && closesAt > now && opensAt >= closesAt) problems.opensAt = t('site.create.problem.opensAt.afterClose');
  const max = form.kind === 'vs' ? 1 : Number.parseInt(form.maxChoices, 10);
  if (!Number.isInteger(max) || max < 1 || max > Math.max(1, answers.length)) problems.maxChoices = t('site.create.problem.maxChoices', { n: Math.max(1, answers.length) });
  if (Object.keys(problems).length) return { problems };
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

/** The domain's field names (questions[0].options, settings.closesAt) as this form's fields, with a message each. */
const problemsOfDomain = (problems: readonly FieldProblem[], form: CreateForm, t: Translate): Problems => {
  const out: Problems = {};
  for (const { field } of problems) {
    if (field === 'title' || /^questions\[0\]\.text$/.test(field)) out.title = t('site.create.problem.title');
    else if (/^questions\[0\]\.(options|minChoices)/.test(field) || field === 'questions') out.answers = t(`site.create.problem.answers.${form.kind}`);
    else if (/^questions\[0\]\.maxChoices$/.test(field)) out.maxChoices = t('site.create.problem.maxChoices', { n: Math.max(1, form.answers.split(/\r?\n/).filter((a) => a.trim()).length) });
    else if (field === 'settings.closesAt') out.closesAt = t('site.create.problem.closesAt.past');
    else if (field === 'settings.opensAt') out.opensAt = t('site.create.problem.opensAt.invalid');
    else if (field === 'description') out.description = t('site.create.problem.description');
    else if (field === 'tags') out.tags = t('site.create.problem.tags');
    else out.form = t('site.create.problem.form');
  }
  return out;
};

/** The error summary: each problem named by its field and linking to it. */
const FIELD_IDS: Record<string, string> = { title: 'c-title', answers: 'c-answers', maxChoices: 'c-max', opensAt: 'c-opens', closesAt: 'c-closes', description: 'c-description', tags: 'c-tags', form: 'c-title' };
const summaryOf = (problems: Problems, t: Translate) =>
  Object.entries(problems).map(([field, message]) => ({ href: `#${FIELD_IDS[field]}`, label: t(`site.create.short.${field}`), message }));

/** GET/POST /polls/new: citizens create general and VS polls; a poll opens at once unless it starts later. */
export const siteCreatePollRoutes = (deps: SiteCreatePollDeps): Router => {
  const router = new Router();
  const show = (ctx: Context, form: CreateForm, problems: Problems = {}, status?: number, refusal = '') => {
    const { t } = globalsOf(ctx);
    renderPage(ctx, 'pages/create', {
      title: t('site.create.title'), form, problems, refusal, summary: summaryOf(problems, t),
      /** aria-invalid and aria-describedby for a field with a problem (ids are this template's own). */
      inv: (field: keyof Problems, hint = '') => (problems[field] ? ` aria-invalid="true" aria-describedby="${[hint, `${FIELD_IDS[field]}-error`].filter(Boolean).join(' ')}"` : hint ? ` aria-describedby="${hint}"` : ''),
    }, { status });
  };

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
      const problems = error instanceof InvalidPollDefinition ? problemsOfDomain(error.problems, form, t) : {};
      show(ctx, form, problems, refusal.status, Object.keys(problems).length ? '' : refusal.message);
    }
  });
  return router;
};
