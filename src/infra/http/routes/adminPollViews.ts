import type { CommentRow, PollRow } from '../../../app/projections/polls.ts';
import type { PollStatus } from '../../../domain/poll.ts';
import { POLL_KINDS, toKstLocal, type PollForm } from '../pollForm.ts';
import type { Translate } from '../i18n/index.ts';
import { formatNumber } from './siteViews.ts';

/**
 * View models of the admin pages: templates get strings and flags, never rows or domain states.
 */
export interface RollReport {
  /** Which list the upload went to: the voter roll or the exclusion list (absent: the roll). */
  list?: 'roll' | 'exclusions';
  added: number;
  duplicates: number;
  rejected: Array<{ line: number; reason: string }>;
  rejectedTotal: number;
  error: string | null;
}

/** The status that counts now, as the deciders judge it (the scheduler may not have written it yet). */
export const statusNow = (poll: PollRow, now: string): PollStatus => {
  if (poll.status !== 'Scheduled' && poll.status !== 'Open') return poll.status;
  if (Date.parse(now) >= Date.parse(poll.closesAt)) return 'Closed';
  if (poll.status === 'Scheduled' && Date.parse(now) >= Date.parse(poll.opensAt)) return 'Open';
  return poll.status;
};

/** A Korea-time instant for people: "2025-03-01 09:00 (KST)". */
const kst = (iso: string | null | undefined) => (iso ? `${toKstLocal(iso).replace('T', ' ')} KST` : '');

const encode = encodeURIComponent;

const turnoutLine = (t: Translate, poll: PollRow, ballots: number): string => {
  const base = poll.rollSize > 0 ? poll.rollSize : poll.definition.settings.firstComeCap;
  if (!base) return t('admin.turnout.ballots', { ballots });
  return t('admin.turnout.ofBase', { ballots, base, percent: Math.round((ballots / base) * 1000) / 10 });
};

export const adminPollRowView = (t: Translate, poll: PollRow, now: string) => {
  const status = statusNow(poll, now);
  return {
    pollId: poll.pollId,
    href: `/admin/polls/${encode(poll.pollId)}`,
    title: poll.title,
    kind: t(`admin.kind.${poll.kind}`),
    status: t(`admin.status.${status}`),
    statusKey: status,
    opensAt: kst(poll.opensAt),
    closesAt: kst(poll.closesAt),
    turnout: turnoutLine(t, poll, poll.ballots),
    editable: status === 'Draft',
  };
};

export const turnoutView = (t: Translate, poll: PollRow, live: { ballots: number; counts: Record<string, Record<string, number>> }, now: string) => {
  const status = statusNow(poll, now);
  // Sealed means sealed for everyone until close, officials too: no one steers a vote by its running count.
  const sealed = poll.definition.settings.resultsVisibility === 'sealed' && (status === 'Open' || status === 'Scheduled' || status === 'Draft');
  return {
    pollId: poll.pollId,
    url: `/admin/polls/${encode(poll.pollId)}/turnout`,
    polling: status === 'Open',
    line: turnoutLine(t, poll, live.ballots),
    ballots: live.ballots,
    sealed,
    questions: sealed
      ? []
      : poll.definition.questions.map((q) => {
          const counts = live.counts[q.id] ?? {};
          return { text: q.text, options: q.options.map((o) => ({ label: o.label, count: counts[o.id] ?? 0, max: Math.max(1, live.ballots) })) };
        }),
  };
};

