import type { FieldProblem } from '../../domain/errors.ts';
import type { PollDefinition, PollKind } from '../../domain/pollDefinition.ts';
import { fieldProblems, InputError, pollDefinitionSchema } from './pollInput.ts';

/**
 * The admin poll form: HTML form fields <-> PollDefinition. Field names are the definition's own paths
 * (`questions.0.options.1.label`, `settings.closesAt`), so a problem from zod or from the domain's
 * validatePollDefinition lands next to the field it names. Everything the form holds is a string until
 * `definitionOfForm`, so a re-render after an error or an "add option" click loses nothing typed.
 */
export interface PollFormOption {
  id: string;
  label: string;
  description: string;
  imageUrl: string;
  cost: string;
  district: string;
}

export interface PollFormQuestion {
  id: string;
  text: string;
  minChoices: string;
  maxChoices: string;
  allowFreeText: boolean;
  options: PollFormOption[];
}

export interface PollForm {
  kind: PollKind;
  title: string;
  description: string;
  /** Comma separated. */
  tags: string;
  questions: PollFormQuestion[];
  /** datetime-local values in Korea time (Asia/Seoul, UTC+9, no daylight saving). */
  opensAt: string;
  closesAt: string;
  firstComeCap: string;
  voterRollRequired: boolean;
  onSiteLatitude: string;
  onSiteLongitude: string;
  onSiteRadius: string;
  onSiteLabel: string;
  resultsVisibility: 'live' | 'sealed';
  allowRevote: boolean;
  policyMode: 'decision' | 'reference';
  reflectionPercent: string;
  budgetTotal: string;
  budgetCurrency: string;
  budgetRule: 'greedy' | 'equal-shares';
}

export const POLL_KINDS: readonly PollKind[] = ['general', 'vs', 'survey', 'policy', 'budget'];
/** A general poll has at most 20 answers; more rows than that in a form is a mistake, not a need. */
const MAX_OPTIONS = 200;
const MAX_QUESTIONS = 50;
const KST_OFFSET_MS = 9 * 3_600_000;

/** An instant as a datetime-local value in Korea time. */
export const toKstLocal = (iso: string): string => {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? '' : new Date(ms + KST_OFFSET_MS).toISOString().slice(0, 16);
};

/** A datetime-local value read as Korea time; anything else is passed on for the shape check to refuse. */
export const fromKstLocal = (local: string): string => {
  const value = local.trim();
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(value)) return value;
  const ms = Date.parse(`${value}+09:00`);
  return Number.isNaN(ms) ? value : new Date(ms).toISOString();
};

const blankOption = (): PollFormOption => ({ id: '', label: '', description: '', imageUrl: '', cost: '', district: '' });
const blankQuestion = (options = 2): PollFormQuestion => ({
  id: '', text: '', minChoices: '1', maxChoices: '1', allowFreeText: false, options: Array.from({ length: options }, blankOption),
});

/** A new form of a kind; the poll opens tomorrow at 09:00 and closes a week later (Korea time). */
export const emptyPollForm = (kind: PollKind, now: string): PollForm => {
  const tomorrow = toKstLocal(new Date(Date.parse(now) + 86_400_000).toISOString()).slice(0, 10);
  const weekLater = toKstLocal(new Date(Date.parse(now) + 8 * 86_400_000).toISOString()).slice(0, 10);
  const question = blankQuestion(kind === 'budget' ? 3 : 2);
  if (kind === 'budget') Object.assign(question, { minChoices: '1', maxChoices: '3' });
  return {
    kind, title: '', description: '', tags: '', questions: [question],
    opensAt: `${tomorrow}T09:00`, closesAt: `${weekLater}T18:00`, firstComeCap: '', voterRollRequired: false,
    onSiteLatitude: '', onSiteLongitude: '', onSiteRadius: '', onSiteLabel: '',
    resultsVisibility: 'live', allowRevote: false, policyMode: 'decision', reflectionPercent: '100',
    budgetTotal: '', budgetCurrency: 'KRW', budgetRule: 'greedy',
  };
};

