import { describe, expect, it } from 'vitest';
import { csvRecords } from './csvRecords.ts';

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
}

describe('csvRecords', () => {
  it('reads a text without quotes as csv-parse does: same records, same lines (CRLF, CR, LF, blank and space-only lines, BOM)', () => {
    const rnd = lcg(31);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
    for (let round = 0; round < 300; round++) {
      const lines = Array.from({ length: Math.floor(rnd() * 12) }, () =>
        pick(['', ' ', '\t', 'x']) === 'x'
          ? Array.from({ length: 1 + Math.floor(rnd() * 4) }, () => pick(['', 'a', ' b ', '1,2,3', 'ż', 'META'])).join(';')
          : pick(['', ' ', '\t ']),
      );
      let text = '';
      for (const line of lines) text += line + pick(['\n', '\r\n', '\r']);
      if (rnd() < 0.3) text = text.replace(/(\r\n|\r|\n)$/, '');
      if (rnd() < 0.2) text = `\ufeff${text}`;
      // A second separator that never occurs: the text goes through csv-parse.
      expect(csvRecords(text, [';']), JSON.stringify(text)).toEqual(csvRecords(text, [';', '\u0001']));
    }
  });

  it('reads quoted fields with csv-parse: separators and line breaks inside quotes, the line a record starts on', () => {
    const text = 'a;"b;c"\n"multi\nline";d\n\ne;f\n';
    expect(csvRecords(text, [';'])).toEqual([
      { line: 1, fields: ['a', 'b;c'] },
      { line: 2, fields: ['multi\nline', 'd'] },
      { line: 5, fields: ['e', 'f'] },
    ]);
  });
});