export const adminPollView = (
  t: Translate,
  poll: PollRow,
  live: { ballots: number; counts: Record<string, Record<string, number>> },
  comments: CommentRow[],
  now: string,
  extra: { done: string | null; error: string | null; reflection: { values: Record<string, string>; problems: Record<string, string[]> } | null },
) => {
  const status = statusNow(poll, now);
  const d = poll.definition;
  const base = `/admin/polls/${encode(poll.pollId)}`;
  const reflectable = (d.kind === 'policy' || d.kind === 'budget') && (status === 'ResultPublished' || status === 'Reflected');
  const current = poll.reflection;
  const duration = Date.parse(poll.closesAt) - Date.parse(poll.opensAt);
  const opens = Date.parse(now) + 86_400_000;
  return {
    title: poll.title,
    base,
    done: extra.done ? t(`admin.done.${extra.done}`) : null,
    error: extra.error,
    poll: {
      pollId: poll.pollId,
      title: poll.title,
      description: d.description ?? '',
      kind: t(`admin.kind.${d.kind}`),
      status: t(`admin.status.${status}`),
      opensAt: kst(poll.opensAt),
      closesAt: kst(poll.closesAt),
      tags: d.tags.join(', '),
      policy: d.policy ? t(`admin.policy.${d.policy.mode}`, { percent: d.policy.reflectionPercent }) : null,
      budget: d.budget ? t('admin.budget.summary', { total: formatNumber(d.budget.total, 'ko'), currency: d.budget.currency, rule: t(`admin.budget.rule.${d.budget.rule}`) }) : null,
      settings: [
        t(`admin.results.${d.settings.resultsVisibility}`),
        t(d.settings.allowRevote ? 'admin.revote.on' : 'admin.revote.off'),
        ...(d.settings.firstComeCap ? [t('admin.cap.summary', { cap: d.settings.firstComeCap })] : []),
        ...(d.settings.voterRollRequired ? [t('admin.roll.summary', { size: poll.rollSize })] : []),
        ...(d.settings.onSite ? [t('admin.onSite.summary', { lat: d.settings.onSite.latitude, lng: d.settings.onSite.longitude, radius: d.settings.onSite.radiusMeters, label: d.settings.onSite.label ?? '' })] : []),
      ],
      questions: d.questions.map((q) => ({
        text: q.text,
        choices: t('admin.choices.summary', { min: q.minChoices, max: q.maxChoices }),
        freeText: q.allowFreeText === true,
        options: q.options.map((o) => ({ label: o.label, description: o.description ?? '', cost: o.cost ? `${formatNumber(o.cost, 'ko')} ${d.budget?.currency ?? ''}` : '', district: o.district ?? '' })),
      })),
    },
    actions: {
      edit: status === 'Draft',
      schedule: status === 'Draft',
      open: status === 'Scheduled',
      close: status === 'Open',
      publish: status === 'Closed',
      roll: status === 'Draft' || status === 'Scheduled',
      reflect: reflectable,
    },
    resultPublished: poll.result !== null,
    funded: poll.result?.budget ? poll.result.budget.funded.map((id) => d.questions[0]?.options.find((o) => o.id === id)?.label ?? id) : [],
    turnout: turnoutView(t, poll, live, now),
    duplicate: { opensAt: toKstLocal(new Date(opens).toISOString()), closesAt: toKstLocal(new Date(opens + Math.max(duration, 3_600_000)).toISOString()) },
    reflection: {
      exists: current !== null,
      current: current ? { ...current, updatedAt: kst(current.updatedAt) } : null,
      values: extra.reflection?.values ?? {
        text: current?.text ?? '', links: (current?.links ?? []).join('\n'),
        reflectedPercent: current ? String(current.reflectedPercent) : d.policy ? String(d.policy.reflectionPercent) : '',
        status: current?.status ?? '',
      },
      problems: translatedProblems(t, extra.reflection?.problems ?? {}, 'reflection'),
    },
    comments: comments.map((c) => ({ commentId: c.commentId, text: c.text, postedAt: kst(c.postedAt), hidden: c.hidden, hideUrl: `${base}/comments/${encode(c.commentId)}/hide` })),
  };
};

export const rollReportView = (t: Translate, poll: PollRow, report: RollReport | null, now: string) => {
  const status = statusNow(poll, now);
  return {
    title: t('admin.roll.title'),
    poll: { pollId: poll.pollId, title: poll.title, href: `/admin/polls/${encode(poll.pollId)}`, rollSize: poll.rollSize, exclusionSize: poll.exclusionSize ?? 0, required: poll.definition.settings.voterRollRequired === true },
    canUpload: status === 'Draft' || status === 'Scheduled',
    action: `/admin/polls/${encode(poll.pollId)}/roll`,
    report: report
      ? { ...report, list: report.list ?? 'roll', more: report.rejectedTotal - report.rejected.length, rejected: report.rejected.map((r) => ({ line: r.line, reason: t(`admin.roll.reason.${r.reason}`) === `admin.roll.reason.${r.reason}` ? r.reason : t(`admin.roll.reason.${r.reason}`) })) }
      : null,
  };
};

