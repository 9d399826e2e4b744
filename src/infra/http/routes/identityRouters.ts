import type Router from '@koa/router';
import type { Kysely } from 'kysely';
import type { Database } from '../../db/schema.ts';
import type { IdentityUseCases } from '../../identity/wiring.ts';
import { listOfficials, listOrganisations } from '../../readModels/citizens.ts';
import { readOutbox } from '../../sms/outbox.ts';
import { accountRoutes } from './account.ts';
import { adminRoutes } from './admin.ts';
import { devSmsRoutes } from './devSms.ts';
import { signInRoutes } from './signIn.ts';

/** Sign-in, account and administration routes; /dev/sms (the development SMS outbox) outside production. */
export const identityRouters = (deps: { useCases: IdentityUseCases; db: Kysely<Database>; production: boolean; settled: () => Promise<void> }): Router[] => [
  signInRoutes(deps.useCases),
  accountRoutes(deps.useCases),
  adminRoutes({ ...deps.useCases, listOrganisations: () => listOrganisations(deps.db), listOfficials: () => listOfficials(deps.db), settled: deps.settled }),
  ...(deps.production ? [] : [devSmsRoutes({ readOutbox: () => readOutbox(deps.db) })]),
];
