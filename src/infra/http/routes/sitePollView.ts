import type { CommentRow, PollRow } from '../../../app/projections/polls.ts';
import type { BallotSelections } from '../../../domain/pollDefinition.ts';
import type { Lang, Translate } from '../i18n/index.ts';
import type { PollResultsView } from './pollsApi.ts';
import { badgesOf, formatInstant, formatNumber, isClosedAt, isOpenAt, timeLeft, type VerificationStatus } from './siteViews.ts';

/** Form field names: one per question, so a form post maps straight onto BallotSelections. */
export const choiceField = (questionId: string) => `choice__${questionId}`;
export const freeTextField = (questionId: string) => `text__${questionId}`;

/** What the poll views need of the request: the clock and the visitor's language. */
export interface Env {
  now: string;
  t: Translate;
  lang: Lang;
}

const chooseHint = (min: number, max: number, t: Translate) =>
  max === 1 ? t('site.poll.chooseOne') : min <= 1 ? t('site.poll.chooseUpTo', { max }) : t('site.poll.chooseRange', { min, max });

/** The voting form's view model; `selected` keeps a refused voter's choices checked. */
export const questionsView = (poll: PollRow, selected: BallotSelections | null, district: string | null, env: Env) =>
  poll.definition.questions.map((q, index) => ({
    id: q.id,
    number: index + 1,
    text: q.text,
    field: choiceField(q.id),
    textField: freeTextField(q.id),
    multiple: q.maxChoices > 1,
    min: q.minChoices,
    max: q.maxChoices,
    hint: poll.kind === 'budget' ? env.t('site.budget.limit', { max: q.maxChoices }) : chooseHint(q.minChoices, q.maxChoices, env.t),
    allowFreeText: q.allowFreeText === true,
    freeText: selected?.freeText?.[q.id] ?? '',
    options: q.options.map((o) => ({
      id: o.id,
      inputId: `opt-${q.id}-${o.id}`.replace(/[^A-Za-z0-9_-]/g, '_'),
      label: o.label,
      description: o.description ?? '',
      imageUrl: o.imageUrl ?? '',
      cost: o.cost ?? 0,
      costText: o.cost !== undefined ? `${formatNumber(o.cost, env.lang)} ${poll.definition.budget?.currency ?? ''}`.trim() : '',
      district: o.district ?? '',
      hidden: district !== null && o.district !== district,
      checked: selected?.selections[q.id]?.includes(o.id) ?? false,
    })),
  }));

/** The results chart: counts and shares per option; polled by htmx only while the poll is open and live. */
export const resultsView = (poll: PollRow, results: PollResultsView, env: Env) => {
  const funded = new Set(results.funded ?? []);
  return {
    pollId: poll.pollId,
    visible: results.visible,
    final: results.final,
    refresh: results.visible && !results.final && isOpenAt(poll, env.now),
    heading: results.final || isClosedAt(poll, env.now) ? env.t('site.poll.finalResults') : env.t('site.poll.liveResults'),
    ballotsText: env.t('site.poll.ballots', { n: formatNumber(results.ballots, env.lang) }),
    sealedText: env.t('site.poll.sealed', { at: formatInstant(poll.closesAt, env.lang) }),
    questions: poll.definition.questions.map((q) => {
      const counts = results.counts?.[q.id] ?? {};
      const total = Object.values(counts).reduce((a, b) => a + b, 0);
      return {
        text: q.text,
        options: q.options.map((o) => {
          const count = counts[o.id] ?? 0;
          return { label: o.label, count, countText: formatNumber(count, env.lang), percent: total === 0 ? 0 : Math.round((count / total) * 100), funded: funded.has(o.id) };
        }),
      };
    }),
  };
};

export const pollHeadView = (poll: PollRow, marks: { hot: boolean; voted: boolean; verification?: VerificationStatus }, env: Env) => ({
  pollId: poll.pollId,
  title: poll.title,
  description: poll.definition.description ?? '',
  kind: poll.kind,
  kindLabel: env.t(`site.kind.${poll.kind}`),
  badges: badgesOf(poll, marks, env.t),
  timeLeft: timeLeft(poll, env.now, env.t, env.lang),
  closesAtText: env.t('site.time.until', { at: formatInstant(poll.closesAt, env.lang) }),
  votes: env.t('site.votes', { n: formatNumber(poll.ballots, env.lang) }),
  tags: poll.tags,
  state: isOpenAt(poll, env.now) ? 'open' : isClosedAt(poll, env.now) ? 'closed' : 'notOpen',
  allowRevote: poll.definition.settings.allowRevote,
  capText: poll.definition.settings.firstComeCap ? env.t('site.poll.cap', { n: formatNumber(poll.definition.settings.firstComeCap, env.lang) }) : '',
  rollRequired: poll.definition.settings.voterRollRequired === true,
});

export const budgetView = (poll: PollRow, district: string | null, env: Env) => {
  const budget = poll.definition.budget;
  if (poll.kind !== 'budget' || !budget) return null;
  const districts = [...new Set(poll.definition.questions.flatMap((q) => q.options.map((o) => o.district).filter((d): d is string => !!d)))];
  return {
    total: budget.total,
    currency: budget.currency,
    totalText: `${formatNumber(budget.total, env.lang)} ${budget.currency}`,
    ruleText: env.t(`site.budget.rule.${budget.rule}`),
    districts,
    district: district && districts.includes(district) ? district : '',
  };
};

export const onSiteView = (poll: PollRow, env: Env) => {
  const place = poll.definition.settings.onSite;
  if (!place) return null;
  return { explain: env.t('site.geo.explain', { place: place.label ?? `${place.latitude}, ${place.longitude}`, radius: formatNumber(place.radiusMeters, env.lang) }) };
};

export const commentsView = (comments: CommentRow[], env: Env) =>
  comments.filter((c) => !c.hidden).map((c) => ({ id: c.commentId, text: c.text, at: formatInstant(c.postedAt, env.lang) }));
