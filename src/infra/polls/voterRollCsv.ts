import { CsvRecordsError, csvRecords } from '../../domain/csvRecords.ts';
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';

export interface RollParseResult {
  /** E.164 numbers, deduplicated, in file order. */
  phones: string[];
  rejected: Array<{ line: number; reason: string }>;
  duplicates: number;
}

/**
 * Reads a voter-roll CSV: one phone number per record in the first column (a header line is allowed;
 * Korean numbers may be written 010-1234-5678). Records are read by csv-parse, so quoted fields (a name
 * with a comma, a note spanning lines) and any of `,` `;` or tab as the separator work as spreadsheets
 * write them. Lines that are not mobile numbers are reported with their line, never silently dropped.
 * Numbers are returned for keyed hashing and are never logged.
 */
export const parseVoterRollCsv = (text: string, defaultRegion: 'KR' = 'KR'): RollParseResult => {
  const phones: string[] = [];
  const seen = new Set<string>();
  const rejected: RollParseResult['rejected'] = [];
  let duplicates = 0;
  let records: { cell: string; line: number }[];
  try {
    records = csvRecords(text, [',', ';', '\t'], { trim: true }).map((r) => ({ cell: (r.fields[0] ?? '').trim(), line: r.line }));
  } catch (error) {
    if (!(error instanceof CsvRecordsError)) throw error;
    // Everything before the broken record is kept; the rest cannot be read reliably.
    records = error.before.map((r) => ({ cell: (r.fields[0] ?? '').trim(), line: r.line }));
    rejected.push({ line: error.line, reason: error.reason === 'a quote is never closed' ? 'a quote is never closed: this line and the rest were not read' : `unreadable CSV from here on: ${error.reason}` });
  }
  records.forEach(({ cell, line }, index) => {
    if (cell === '') return;
    if (index === 0 && !/\d{3}/.test(cell)) return; // header
    const parsed = parsePhoneNumberFromString(cell, defaultRegion);
    if (!parsed || !parsed.isValid()) return void rejected.push({ line, reason: 'not a valid phone number' });
    const type = parsed.getType();
    if (type !== 'MOBILE' && type !== 'FIXED_LINE_OR_MOBILE') return void rejected.push({ line, reason: 'not a mobile number' });
    const e164 = parsed.number;
    if (seen.has(e164)) return void duplicates++;
    seen.add(e164);
    phones.push(e164);
  });
  rejected.sort((a, b) => a.line - b.line);
  return { phones, rejected, duplicates };
};
