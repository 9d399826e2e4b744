import { citizenDecider, citizenStreamId } from '../../domain/citizen.ts';
import { organisationDecider, orgStreamId } from '../../domain/organisation.ts';
import { OrganisationNotFound } from '../../domain/errors.ts';
import { handleCommand } from '../commandHandler.ts';
import type { AppendToStream, ReadStream } from '../eventStore.ts';
import { normalisePhone } from './phone.ts';

/**
 * Administrator actions. Every one is an event carrying the actor (`by`). Authorisation (is the actor an
 * administrator?) is checked by the routes and the CLI before they call these.
 */
export interface AdminDeps {
  readStream: ReadStream;
  append: AppendToStream;
  ensureCitizen: (phone: string, displayName?: string) => Promise<{ citizenId: string; created: boolean }>;
  newId: () => string;
  now: () => string;
}

/** Creates an organisation; `orgId` is for the fixed ids of the demo data and imports, a new id otherwise. */
export const createOrganisation =
  (deps: Pick<AdminDeps, 'readStream' | 'append' | 'newId' | 'now'>) =>
  async (input: { orgId?: string; name: string; kind: string; by: string }): Promise<string> => {
  const orgId = input.orgId ?? deps.newId();
  await handleCommand(deps, organisationDecider, orgStreamId(orgId), { type: 'CreateOrganisation', data: { ...input, orgId, now: deps.now() } });
  return orgId;
};

/**
 * Issues an official account: the citizen holding the number (registered now if new; they sign in by
 * SMS like everyone) gets the official role in the organisation.
 */
export const issueOfficial = (deps: AdminDeps) => async (input: { phone: string; orgId: string; displayName?: string; by: string }): Promise<string> => {
  const phone = normalisePhone(input.phone);
  const org = await deps.readStream(orgStreamId(input.orgId));
  if (org.length === 0) throw new OrganisationNotFound(input.orgId);
  const { citizenId } = await deps.ensureCitizen(phone, input.displayName);
  await handleCommand(deps, citizenDecider, citizenStreamId(citizenId), { type: 'GrantOfficialRole', data: { citizenId, orgId: input.orgId, by: input.by, now: deps.now() } });
  return citizenId;
};

export const setOfficialSuspended = (deps: AdminDeps) => async (input: { citizenId: string; suspended: boolean; by: string }): Promise<void> => {
  const { citizenId, by } = input;
  await handleCommand(deps, citizenDecider, citizenStreamId(citizenId), {
    type: input.suspended ? 'SuspendOfficial' : 'ReinstateOfficial',
    data: { citizenId, by, now: deps.now() },
  });
};

/** Makes the holder of a number an administrator (registering them if new): `npm run admin:create`. */
export const grantAdmin = (deps: AdminDeps) => async (input: { phone: string; displayName?: string; by: string }): Promise<string> => {
  const { citizenId } = await deps.ensureCitizen(normalisePhone(input.phone), input.displayName);
  await handleCommand(deps, citizenDecider, citizenStreamId(citizenId), { type: 'GrantAdminRole', data: { citizenId, by: input.by, now: deps.now() } });
  return citizenId;
};
