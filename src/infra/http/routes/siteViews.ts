import type { Context } from 'koa';
import type { PollRow } from '../../../app/projections/polls.ts';
import { DomainError, httpStatusOf } from '../../../domain/errors.ts';
import type { PollKind } from '../../../domain/pollDefinition.ts';
import type { Lang, Translate } from '../i18n/index.ts';
import type { PageGlobals } from '../views.ts';
import type { VerificationStatus } from '../../readModels/pollVerification.ts';

/**
 * What the citizen-site pages share: the view models of poll cards, dates in Korea's time zone, and
 * domain error codes in the voter's language. Templates get these, never a row.
 */
export type { VerificationStatus };

/** Polls without an entry in the map are shown as "pending". */
export type VerificationLookup = (pollIds: string[]) => Promise<Map<string, { status: VerificationStatus }>>;

export interface SiteUser {
  id: string;
  roles: string[];
}

export interface Badge {
  kind: 'hot' | 'recommended' | 'policy' | 'verified' | 'failed' | 'pending' | 'voted';
  label: string;
  /** The verification badge links to the poll's recount on the portal. */
  href?: string;
}

export interface PollCardView {
  pollId: string;
  href: string;
  title: string;
  kind: PollKind;
  kindLabel: string;
  badges: Badge[];
  timeLeft: string;
  votes: string;
  tags: string[];
}

export const globalsOf = (ctx: Context): PageGlobals => ctx.state.page as PageGlobals;
export const userOf = (ctx: Context): SiteUser | null => (ctx.state.user as SiteUser | undefined) ?? null;

// Intl formatters are costly to build (a budget poll page formats a hundred numbers), so one per language.
const instantFormats = {
  ko: new Intl.DateTimeFormat('ko-KR', { timeZone: 'Asia/Seoul', dateStyle: 'medium', timeStyle: 'short', hourCycle: 'h23' }),
  en: new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Seoul', dateStyle: 'medium', timeStyle: 'short', hourCycle: 'h23' }),
} satisfies Record<Lang, Intl.DateTimeFormat>;
const numberFormats = { ko: new Intl.NumberFormat('ko-KR'), en: new Intl.NumberFormat('en-GB') } satisfies Record<Lang, Intl.NumberFormat>;

/** A date and time as people in Korea read it, whatever the server's time zone. */
export const formatInstant = (iso: string, lang: Lang): string => instantFormats[lang].format(new Date(iso));

export const formatNumber = (n: number, lang: Lang): string => numberFormats[lang].format(n);

/** Whether the poll takes ballots at `now` (by the clock, as the deciders judge it). */
export const isOpenAt = (poll: PollRow, now: string): boolean =>
  Date.parse(poll.closesAt) > Date.parse(now) && (poll.status === 'Open' || (poll.status === 'Scheduled' && Date.parse(poll.opensAt) <= Date.parse(now)));

export const isClosedAt = (poll: PollRow, now: string): boolean =>
  !['Open', 'Scheduled', 'Draft'].includes(poll.status) || Date.parse(poll.closesAt) <= Date.parse(now);

export const timeLeft = (poll: PollRow, now: string, t: Translate, lang: Lang): string => {
  if (isClosedAt(poll, now)) return t('site.time.closed');
  if (!isOpenAt(poll, now)) return t('site.time.opensAt', { at: formatInstant(poll.opensAt, lang) });
  const minutes = Math.max(1, Math.floor((Date.parse(poll.closesAt) - Date.parse(now)) / 60_000));
  if (minutes >= 2 * 1440) return t('site.time.left.days', { n: Math.floor(minutes / 1440) });
  if (minutes >= 120) return t('site.time.left.hours', { n: Math.floor(minutes / 60) });
  return t('site.time.left.minutes', { n: minutes });
};

const verificationBadge = (status: VerificationStatus, t: Translate, href: string | undefined): Badge => {
  const badge: Badge = status === 'completed' ? { kind: 'verified', label: t('site.badge.verified') }
    : status === 'failed' ? { kind: 'failed', label: t('site.badge.failed') }
      : { kind: 'pending', label: t('site.badge.pending') };
  return href ? { ...badge, href } : badge;
};