const text = (value: number | string | undefined): string => (value === undefined ? '' : String(value));

/** The form of an existing definition (edit, duplicate). */
export const formOfDefinition = (d: Omit<PollDefinition, 'pollId'>): PollForm => ({
  kind: d.kind,
  title: d.title,
  description: d.description ?? '',
  tags: d.tags.join(', '),
  questions: d.questions.map((q) => ({
    id: q.id, text: q.text, minChoices: text(q.minChoices), maxChoices: text(q.maxChoices), allowFreeText: q.allowFreeText === true,
    options: q.options.map((o) => ({ id: o.id, label: o.label, description: o.description ?? '', imageUrl: o.imageUrl ?? '', cost: text(o.cost), district: o.district ?? '' })),
  })),
  opensAt: toKstLocal(d.settings.opensAt),
  closesAt: toKstLocal(d.settings.closesAt),
  firstComeCap: text(d.settings.firstComeCap),
  voterRollRequired: d.settings.voterRollRequired === true,
  onSiteLatitude: text(d.settings.onSite?.latitude),
  onSiteLongitude: text(d.settings.onSite?.longitude),
  onSiteRadius: text(d.settings.onSite?.radiusMeters),
  onSiteLabel: d.settings.onSite?.label ?? '',
  resultsVisibility: d.settings.resultsVisibility,
  allowRevote: d.settings.allowRevote,
  policyMode: d.policy?.mode ?? 'decision',
  reflectionPercent: text(d.policy?.reflectionPercent ?? 100),
  budgetTotal: text(d.budget?.total),
  budgetCurrency: d.budget?.currency ?? 'KRW',
  budgetRule: d.budget?.rule ?? 'greedy',
});

/**
 * The parsed body as flat dotted keys. koa's body parser (qs with allowDots) nests `a.0.b` into objects
 * and arrays; flattening gives one shape whatever the parser's depth and array limits did.
 */
export const flattenBody = (value: unknown, prefix = '', out: Record<string, string> = {}): Record<string, string> => {
  if (Array.isArray(value)) {
    // A repeated field (e.g. a hidden checkbox default plus the checkbox) counts as its last value.
    if (value.every((v) => typeof v === 'string')) out[prefix] = String(value[value.length - 1] ?? '');
    else value.forEach((v, i) => flattenBody(v, prefix ? `${prefix}.${i}` : String(i), out));
  } else if (value && typeof value === 'object') {
    for (const [key, v] of Object.entries(value)) flattenBody(v, prefix ? `${prefix}.${key}` : key, out);
  } else if (typeof value === 'string') {
    out[prefix] = value;
  }
  return out;
};

const indexesOf = (fields: Record<string, string>, pattern: RegExp): number[] => {
  const found = new Set<number>();
  for (const key of Object.keys(fields)) {
    const match = pattern.exec(key);
    if (match) found.add(Number(match[1]));
  }
  return [...found].sort((a, b) => a - b);
};

const count = (value: string | undefined, fallback: number, max: number): number => {
  const n = Number.parseInt(value ?? '', 10);
  return Number.isInteger(n) && n >= 0 ? Math.min(n, max) : fallback;
};

/**
 * Reads the submitted form. `questionCount` and `questions.N.optionCount` let a browser without
 * JavaScript grow or shrink the form: rows are added blank or cut from the end.
 */
