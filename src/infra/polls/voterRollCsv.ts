import { parsePhoneNumberFromString } from 'libphonenumber-js/max';

export interface RollParseResult {
  /** E.164 numbers, deduplicated, in file order. */
  phones: string[];
  rejected: Array<{ line: number; reason: string }>;
  duplicates: number;
}

/**
 * Reads a voter-roll CSV: one phone number per line in the first column (a header line is allowed;
 * Korean numbers may be written 010-1234-5678). Lines that are not mobile numbers are reported, never
 * silently dropped. Numbers are returned for keyed hashing and are never logged.
 */
export const parseVoterRollCsv = (text: string, defaultRegion: 'KR' = 'KR'): RollParseResult => {
  const phones: string[] = [];
  const seen = new Set<string>();
  const rejected: RollParseResult['rejected'] = [];
  let duplicates = 0;
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((raw, index) => {
    const cell = (raw.split(/[,;\t]/)[0] ?? '').trim().replace(/^"|"$/g, '');
    if (cell === '') return;
    if (index === 0 && !/\d{3}/.test(cell)) return; // header
    const parsed = parsePhoneNumberFromString(cell, defaultRegion);
    if (!parsed || !parsed.isValid()) return void rejected.push({ line: index + 1, reason: 'not a valid phone number' });
    const type = parsed.getType();
    if (type !== 'MOBILE' && type !== 'FIXED_LINE_OR_MOBILE') return void rejected.push({ line: index + 1, reason: 'not a mobile number' });
    const e164 = parsed.number;
    if (seen.has(e164)) return void duplicates++;
    seen.add(e164);
    phones.push(e164);
  });
  return { phones, rejected, duplicates };
};
