import { describe, expect, it } from 'vitest';
import { englishSingular, translator } from './index.ts';

describe('translator', () => {
  const en = translator('en');
  const ko = translator('ko');

  it('fills placeholders, and shows an unknown key as itself', () => {
    expect(en('site.votes', { n: 12 })).toBe('12 voted');
    expect(en('no.such.key')).toBe('no.such.key');
  });

  it('uses the English singular for a count of one, and the plural otherwise', () => {
    expect(en('admin.turnout.count', { count: 1 })).toBe('1 vote');
    expect(en('admin.turnout.count', { count: 0 })).toBe('0 votes');
    expect(en('admin.turnout.count', { count: 2 })).toBe('2 votes');
    expect(en('site.time.left.minutes', { n: '1' })).toBe('1 minute left');
    expect(en('site.time.left.minutes', { n: 11 })).toBe('11 minutes left');
    expect(en('admin.roll.rejected', { n: 1 })).toBe('Rejected: 1 line');
    expect(en('home.stats', { polls: 1, ballots: 3 })).toBe('1 poll · 3 ballots');
    expect(en('home.stats', { polls: 2, ballots: 1 })).toBe('2 polls · 1 ballot');
    expect(en('site.budget.limit', { max: 1 })).toBe('You may approve up to 1 project.');
  });

  it('has every singular phrase in its English template, so none is silently ignored', () => {
    for (const [key, words] of Object.entries(englishSingular))
      for (const [param, [plural]] of Object.entries(words)) expect(en(key), key).toContain(`{${param}} ${plural}`);
  });

  it('leaves Korean as it is: its nouns do not inflect for number', () => {
    expect(ko('admin.turnout.count', { count: 1 })).toBe('1표');
    expect(ko('site.time.left.minutes', { n: 1 })).toBe(ko('site.time.left.minutes', { n: 2 }).replace('2', '1'));
  });
});
