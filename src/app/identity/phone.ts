import { parsePhoneNumberFromString } from 'libphonenumber-js/max';
import { InvalidPhoneNumber } from './errors.ts';

/**
 * Normalises a phone number as a person types it to E.164, Korean numbers first: `010-1234-5678`,
 * `01012345678` and `+82 10 1234 5678` all give `+821012345678`. Only mobile numbers pass (the code goes
 * by SMS). Uses libphonenumber's full metadata, which knows mobile ranges.
 */
export const normalisePhone = (input: string, defaultRegion: 'KR' = 'KR'): string => {
  const parsed = parsePhoneNumberFromString(input.trim(), defaultRegion);
  if (!parsed || !parsed.isValid()) throw new InvalidPhoneNumber('invalid');
  const type = parsed.getType();
  // Some regions cannot tell mobile from fixed lines: accept those, refuse known non-mobile numbers.
  if (type !== 'MOBILE' && type !== 'FIXED_LINE_OR_MOBILE') throw new InvalidPhoneNumber('not-mobile');
  return parsed.number;
};

/** The number as shown back to its owner: national format for Korean numbers, international otherwise. */
export const displayPhone = (e164: string): string => {
  const parsed = parsePhoneNumberFromString(e164);
  if (!parsed) return e164;
  return parsed.country === 'KR' ? parsed.formatNational() : parsed.formatInternational();
};
