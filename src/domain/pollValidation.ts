import type { FieldProblem } from './errors.ts';
import { isValidLatLng } from './geo.ts';
import type { OnSitePlace, PollDefinition, PollQuestion } from './pollDefinition.ts';

/**
 * Rules a poll definition must meet whoever creates it; who may create which kind is the decider's
 * business (poll.ts). Returns every problem at once so a form can show them all; empty means valid.
 */
export function validatePollDefinition(definition: PollDefinition): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const check = (ok: boolean, field: string, problem: string): void => {
    if (!ok) problems.push({ field, problem });
  };
  const { kind, questions, settings } = definition;

  check(isNonEmpty(definition.pollId), 'pollId', 'is required');
  check(KINDS.includes(kind), 'kind', `must be one of ${KINDS.join(', ')}`);
  check(isNonEmpty(definition.title) && definition.title.length <= 200, 'title', 'must have 1 to 200 characters');
  check((definition.description ?? '').length <= 5000, 'description', 'must have at most 5000 characters');
  check(definition.tags.length <= 10 && definition.tags.every(isNonEmpty), 'tags', 'must be at most 10 non-empty tags');
  check(unique(questions.map((q) => q.id)), 'questions', 'must have distinct ids');
  questions.forEach((question, index) => questionProblems(question, `questions[${index}]`, kind).forEach((p) => problems.push(p)));

  // Instants must carry an offset: a bare local time means different moments on the server and the ledger nodes.
  check(isInstant(settings.opensAt), 'settings.opensAt', 'must be an ISO-8601 instant with an offset');
  check(isInstant(settings.closesAt), 'settings.closesAt', 'must be an ISO-8601 instant with an offset');
  check(!(Date.parse(settings.opensAt) >= Date.parse(settings.closesAt)), 'settings.closesAt', 'must be after opensAt');
  check(settings.firstComeCap === undefined || isPositiveInteger(settings.firstComeCap), 'settings.firstComeCap', 'must be a positive integer');
  check(['live', 'sealed'].includes(settings.resultsVisibility), 'settings.resultsVisibility', 'must be live or sealed');
  if (settings.onSite) onSitePlaceProblems(settings.onSite, 'settings.onSite').forEach((p) => problems.push(p));

  const first = questions[0];
  const optionCount = first?.options.length ?? 0;
  switch (kind) {
    case 'general':
      check(questions.length === 1, 'questions', 'a general poll has exactly one question');
      check(optionCount >= 2 && optionCount <= 20, 'questions[0].options', 'a general poll has 2 to 20 answers');
      break;
    case 'vs':
      check(questions.length === 1, 'questions', 'a VS poll has exactly one question');
      check(optionCount === 2, 'questions[0].options', 'a VS poll has exactly 2 answers');
      check(first?.maxChoices === 1, 'questions[0].maxChoices', 'a VS poll takes one choice');
      break;
    case 'survey':
      check(questions.length >= 1, 'questions', 'a survey has at least one question');
      questions.forEach((q, i) => check(q.options.length >= 2, `questions[${i}].options`, 'a survey question has at least 2 options'));
      break;
    case 'policy': {
      check(questions.length === 1, 'questions', 'a policy poll has exactly one question');
      check(optionCount >= 2, 'questions[0].options', 'a policy poll has at least 2 answers');
      const policy = definition.policy;
      check(policy !== undefined, 'policy', 'is required for a policy poll');
      if (policy?.mode === 'decision') {
        check(policy.reflectionPercent === 100, 'policy.reflectionPercent', 'must be 100 for a decision');
      } else if (policy?.mode === 'reference') {
        check(isInteger(policy.reflectionPercent, 1, 99), 'policy.reflectionPercent', 'must be an integer from 1 to 99 for a reference');
      } else if (policy) {
        check(false, 'policy.mode', 'must be decision or reference');
      }
      break;
    }
    case 'budget': {
      check(questions.length === 1, 'questions', 'a budget poll has exactly one question listing the projects');
      check(optionCount >= 1, 'questions[0].options', 'a budget poll has at least 1 project');
      first?.options.forEach((o, i) =>
        check(isAmount(o.cost), `questions[0].options[${i}].cost`, 'must be a positive amount with at most 2 decimals'),
      );
      const budget = definition.budget;
      check(budget !== undefined, 'budget', 'is required for a budget poll');
      if (budget) {
        check(isAmount(budget.total), 'budget.total', 'must be a positive amount with at most 2 decimals');
        check(isNonEmpty(budget.currency), 'budget.currency', 'is required');
        check(['greedy', 'equal-shares'].includes(budget.rule), 'budget.rule', 'must be greedy or equal-shares');
        const greedy = budget.rule === 'greedy';
        check(budget.minApprovals === undefined || (greedy && isPositiveInteger(budget.minApprovals)), 'budget.minApprovals', 'is a positive integer, for greedy only');
        check(budget.stopAtFirstMisfit === undefined || (greedy && typeof budget.stopAtFirstMisfit === 'boolean'), 'budget.stopAtFirstMisfit', 'is true or false, for greedy only');
        check(budget.completion === undefined || (!greedy && ['add1', 'none'].includes(budget.completion)), 'budget.completion', 'is add1 or none, for equal shares only');
        check(budget.comparison === undefined || (!greedy && ['none', 'satisfaction'].includes(budget.comparison)), 'budget.comparison', 'is none or satisfaction, for equal shares only');
      }
      break;
    }
  }
  check(kind === 'policy' || definition.policy === undefined, 'policy', 'is only for policy polls');
  check(kind === 'budget' || definition.budget === undefined, 'budget', 'is only for budget polls');
  return problems;
}

