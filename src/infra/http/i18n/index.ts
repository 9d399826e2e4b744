import { en } from './en.ts';
import { ko } from './ko.ts';
import { messages as site } from './messages/site.ts';
import { messages as admin } from './messages/admin.ts';
import { messages as ledger } from './messages/ledger.ts';
import { messages as request } from './messages/request.ts';

export type Lang = 'ko' | 'en';
export const LANGS: readonly Lang[] = ['ko', 'en'];
export type MessageKey = keyof typeof ko;

/** Feature message files (./messages/*.ts), merged over the site-wide ko.ts / en.ts. */
const features: Array<{ ko: Record<string, string>; en: Record<string, string> }> = [site, ledger, admin, request];

const dictionaries: Record<Lang, Record<string, string>> = {
  ko: Object.assign({}, ko, ...features.map((f) => f.ko)),
  en: Object.assign({}, en, ...features.map((f) => f.en)),
};

/**
 * English words that change for a count of one, by message and count parameter: where the parameter is
 * 1, the plural phrase in the template becomes the singular ("1 vote", not "1 votes"; "1 poll · 3
 * ballots"). Korean nouns do not inflect for number, so only English needs them.
 */
export const englishSingular: Record<string, Record<string, readonly [plural: string, singular: string]>> = {
  'home.stats': { polls: ['polls', 'poll'], ballots: ['ballots', 'ballot'] },
  'admin.turnout.count': { count: ['votes', 'vote'] },
  'admin.form.problems': { n: ['things', 'thing'] },
  'admin.roll.duplicates': { n: ['lines', 'line'] },
  'admin.roll.rejected': { n: ['lines', 'line'] },
  'admin.cap.summary': { cap: ['voters', 'voter'] },
  'site.poll.cap': { n: ['voters', 'voter'] },
  'site.budget.limit': { max: ['projects', 'project'] },
  'site.time.left.days': { n: ['days', 'day'] },
  'site.time.left.hours': { n: ['hours', 'hour'] },
  'site.time.left.minutes': { n: ['minutes', 'minute'] },
  'site.poll.ballots': { n: ['ballots', 'ballot'] },
};

/**
 * Message lookup with `{name}` placeholders. Korean is the source of truth for keys (en must have them
 * all: the type of `en` enforces it). A missing key shows the key itself, never a crash.
 */
export const translator = (lang: Lang) => (key: MessageKey | string, params: Record<string, string | number> = {}): string => {
  let template = (dictionaries[lang] as Record<string, string>)[key] ?? (dictionaries.ko as Record<string, string>)[key] ?? key;
  const singulars = lang === 'en' ? englishSingular[key] : undefined;
  for (const [param, [plural, singular]] of Object.entries(singulars ?? {}))
    if (String(params[param]) === '1') template = template.replace(`{${param}} ${plural}`, `{${param}} ${singular}`);
  return template.replace(/\{(\w+)\}/g, (_, name: string) => (name in params ? String(params[name]) : `{${name}}`));
};

export type Translate = ReturnType<typeof translator>;

/**
 * A refusal's message in `t`'s language: the translation of its stable code (`error.<code>`, or the
 * site's `site.error.<code>`) where there is one, else `fallback` (the error's own English message).
 */
export const refusalMessage = (t: Translate, code: string, fallback: string): string => {
  for (const key of [`error.${code}`, `site.error.${code}`]) {
    const text = t(key);
    if (text !== key) return text;
  }
  return fallback;
};

export const parseLang = (value: unknown): Lang | null => (value === 'ko' || value === 'en' ? value : null);
