import { validDisplayName } from '../../domain/citizen.ts';
import { CodeRejected, RateLimited } from './errors.ts';
import { normalisePhone } from './phone.ts';
import type { HitRateLimit, OtpStore, SendSms } from './ports.ts';
import type { EnsuredCitizen } from './citizens.ts';

export const CODE_TTL_SECONDS = 180;
export const MAX_CODE_ATTEMPTS = 5;

/** Code requests allowed per number and per client address, in fixed windows. */
export interface SignInLimits {
  perPhone: { limit: number; windowSeconds: number };
  perIp: { limit: number; windowSeconds: number };
}

export const DEFAULT_LIMITS: SignInLimits = {
  perPhone: { limit: 5, windowSeconds: 15 * 60 },
  perIp: { limit: 20, windowSeconds: 60 * 60 },
};

export interface RequestCodeDeps {
  hitRateLimit: HitRateLimit;
  otp: OtpStore;
  sendSms: SendSms;
  phoneHashOf: (e164: string) => string;
  /** HMAC of the code bound to the number: a dump of the table cannot be brute-forced offline. */
  codeHashOf: (phoneHash: string, code: string) => string;
  /** A uniformly random 6-digit code (infra: crypto random). */
  newCode: () => string;
  smsText: (code: string) => string;
  now: () => Date;
  limits?: SignInLimits;
}

/**
 * Sends a 6-digit code to a mobile number. Refuses invalid and non-mobile numbers, and too many
 * requests per number or per address. Both counters count every request, so a flood stays refused.
 */
export const requestCode = (deps: RequestCodeDeps) => async (input: { phone: string; ip: string }): Promise<{ phone: string }> => {
  const phone = normalisePhone(input.phone);
  const phoneHash = deps.phoneHashOf(phone);
  const limits = deps.limits ?? DEFAULT_LIMITS;
  const now = deps.now();
  const ipOk = await deps.hitRateLimit(`otp-ip:${input.ip}`, limits.perIp.limit, limits.perIp.windowSeconds);
  if (!ipOk) throw new RateLimited('ip');
  const phoneOk = await deps.hitRateLimit(`otp-phone:${phoneHash}`, limits.perPhone.limit, limits.perPhone.windowSeconds);
  if (!phoneOk) throw new RateLimited('phone');
  const code = deps.newCode();
  await deps.otp.save(phoneHash, deps.codeHashOf(phoneHash, code), new Date(now.getTime() + CODE_TTL_SECONDS * 1000), MAX_CODE_ATTEMPTS);
  await deps.sendSms(phone, deps.smsText(code));
  return { phone };
};

export interface VerifyCodeDeps {
  otp: OtpStore;
  phoneHashOf: (e164: string) => string;
  codeHashOf: (phoneHash: string, code: string) => string;
  ensureCitizen: (phone: string, displayName?: string) => Promise<EnsuredCitizen>;
  now: () => Date;
}

/**
 * Checks a code and signs in: into the account that holds the number, or a new one (sign-up and
 * sign-in are one flow). The display name is used only when the account is new.
 */
export const verifyCode =
  (deps: VerifyCodeDeps) =>
  async (input: { phone: string; code: string; displayName?: string }): Promise<EnsuredCitizen> => {
    const phone = normalisePhone(input.phone);
    const phoneHash = deps.phoneHashOf(phone);
    const code = input.code.replace(/\s+/g, '');
    const displayName = input.displayName === undefined ? undefined : validDisplayName(input.displayName) || undefined;
    // A malformed code still counts as an attempt: the format is no side channel.
    const result = await deps.otp.attempt(phoneHash, deps.codeHashOf(phoneHash, /^\d{6}$/.test(code) ? code : 'malformed'), deps.now());
    if (result !== 'ok') throw new CodeRejected(result);
    return deps.ensureCitizen(phone, displayName);
  };
