import { describe, expect, it } from 'vitest';
import { parseVoterRollCsv } from './voterRollCsv.ts';

describe('parseVoterRollCsv', () => {
  it('normalises Korean mobile numbers, skips a header, reports bad lines and duplicates', () => {
    const result = parseVoterRollCsv('phone,name\n010-1234-5678,Kim\n+82 10 2345 6789\n01012345678\n02-123-4567\nhello\n\n');
    expect(result.phones).toEqual(['+821012345678', '+821023456789']);
    expect(result.duplicates).toBe(1);
    expect(result.rejected).toEqual([
      { line: 5, reason: 'not a mobile number' },
      { line: 6, reason: 'not a valid phone number' },
    ]);
  });
});

describe('parseVoterRollCsv as spreadsheets write CSV', () => {
  it('reads quoted fields: a name with the separator, a note spanning lines (later line numbers stay right)', () => {
    const text = '"phone","name"\r\n"010-1234-5678","Kim, Minji"\r\n010-2345-6789,"a note\r\non two lines"\r\nhello,x\r\n';
    const result = parseVoterRollCsv(text);
    expect(result.phones).toEqual(['+821012345678', '+821023456789']);
    expect(result.rejected).toEqual([{ line: 5, reason: 'not a valid phone number' }]);
  });

  it('takes ; or tab as the separator, a BOM, CR line ends and spaces around the number', () => {
    expect(parseVoterRollCsv('\uFEFF전화번호;이름\n 010-1234-5678 ;Kim\n').phones).toEqual(['+821012345678']);
    expect(parseVoterRollCsv('010-1234-5678\tKim\r010-2345-6789\tLee\r').phones).toEqual(['+821012345678', '+821023456789']);
  });

  it('keeps a quote inside an unquoted field as text, and reports a quote never closed without losing earlier lines', () => {
    expect(parseVoterRollCsv('010-1234-5678,Kim "the" Voter\n').phones).toEqual(['+821012345678']);
    const result = parseVoterRollCsv('010-1234-5678,Kim\n010-2345-6789,"unclosed\n010-3456-7890,Lee\n');
    expect(result.phones).toEqual(['+821012345678']);
    expect(result.rejected).toEqual([{ line: 2, reason: 'a quote is never closed: this line and the rest were not read' }]);
  });
});
