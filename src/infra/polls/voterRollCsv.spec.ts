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