/**
 * A field's problem in the official's language. The shape check (zod) and the domain rules report in
 * English for the API; forms say per field what a valid value is, keyed by the field's path with the
 * indexes taken out (`questions.N.options.N.cost`), and for the answers as a group by the poll's kind.
 */
export const problemText = (t: Translate, field: string, kind: string): string => {
  const path = field.replace(/\.\d+(?=\.|$)/g, '.N');
  for (const key of [`admin.problem.${path}.${kind}`, `admin.problem.${path}`]) {
    const text = t(key);
    if (text !== key) return text;
  }
  return t('admin.problem.generic');
};

/** Every field's problems translated, once each. */
export const translatedProblems = (t: Translate, problems: Record<string, string[]>, kind: string): Record<string, string[]> =>
  Object.fromEntries(Object.keys(problems).map((field) => [field, [problemText(t, field, kind)]]));

/** A form field's id: dotted names make awkward ids for CSS and scripts. */
export const fieldId = (name: string) => `f-${name.replace(/\./g, '-')}`;

export const pollFormView = (t: Translate, form: PollForm, target: { action: string; pollId?: string }, rawProblems: Record<string, string[]>) => {
  const problems = translatedProblems(t, rawProblems, form.kind);
  const kindLabel = t(`admin.kind.${form.kind}`);
  const summary = Object.entries(problems).map(([field, messages]) => ({ href: `#${fieldAnchor(field, problems)}`, label: fieldLabel(t, field), message: messages.join('; ') }));
  return {
    title: target.pollId ? t('admin.form.editTitle', { kind: kindLabel }) : t('admin.form.newTitle', { kind: kindLabel }),
    action: target.action,
    cancel: target.pollId ? `/admin/polls/${encode(target.pollId)}` : '/admin',
    isEdit: Boolean(target.pollId),
    form,
    kinds: POLL_KINDS.map((k) => ({ value: k, label: t(`admin.kind.${k}`) })),
    multiQuestion: form.kind === 'survey',
    fixedOptions: form.kind === 'vs',
    isBudget: form.kind === 'budget',
    isPolicy: form.kind === 'policy',
    summary,
    /** Problems of one field, and the attributes that tie them to it. */
    err: (name: string): string[] => problems[name] ?? [],
    /** aria-invalid and aria-describedby for a field with problems (ids come from our own field names). */
    inv: (name: string): string => (problems[name] ? ` aria-invalid="true" aria-describedby="${fieldId(name)}-error"` : ''),
    fid: fieldId,
  };
};

/** Problems on a group (`questions.0.options`) link to its first field, which exists. */
const fieldAnchor = (field: string, _problems: Record<string, string[]>) => {
  if (/^questions\.\d+\.options$/.test(field)) return fieldId(`${field}.0.label`);
  if (field === 'settings.onSite') return fieldId('settings.onSite.latitude');
  if (field === 'policy') return fieldId('policy.mode');
  if (field === 'budget') return fieldId('budget.total');
  if (field === 'questions') return fieldId('questions.0.text');
  return fieldId(field);
};

/** "Question 1, answer 2: label" for the error summary. */
const fieldLabel = (t: Translate, field: string): string => {
  const parts = field.split('.');
  const words: string[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    const index = parts[i + 1];
    if ((part === 'questions' || part === 'options') && index !== undefined && /^\d+$/.test(index)) {
      words.push(t(`admin.form.${part === 'questions' ? 'questionN' : 'optionN'}`, { n: Number(index) + 1 }));
      i++;
    } else words.push(t(`admin.field.${part}`) === `admin.field.${part}` ? part : t(`admin.field.${part}`));
  }
  return words.join(' · ');
};