/** What an official reports after a policy or budget poll: how the result was acted on. */
export interface Reflection {
  text: string;
  links: string[];
  /** How far the result was reflected in the policy or budget, 0..100. */
  reflectedPercent: number;
  /** Free label chosen by the official, e.g. "in progress", "done". */
  status: string;
}

/** Problems with a reflection; empty means valid. */
export function reflectionProblems(reflection: Reflection): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const { text, links, reflectedPercent, status } = reflection;
  if (!(text.trim().length > 0 && text.length <= 10_000)) problems.push({ field: 'text', problem: 'must have 1 to 10000 characters' });
  if (links.length > 20 || !links.every(isWebLink)) problems.push({ field: 'links', problem: 'must be at most 20 http(s) links' });
  if (!(reflectedPercent >= 0 && reflectedPercent <= 100)) problems.push({ field: 'reflectedPercent', problem: 'must be from 0 to 100' });
  if (!(status.trim().length > 0 && status.length <= 100)) problems.push({ field: 'status', problem: 'must have 1 to 100 characters' });
  return problems;
}

/** Problems with an on-site place; `field` prefixes the field names. */
export function onSitePlaceProblems(place: OnSitePlace, field: string): FieldProblem[] {
  const problems: FieldProblem[] = [];
  if (!isValidLatLng(place)) problems.push({ field, problem: 'must have a latitude within ±90 and a longitude within ±180' });
  // 50 km covers a whole city district; more means on-site is not what the author meant.
  if (!(place.radiusMeters > 0 && place.radiusMeters <= 50_000)) {
    problems.push({ field: `${field}.radiusMeters`, problem: 'must be above 0 and at most 50000' });
  }
  return problems;
}

function questionProblems(question: PollQuestion, field: string, kind: PollDefinition['kind']): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const check = (ok: boolean, name: string, problem: string): void => {
    if (!ok) problems.push({ field: `${field}${name}`, problem });
  };
  const { options, minChoices, maxChoices } = question;
  check(isNonEmpty(question.id), '.id', 'is required');
  check(isNonEmpty(question.text), '.text', 'is required');
  check(unique(options.map((o) => o.id)), '.options', 'must have distinct ids');
  options.forEach((o, i) => {
    check(isNonEmpty(o.id), `.options[${i}].id`, 'is required');
    check(isNonEmpty(o.label), `.options[${i}].label`, 'is required');
    check(kind === 'budget' || o.cost === undefined, `.options[${i}].cost`, 'is only for budget polls');
  });
  check(isInteger(minChoices, 0, options.length), '.minChoices', `must be an integer from 0 to ${options.length}`);
  check(
    isInteger(maxChoices, Math.max(1, minChoices), options.length),
    '.maxChoices',
    'must be an integer from max(1, minChoices) to the number of options',
  );
  check(kind === 'survey' || !question.allowFreeText, '.allowFreeText', 'is only for survey questions');
  return problems;
}

const KINDS: readonly string[] = ['general', 'vs', 'survey', 'policy', 'budget'];

const isWebLink = (link: string): boolean => URL.canParse(link) && /^https?:$/.test(new URL(link).protocol);
const isNonEmpty = (value: unknown): value is string => typeof value === 'string' && value.trim().length > 0;
const unique = (values: readonly string[]): boolean => new Set(values).size === values.length;
const isInteger = (value: unknown, min: number, max: number): boolean =>
  Number.isInteger(value) && (value as number) >= min && (value as number) <= max;
const isPositiveInteger = (value: unknown): boolean => isInteger(value, 1, Number.MAX_SAFE_INTEGER);
/**
 * A positive money amount written with at most 2 decimals and at most 15 significant digits, so that the
 * shortest digits of the double are exactly the decimal written (the budget rules read it back that way).
 */
const isAmount = (value: unknown): boolean =>
  typeof value === 'number' && Number.isFinite(value) && value > 0 && value < 1e13 && /^\d+(\.\d{1,2})?$/.test(String(value));
const isInstant = (value: unknown): boolean =>
  typeof value === 'string' &&
  /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(value) &&
  !Number.isNaN(Date.parse(value));