export const readPollForm = (body: unknown): PollForm => {
  const f = flattenBody(body);
  const get = (key: string) => (f[key] ?? '').toString();
  const kind = (POLL_KINDS as readonly string[]).includes(get('kind')) ? (get('kind') as PollKind) : 'general';
  const questionIndexes = indexesOf(f, /^questions\.(\d+)\./);
  const questions = questionIndexes.slice(0, MAX_QUESTIONS).map((qi): PollFormQuestion => {
    const q = `questions.${qi}`;
    const optionIndexes = indexesOf(f, new RegExp(`^questions\\.${qi}\\.options\\.(\\d+)\\.`));
    const options = optionIndexes.slice(0, MAX_OPTIONS).map((oi): PollFormOption => {
      const o = `${q}.options.${oi}`;
      return { id: get(`${o}.id`), label: get(`${o}.label`), description: get(`${o}.description`), imageUrl: get(`${o}.imageUrl`), cost: get(`${o}.cost`), district: get(`${o}.district`) };
    });
    const wanted = count(f[`${q}.optionCount`], options.length, MAX_OPTIONS);
    while (options.length < wanted) options.push(blankOption());
    options.length = wanted;
    return { id: get(`${q}.id`), text: get(`${q}.text`), minChoices: get(`${q}.minChoices`), maxChoices: get(`${q}.maxChoices`), allowFreeText: get(`${q}.allowFreeText`) === 'on', options };
  });
  const wantedQuestions = count(f.questionCount, questions.length || 1, MAX_QUESTIONS);
  while (questions.length < wantedQuestions) questions.push(blankQuestion());
  questions.length = Math.max(1, wantedQuestions);
  return {
    kind, title: get('title'), description: get('description'), tags: get('tags'), questions: questions.map((q) => q ?? blankQuestion()),
    opensAt: get('settings.opensAt'), closesAt: get('settings.closesAt'), firstComeCap: get('settings.firstComeCap'),
    voterRollRequired: get('settings.voterRollRequired') === 'on',
    onSiteLatitude: get('settings.onSite.latitude'), onSiteLongitude: get('settings.onSite.longitude'),
    onSiteRadius: get('settings.onSite.radiusMeters'), onSiteLabel: get('settings.onSite.label'),
    resultsVisibility: get('settings.resultsVisibility') === 'sealed' ? 'sealed' : 'live',
    allowRevote: get('settings.allowRevote') === 'on',
    policyMode: get('policy.mode') === 'reference' ? 'reference' : 'decision',
    reflectionPercent: get('policy.reflectionPercent'),
    budgetTotal: get('budget.total'), budgetCurrency: get('budget.currency') || 'KRW',
    budgetRule: get('budget.rule') === 'equal-shares' ? 'equal-shares' : 'greedy',
  };
};

/**
 * The form changes a no-JavaScript submit button asks for (`_action`): add a question or an option,
 * remove one. Returns null for "save". Kind-specific shapes follow the kind (a VS poll has 2 answers).
 */
export const applyFormAction = (form: PollForm, action: string): PollForm | null => {
  const next: PollForm = structuredClone(form);
  const [verb, qi, oi] = action.split('.');
  const question = next.questions[Number(qi ?? -1)];
  switch (verb) {
    case 'addQuestion':
      if (next.questions.length < MAX_QUESTIONS) next.questions.push(blankQuestion());
      return next;
    case 'removeQuestion':
      if (next.questions.length > 1 && question) next.questions.splice(Number(qi), 1);
      return next;
    case 'addOption':
      if (question && question.options.length < MAX_OPTIONS) question.options.push(blankOption());
      return next;
    case 'removeOption':
      if (question && question.options.length > 1) question.options.splice(Number(oi), 1);
      return next;
    case 'refresh':
      if (next.kind === 'vs') next.questions = [{ ...next.questions[0]!, maxChoices: '1', options: [...next.questions[0]!.options, blankOption(), blankOption()].slice(0, 2) }];
      else if (next.kind !== 'survey') next.questions = next.questions.slice(0, 1);
      return next;
    default:
      return null;
  }
};

const num = (value: string): number | undefined => (value.trim() === '' ? undefined : Number(value.trim()));
const opt = (value: string): string | undefined => (value.trim() === '' ? undefined : value);

