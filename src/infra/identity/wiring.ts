import { randomUUID } from 'node:crypto';
import type { Middleware } from 'koa';
import type { EventStore } from '../../app/eventStore.ts';
import { changeDisplayName, deleteAccount, myData } from '../../app/identity/account.ts';
import { createOrganisation, grantAdmin, issueOfficial, setOfficialSuspended } from '../../app/identity/admin.ts';
import { ensureCitizen, loadCitizen, type Profile } from '../../app/identity/citizens.ts';
import type { SendSms } from '../../app/identity/ports.ts';
import { requestCode, verifyCode, type SignInLimits } from '../../app/identity/signIn.ts';
import type { Config } from '../config.ts';
import type { Db } from '../db/connect.ts';
import { guardAdminArea, identityMiddleware, sessionMiddleware, type SessionUser } from '../http/auth.ts';
import { getCitizenRolesMany, type CitizenRoles } from '../readModels/citizens.ts';
import { httpGatewaySms } from '../sms/httpGateway.ts';
import { outboxSms } from '../sms/outbox.ts';
import { deriveKey, hmacHex, newCode, phoneHasher } from './crypto.ts';
import { createBatchLoader, type BatchLoader } from './batchLoader.ts';
import { revokeSessionsOf, createSessionStore, SESSION_CACHE_MS } from './sessionStore.ts';
import { createOtpStore, createRateLimiter, createVault } from './stores.ts';

export interface IdentityDeps {
  config: Config;
  db: Db;
  eventStore: Pick<EventStore, 'readStream' | 'append'>;
  serverSecret: Buffer;
  /** Overrides for tests; production uses DEFAULT_LIMITS. */
  limits?: SignInLimits;
}

/** The SMS adapter the config names (config refuses the outbox in production). */
export const smsAdapter = (config: Config, db: Db): SendSms =>
  config.SMS_ADAPTER === 'http'
    ? httpGatewaySms({ url: config.SMS_HTTP_URL!, token: config.SMS_HTTP_TOKEN!, sender: config.SMS_SENDER })
    : outboxSms(db.kysely);

/** The identity use cases wired to their adapters, for the web app and the CLIs alike. */
export const identityUseCases = (deps: IdentityDeps) => {
  const { db, eventStore, serverSecret, config } = deps;
  const vault = createVault(db.kysely);
  const otp = createOtpStore(db.kysely);
  const phoneHashOf = phoneHasher(serverSecret);
  const otpKey = deriveKey(serverSecret, 'otp');
  const rateKey = deriveKey(serverSecret, 'rate-limit');
  const codeHashOf = (phoneHash: string, code: string) => hmacHex(otpKey, `${phoneHash}:${code}`);
  const nowIso = () => new Date().toISOString();
  const base = { readStream: eventStore.readStream, append: eventStore.append, now: nowIso };
  const ensure = ensureCitizen({ ...base, vault, phoneHashOf, newId: randomUUID });
  const adminDeps = { ...base, ensureCitizen: ensure, newId: randomUUID };
  const accountDeps = { ...base, vault, revokeSessions: revokeSessionsOf(db.kysely) };
  return {
    phoneHashOf,
    requestCode: requestCode({
      hitRateLimit: createRateLimiter(db.kysely, (key) => hmacHex(rateKey, key)),
      otp,
      sendSms: smsAdapter(config, db),
      phoneHashOf,
      codeHashOf,
      newCode,
      smsText: (code) => `[${config.SMS_SENDER}] 인증번호 ${code} (3분 안에 입력하세요) / Your code is ${code} (valid 3 minutes)`,
      now: () => new Date(),
      ...(deps.limits ? { limits: deps.limits } : {}),
    }),
    verifyCode: verifyCode({ otp, phoneHashOf, codeHashOf, ensureCitizen: ensure, now: () => new Date() }),
    ensureCitizen: ensure,
    myData: myData(accountDeps),
    changeDisplayName: changeDisplayName(accountDeps),
    deleteAccount: deleteAccount(accountDeps),
    createOrganisation: createOrganisation(adminDeps),
    issueOfficial: issueOfficial(adminDeps),
    setOfficialSuspended: setOfficialSuspended(adminDeps),
    grantAdmin: grantAdmin(adminDeps),
    /** The keyed phone hash of a citizen, for voter rolls; null for unknown or deleted citizens. */
    phoneHashOfCitizen: async (citizenId: string): Promise<string | null> => {
      const state = await loadCitizen(eventStore.readStream, citizenId);
      return state.status === 'Active' ? state.phoneHash : null;
    },
    /** The decrypted contact of a citizen, for administrators' lists; null once forgotten. */
    contactOf: async (citizenId: string): Promise<Pick<Profile, 'phone' | 'displayName'> | null> => {
      const state = await loadCitizen(eventStore.readStream, citizenId);
      if (state.status !== 'Active') return null;
      const profile = await vault.decrypt(citizenId, state.profile);
      if (!profile) return null;
      const { phone, displayName } = JSON.parse(profile) as Profile;
      const renamed = state.displayName === undefined ? null : await vault.decrypt(citizenId, state.displayName);
      const name = renamed ?? displayName;
      return { phone, ...(name ? { displayName: name } : {}) };
    },
  };
};

