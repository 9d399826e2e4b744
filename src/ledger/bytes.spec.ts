import { describe, expect, it } from 'vitest';
import { base64Length, fromBase64, fromHex, fromUtf8, isWellFormedText, toBase64, toHex, utf8 } from './bytes.ts';

describe('byte helpers', () => {
  it('round-trip base64 and accept only canonical, padded text', () => {
    for (let n = 0; n < 70; n++) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 0xff);
      expect(fromBase64(toBase64(bytes))).toEqual(bytes);
      expect(toBase64(bytes)).toBe(Buffer.from(bytes).toString('base64'));
    }
    for (const bad of ['A', 'AB', 'AB=', 'AB==\n', ' QQ==', 'QR==', 'QUI=x', 'Q-==', 'QUJD\nREVG']) {
      expect(fromBase64(bad), bad).toBeNull();
    }
    expect(fromBase64('QQ==')).toEqual(new Uint8Array([0x41]));
    // Non-canonical: unused bits set in the last character (every value of it, both paddings).
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    for (const c of alphabet) {
      for (const text of [`Q${c}==`, `QU${c}=`]) {
        const canonical = Buffer.from(text, 'base64').toString('base64') === text;
        expect(fromBase64(text) !== null, text).toBe(canonical);
        expect(base64Length(text), text).toBe(canonical ? Buffer.from(text, 'base64').length : null);
      }
    }
    for (let n = 0; n < 10; n++) expect(base64Length(toBase64(new Uint8Array(n)))).toBe(n);
  });

  it('round-trip hex and refuse odd or non-hex input', () => {
    expect(toHex(fromHex('00ff10Ab')!)).toBe('00ff10ab');
    expect(fromHex('abc')).toBeNull();
    expect(fromHex('zz')).toBeNull();
  });

  it('find unpaired surrogates and refuse invalid UTF-8', () => {
    expect(isWellFormedText('한국어 😀')).toBe(true);
    expect(isWellFormedText('a\uD800b')).toBe(false);
    expect(isWellFormedText('\uDC00')).toBe(false);
    expect(fromUtf8(utf8('한국어'))).toBe('한국어');
    expect(() => fromUtf8(new Uint8Array([0xff]))).toThrow();
  });
});