/** Fills missing or repeated ids (q1, o1, ...): ids are internal, people never type them. */
const ensureIds = <T extends { id: string }>(items: T[], prefix: string): T[] => {
  const used = new Set<string>();
  return items.map((item, i) => {
    let id = /^[A-Za-z0-9_.:-]{1,64}$/.test(item.id) && !used.has(item.id) ? item.id : `${prefix}${i + 1}`;
    while (used.has(id)) id = `${id}_`;
    used.add(id);
    return { ...item, id };
  });
};

/**
 * The definition a form describes, shape-checked with the API's schema (pollDefinitionInput). Throws
 * InputError whose problems name form fields. The domain's rules (validatePollDefinition) run in the
 * decider and report with the same field names.
 */
export const definitionOfForm = (form: PollForm, imageHosts: readonly string[] = []): Omit<PollDefinition, 'pollId'> => {
  const isBudget = form.kind === 'budget';
  const questions = ensureIds(form.questions, 'q').map((q) => ({
    id: q.id,
    text: isBudget && q.text.trim() === '' ? form.title : q.text,
    minChoices: num(q.minChoices) ?? 0,
    maxChoices: num(q.maxChoices) ?? 1,
    ...(form.kind === 'survey' && q.allowFreeText ? { allowFreeText: true } : {}),
    options: ensureIds(q.options, 'o').map((o) => ({
      id: o.id,
      label: o.label,
      ...(opt(o.description) ? { description: o.description } : {}),
      ...(opt(o.imageUrl) ? { imageUrl: o.imageUrl.trim() } : {}),
      ...(isBudget && opt(o.cost) ? { cost: num(o.cost) } : {}),
      ...(isBudget && opt(o.district) ? { district: o.district.trim() } : {}),
    })),
  }));
  const onSite = [form.onSiteLatitude, form.onSiteLongitude, form.onSiteRadius].some((v) => v.trim() !== '')
    ? { latitude: num(form.onSiteLatitude), longitude: num(form.onSiteLongitude), radiusMeters: num(form.onSiteRadius), ...(opt(form.onSiteLabel) ? { label: form.onSiteLabel.trim() } : {}) }
    : undefined;
  const input = {
    kind: form.kind,
    title: form.title,
    ...(opt(form.description) ? { description: form.description } : {}),
    tags: form.tags.split(',').map((t) => t.trim()).filter((t) => t !== ''),
    questions,
    settings: {
      opensAt: fromKstLocal(form.opensAt),
      closesAt: fromKstLocal(form.closesAt),
      ...(opt(form.firstComeCap) ? { firstComeCap: num(form.firstComeCap) } : {}),
      ...(form.voterRollRequired ? { voterRollRequired: true } : {}),
      ...(onSite ? { onSite } : {}),
      resultsVisibility: form.resultsVisibility,
      allowRevote: form.allowRevote,
    },
    ...(form.kind === 'policy' ? { policy: { mode: form.policyMode, reflectionPercent: form.policyMode === 'decision' ? 100 : num(form.reflectionPercent) } } : {}),
    ...(isBudget ? { budget: { total: num(form.budgetTotal), currency: form.budgetCurrency.trim(), rule: form.budgetRule } } : {}),
  };
  const parsed = pollDefinitionSchema(imageHosts).safeParse(input);
  if (!parsed.success) throw new InputError(fieldProblems(parsed.error));
  return parsed.data as Omit<PollDefinition, 'pollId'>;
};

/** `questions[0].options[1].label` (domain) and `questions.0.options.1.label` (zod) as one form field name. */
export const formFieldOf = (field: string): string => field.replace(/\[(\d+)\]/g, '.$1');

/** Problems grouped by form field name, for the template to show next to each field. */
export const problemsByField = (problems: readonly FieldProblem[]): Record<string, string[]> => {
  const byField: Record<string, string[]> = {};
  for (const p of problems) (byField[formFieldOf(p.field)] ??= []).push(p.problem);
  return byField;
};