/** Where the poll's recount lives on the verification portal, in the visitor's language. */
export const portalPollHref = (portalUrl: string, pollId: string, lang: Lang): string =>
  `${portalUrl.replace(/\/$/, '')}/poll?poll=${encodeURIComponent(pollId)}${lang === 'en' ? '&lang=en' : ''}`;

/** A portal page in the visitor's language (the portal is Korean first, like the site). */
export const portalHref = (portalUrl: string, lang: Lang, query: Record<string, string> = {}): string => {
  const params = new URLSearchParams(query);
  if (lang === 'en') params.set('lang', 'en');
  const qs = params.toString();
  return `${portalUrl.replace(/\/$/, '')}/${qs ? `?${qs}` : ''}`;
};

/** The badges of a poll: policy mode, hot, recommended, voted, and its ledger verification. */
export const badgesOf = (
  poll: PollRow,
  marks: { hot?: boolean; recommended?: boolean; voted?: boolean; verification?: VerificationStatus; portalHref?: string },
  t: Translate,
): Badge[] => {
  const badges: Badge[] = [];
  const policy = poll.definition.policy;
  if (policy) badges.push({ kind: 'policy', label: policy.mode === 'decision' ? t('site.badge.decision') : t('site.badge.reference', { percent: policy.reflectionPercent }) });
  if (marks.hot) badges.push({ kind: 'hot', label: t('site.badge.hot') });
  if (marks.recommended) badges.push({ kind: 'recommended', label: t('site.badge.recommended') });
  if (marks.voted) badges.push({ kind: 'voted', label: t('site.badge.voted') });
  badges.push(verificationBadge(marks.verification ?? 'pending', t, marks.portalHref));
  return badges;
};

export interface CardContext {
  now: string;
  t: Translate;
  lang: Lang;
  hot: Set<string>;
  recommended: Set<string>;
  voted: Set<string>;
  verifications: Map<string, { status: VerificationStatus }>;
  /** The verification portal's base URL: verification badges link to each poll's recount there. */
  portalUrl?: string;
}

export const cardOf = (poll: PollRow, c: CardContext): PollCardView => ({
  pollId: poll.pollId,
  href: `/polls/${encodeURIComponent(poll.pollId)}`,
  title: poll.title,
  kind: poll.kind,
  kindLabel: c.t(`site.kind.${poll.kind}`),
  badges: badgesOf(poll, { hot: c.hot.has(poll.pollId) && isOpenAt(poll, c.now), recommended: c.recommended.has(poll.pollId), voted: c.voted.has(poll.pollId), verification: c.verifications.get(poll.pollId)?.status, portalHref: c.portalUrl ? portalPollHref(c.portalUrl, poll.pollId, c.lang) : undefined }, c.t),
  timeLeft: timeLeft(poll, c.now, c.t, c.lang),
  votes: c.t('site.votes', { n: formatNumber(poll.ballots, c.lang) }),
  tags: poll.tags,
});

/** A refusal as the voter reads it: the status of the error's kind and a message in their language. */
export const refusalOf = (error: unknown, t: Translate): { status: number; code: string; message: string } | null => {
  if (!(error instanceof DomainError)) return null;
  const key = `site.error.${error.code}`;
  const translated = t(key);
  return { status: httpStatusOf(error), code: error.code, message: translated === key ? t('site.error.generic') : translated };
};

/**
 * True when htmx asks for one fragment (not a boosted navigation, which wants the whole page) aimed at
 * `targetId`. Boosted links and forms send HX-Request too, so HX-Request alone is not enough.
 */
export const wantsFragment = (ctx: Context, targetId: string): boolean =>
  ctx.get('HX-Request') === 'true' && ctx.get('HX-Boosted') !== 'true' && ctx.get('HX-Target') === targetId;

/** A string form field (the first, when a name repeats). */
export const formField = (ctx: Context, name: string): string => {
  const value = (ctx.request.body as Record<string, unknown> | undefined)?.[name];
  const first = Array.isArray(value) ? value[0] : value;
  return typeof first === 'string' ? first : '';
};

/** Every value of a repeated form field (checkboxes). */
export const formFields = (ctx: Context, name: string): string[] => {
  const value = (ctx.request.body as Record<string, unknown> | undefined)?.[name];
  return (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === 'string' && v !== '');
};

