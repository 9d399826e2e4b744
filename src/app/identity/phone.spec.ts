import { describe, expect, it } from 'vitest';
import { InvalidPhoneNumber } from './errors.ts';
import { displayPhone, normalisePhone } from './phone.ts';

describe('normalisePhone', () => {
  it('normalises Korean mobile numbers as people type them to E.164', () => {
    for (const input of ['010-1234-5678', '01012345678', '010 1234 5678', '+82 10-1234-5678', '+821012345678'])
      expect(normalisePhone(input)).toBe('+821012345678');
  });

  it('accepts foreign mobile numbers in international form', () => {
    expect(normalisePhone('+44 7400 123456')).toBe('+447400123456');
  });

  it('refuses a Seoul landline as not mobile, and garbage as invalid', () => {
    expect(() => normalisePhone('02-2133-1234')).toThrow(expect.objectContaining({ reason: 'not-mobile' }));
    expect(() => normalisePhone('12')).toThrow(InvalidPhoneNumber);
    expect(() => normalisePhone('hello')).toThrow(InvalidPhoneNumber);
    expect(() => normalisePhone('010-1234')).toThrow(InvalidPhoneNumber);
  });

  it('shows Korean numbers back in national form', () => {
    expect(displayPhone('+821012345678')).toBe('010-1234-5678');
  });
});
