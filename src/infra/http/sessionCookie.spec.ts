import type { ParameterizedContext } from 'koa';
import { describe, expect, it } from 'vitest';
import { signCookie } from '../../cli/provisionVoters.ts';
import { signedSessionId } from './auth.ts';

/** A context whose cookie jar holds exactly these raw values. */
const withCookies = (jar: Record<string, string>) => ({ cookies: { get: (name: string) => jar[name] } }) as unknown as ParameterizedContext;

describe('signedSessionId (the session cookie check: one HMAC and timingSafeEqual)', () => {
  const key = 'k-session-cookie-key';
  const signed = (id: string, k = key) => ({ sid: id, 'sid.sig': signCookie(`sid=${id}`, k) });

  // koa (keygrip) writes these; test/identity/signIn.spec.ts signs in over HTTP and reads them back.
  it('accepts the keygrip signature (HMAC-SHA1, base64url) under any of the keys', () => {
    expect(signedSessionId(withCookies(signed('abc123')), [key])).toBe('abc123');
    expect(signedSessionId(withCookies(signed('abc123', 'old')), [key, 'old'])).toBe('abc123');
  });

  it('refuses a missing, forged, shortened or transplanted signature', () => {
    expect(signedSessionId(withCookies({ sid: 'abc123' }), [key])).toBeUndefined();
    expect(signedSessionId(withCookies({ sid: 'abc123', 'sid.sig': 'forged' }), [key])).toBeUndefined();
    const { 'sid.sig': sig } = signed('abc123');
    expect(signedSessionId(withCookies({ sid: 'abc123', 'sid.sig': sig.slice(0, -1) }), [key])).toBeUndefined();
    expect(signedSessionId(withCookies({ sid: 'other', 'sid.sig': sig }), [key])).toBeUndefined();
    expect(signedSessionId(withCookies(signed('abc123', 'someone-else')), [key])).toBeUndefined();
  });
});
