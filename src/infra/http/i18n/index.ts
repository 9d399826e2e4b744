import { en } from './en.ts';
import { ko } from './ko.ts';
import { messages as site } from './messages/site.ts';
import { messages as admin } from './messages/admin.ts';
import { messages as ledger } from './messages/ledger.ts';

export type Lang = 'ko' | 'en';
export const LANGS: readonly Lang[] = ['ko', 'en'];
export type MessageKey = keyof typeof ko;

/** Feature message files (./messages/*.ts), merged over the site-wide ko.ts / en.ts. */
const features: Array<{ ko: Record<string, string>; en: Record<string, string> }> = [site, ledger, admin];

const dictionaries: Record<Lang, Record<string, string>> = {
  ko: Object.assign({}, ko, ...features.map((f) => f.ko)),
  en: Object.assign({}, en, ...features.map((f) => f.en)),
};

/**
 * English forms for a count of one, used when the message's count parameter is 1. Korean nouns do not
 * inflect for number, so only English needs them ("1 vote", not "1 votes").
 */
const englishSingular: Record<string, { param: string; template: string }> = {
  'admin.turnout.count': { param: 'count', template: '{count} vote' },
  'admin.form.problems': { param: 'n', template: '1 thing to fix' },
  'admin.roll.duplicates': { param: 'n', template: 'Duplicates skipped: 1 line' },
  'admin.roll.rejected': { param: 'n', template: 'Rejected: 1 line' },
  'site.time.left.days': { param: 'n', template: '1 day left' },
  'site.time.left.hours': { param: 'n', template: '1 hour left' },
  'site.time.left.minutes': { param: 'n', template: '1 minute left' },
  'site.poll.ballots': { param: 'n', template: '1 ballot in total' },
};

/**
 * Message lookup with `{name}` placeholders. Korean is the source of truth for keys (en must have them
 * all: the type of `en` enforces it). A missing key shows the key itself, never a crash.
 */
export const translator = (lang: Lang) => (key: MessageKey | string, params: Record<string, string | number> = {}): string => {
  const singular = lang === 'en' ? englishSingular[key] : undefined;
  const template =
    singular && String(params[singular.param]) === '1'
      ? singular.template
      : ((dictionaries[lang] as Record<string, string>)[key] ?? (dictionaries.ko as Record<string, string>)[key] ?? key);
  return template.replace(/\{(\w+)\}/g, (_, name: string) => (name in params ? String(params[name]) : `{${name}}`));
};

export type Translate = ReturnType<typeof translator>;

export const parseLang = (value: unknown): Lang | null => (value === 'ko' || value === 'en' ? value : null);
