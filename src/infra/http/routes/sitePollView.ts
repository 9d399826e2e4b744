import type { CommentRow, PollRow } from '../../../app/projections/polls.ts';
import type { BallotSelections } from '../../../domain/pollDefinition.ts';
import type { Lang, Translate } from '../i18n/index.ts';
import type { PollResultsView } from '../../../app/polls/pollResults.ts';
import { explainLeftOut } from '../../../domain/budgetExplanation.ts';
import { badgesOf, portalPollHref, formatInstant, formatNumber, isClosedAt, isOpenAt, timeLeft, type VerificationStatus } from './siteViews.ts';

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

const budgetResultsView = (poll: PollRow, results: PollResultsView, env: Env) => {
  const budget = poll.definition.budget;
  const question = poll.definition.questions[0];
  if (poll.kind !== 'budget' || !budget || !question) return null;
  const money = (n: number) => `${formatNumber(Math.round(n), env.lang)} ${budget.currency}`.trim();
  const counts = results.counts?.[question.id] ?? {};
  const published = poll.result?.budget;
  const funded = new Set(published?.funded ?? results.funded ?? []);
  const projects = question.options.map((o) => ({ id: o.id, label: o.label, cost: o.cost ?? 0, approvals: counts[o.id] ?? 0 }));
  const fundedProjects = projects.filter((p) => funded.has(p.id));
  const fundedTotal = fundedProjects.reduce((sum, p) => sum + p.cost, 0);
  // The budget line is the chart's full width; funded projects are laid end to end against it.
  const scale = Math.max(budget.total, fundedTotal);
  let x = 0;
  const segments = fundedProjects.map((p, i) => {
    const segment = { label: p.label, x: (x / scale) * 100, width: (p.cost / scale) * 100, tone: i % 2 };
    x += p.cost;
    return segment;
  });
  const labelOf = new Map(projects.map((p) => [p.id, p.label]));
  const explanations = results.final
    ? explainLeftOut(budget.rule, budget.total, results.ballots, projects, [...funded]).map((e) =>
        env.t(`site.results.leftOut.${e.reason.kind}`, {
          project: labelOf.get(e.id) ?? e.id,
          approvals: formatNumber(e.approvals, env.lang),
          cost: money(e.cost),
          other: labelOf.get(e.outpolled) ?? e.outpolled,
          left: 'left' in e.reason ? money(e.reason.left) : '',
          share: 'perVoterShare' in e.reason ? money(e.reason.perVoterShare) : '',
          together: 'supportersShare' in e.reason ? money(e.reason.supportersShare) : '',
          voters: formatNumber(results.ballots, env.lang),
        }),
      )
    : [];
  return {
    final: results.final,
    ruleName: env.t(`site.results.ruleName.${budget.rule}`),
    ruleText: env.t(`site.results.rule.${budget.rule}`),
    totalText: money(budget.total),
    fundedTotalText: money(fundedTotal),
    remainingText: money(Math.max(0, budget.total - fundedTotal)),
    fundedCount: fundedProjects.length,
    summary: env.t('site.results.fundedSummary', { n: fundedProjects.length, cost: money(fundedTotal), total: money(budget.total), left: money(Math.max(0, budget.total - fundedTotal)) }),
    segments,
    budgetLineX: (budget.total / scale) * 100,
    costTexts: Object.fromEntries(projects.map((p) => [p.id, money(p.cost)])),
    explanations,
  };
};

/**
 * The results chart: counts per option and shares of the voters (not of all choices: where each of two
 * voters approved an answer, it has 100%, not 40%); polled by htmx only while the poll is open and live.
 */
export const resultsView = (poll: PollRow, results: PollResultsView, env: Env) => {
  const funded = new Set(poll.result?.budget?.funded ?? results.funded ?? []);
  const budget = budgetResultsView(poll, results, env);
  return {
    pollId: poll.pollId,
    visible: results.visible,
    final: results.final,
    refresh: results.visible && !results.final && isOpenAt(poll, env.now),
    heading: results.final || isClosedAt(poll, env.now) ? env.t('site.poll.finalResults') : env.t('site.poll.liveResults'),
    ballotsText: env.t('site.poll.ballots', { n: formatNumber(results.ballots, env.lang) }),
    sharesText: poll.definition.questions.some((q) => q.maxChoices > 1) ? env.t('site.results.sharesOfVoters') : '',
    sealedText: env.t('site.poll.sealed', { at: formatInstant(poll.closesAt, env.lang) }),
    budget,
    questions: poll.definition.questions.map((q) => {
      const counts = results.counts?.[q.id] ?? {};
      return {
        id: q.id,
        text: q.text,
        options: q.options.map((o) => {
          const count = counts[o.id] ?? 0;
          const percent = results.ballots === 0 ? 0 : Math.min(100, Math.round((count / results.ballots) * 100));
          return {
            label: o.label,
            count,
            countText: env.t('site.results.count', { n: formatNumber(count, env.lang), percent }),
            percent,
            funded: funded.has(o.id),
            costText: budget?.costTexts[o.id] ?? '',
          };
        }),
      };
    }),
  };
};

/**
 * When the poll opened and closes (or closed): the actual instants once they happened, so a poll opened
 * or closed early by its owner shows when it really did, not its schedule.
 */
export const scheduleTexts = (poll: PollRow, env: Env): { opensAtText: string; closesAtText: string } => {
  const closed = isClosedAt(poll, env.now);
  const opened = poll.openedAt ?? (isOpenAt(poll, env.now) || closed ? poll.opensAt : null);
  const closedAt = poll.closedAt ?? (closed ? poll.closesAt : null);
  return {
    opensAtText: opened ? env.t('site.time.openedAt', { at: formatInstant(opened, env.lang) }) : env.t('site.time.opensAt', { at: formatInstant(poll.opensAt, env.lang) }),
    closesAtText: closedAt ? env.t('site.time.closedAt', { at: formatInstant(closedAt, env.lang) }) : env.t('site.time.until', { at: formatInstant(poll.closesAt, env.lang) }),
  };
};

export const pollHeadView = (poll: PollRow, marks: { hot: boolean; voted: boolean; verification?: VerificationStatus }, env: Env & { portalUrl?: string }) => ({
  pollId: poll.pollId,
  title: poll.title,
  description: poll.definition.description ?? '',
  kind: poll.kind,
  kindLabel: env.t(`site.kind.${poll.kind}`),
  badges: badgesOf(poll, { ...marks, hot: marks.hot && isOpenAt(poll, env.now), portalHref: env.portalUrl ? portalPollHref(env.portalUrl, poll.pollId, env.lang) : undefined }, env.t),
  timeLeft: timeLeft(poll, env.now, env.t, env.lang),
  ...scheduleTexts(poll, env),
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
    format: (n: number) => formatNumber(n, env.lang),
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

/** How an official reflected the result (policy and budget polls), shown on the poll page itself. */
export const reflectionView = (poll: PollRow, env: Env) => {
  const r = poll.reflection;
  if (!r) return null;
  return {
    text: r.text,
    links: r.links.filter((l) => /^https?:\/\//i.test(l)),
    percent: Math.round(r.reflectedPercent),
    status: r.status,
    updated: env.t('site.results.updated', { at: formatInstant(r.updatedAt, env.lang) }),
  };
};