export type IdentityUseCases = ReturnType<typeof identityUseCases>;

/**
 * The roles a session's citizen holds now; a moment after sign-up the read model may not have them yet.
 * Read through `roles` (coalesced, kept SESSION_CACHE_MS): a role change made through this process's
 * routes clears it once the read model has the change; one made elsewhere is seen within the TTL.
 */
const loadUser = (roles: BatchLoader<CitizenRoles>) => async (citizenId: string): Promise<SessionUser | null> => {
  const row = await roles.load(citizenId);
  if (!row) return { id: citizenId, roles: ['citizen'] };
  if (row.status === 'deleted') return null;
  return { id: citizenId, roles: row.roles, ...(row.orgId && row.roles.includes('official') ? { orgId: row.orgId } : {}) };
};

/**
 * Middleware (sessions, user, CSRF, admin-area guard) for the web app, and the use cases its routes
 * call: those that change roles drop this process's session and role caches.
 */
export const identityHttp = (deps: IdentityDeps & { useCases: IdentityUseCases; settled: () => Promise<void> }): { middleware: Middleware[]; useCases: IdentityUseCases } => {
  const { config, db } = deps;
  const roles = createBatchLoader((ids) => getCitizenRolesMany(db.kysely, ids), { ttlMs: SESSION_CACHE_MS });
  // The session query brings its citizen's roles along: a request's user then costs no query of its own.
  const sessions = createSessionStore(db.kysely, { citizenRoles: { before: roles.epoch, loaded: (citizenId, row, epoch) => roles.prime(citizenId, row, epoch) } });
  const useCases = forgettingCaches(deps.useCases, async () => {
    // Once the read model has the change, no request here may use what was cached before it.
    try {
      await deps.settled();
    } finally {
      roles.clear();
      sessions.forgetAll();
    }
  });
  const middleware: Middleware[] = [
    sessionMiddleware({
      store: sessions,
      keys: [deriveKey(deps.serverSecret, 'session-cookie').toString('base64url')],
      secure: config.NODE_ENV === 'production',
    }),
    identityMiddleware({ loadUser: loadUser(roles) }),
    guardAdminArea,
  ];
  return { middleware, useCases };
};

/**
 * The use cases, those that change roles or end sessions followed by dropping the session and role
 * caches. A deleted account that comes back (its number signed in again) must not be refused by its
 * cached "deleted" row; any other sign-in or sign-up changes no cached role and waits for nothing.
 */
const forgettingCaches = (useCases: IdentityUseCases, forget: () => Promise<void>): IdentityUseCases => {
  const thenForget =
    <A extends unknown[], R>(run: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        return await run(...args);
      } finally {
        await forget();
      }
    };
  return {
    ...useCases,
    issueOfficial: thenForget(useCases.issueOfficial),
    setOfficialSuspended: thenForget(useCases.setOfficialSuspended),
    grantAdmin: thenForget(useCases.grantAdmin),
    deleteAccount: thenForget(useCases.deleteAccount),
    verifyCode: async (input) => {
      const result = await useCases.verifyCode(input);
      if (result.returning) await forget();
      return result;
    },
  };
};
