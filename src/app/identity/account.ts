import { citizenDecider, citizenStreamId, phoneDecider, phoneStreamId, rolesOf, validDisplayName, type Role } from '../../domain/citizen.ts';
import { CitizenNotFound } from '../../domain/errors.ts';
import { handleCommand } from '../commandHandler.ts';
import type { AppendToStream, ReadStream } from '../eventStore.ts';
import { loadCitizen, type Profile } from './citizens.ts';
import type { CitizenVault, RevokeSessions } from './ports.ts';

export interface AccountDeps {
  readStream: ReadStream;
  append: AppendToStream;
  vault: CitizenVault;
  revokeSessions: RevokeSessions;
  now: () => string;
}

/** Everything we hold about a citizen, decrypted for them alone. */
export interface MyData {
  citizenId: string;
  phone: string;
  displayName?: string;
  roles: Role[];
  orgId?: string;
  officialSuspended: boolean;
  registeredAt: string;
}

/** The citizen's own data, decrypted. Throws CitizenNotFound for an unknown or deleted account. */
export const myData = (deps: Pick<AccountDeps, 'readStream' | 'vault'>) => async (citizenId: string): Promise<MyData> => {
  const state = await loadCitizen(deps.readStream, citizenId);
  if (state.status !== 'Active') throw new CitizenNotFound(citizenId);
  const profile = await deps.vault.decrypt(citizenId, state.profile);
  if (profile === null) throw new CitizenNotFound(citizenId);
  const { phone, displayName } = JSON.parse(profile) as Profile;
  const renamed = state.displayName === undefined ? undefined : await deps.vault.decrypt(citizenId, state.displayName);
  const name = renamed ?? displayName;
  return {
    citizenId,
    phone,
    ...(name ? { displayName: name } : {}),
    roles: rolesOf(state),
    ...(state.official ? { orgId: state.official.orgId } : {}),
    officialSuspended: state.official?.suspended ?? false,
    registeredAt: state.registeredAt,
  };
};

/** Changes the display name; an empty name clears it. The name is encrypted before it becomes an event. */
export const changeDisplayName = (deps: AccountDeps) => async (citizenId: string, name: string): Promise<void> => {
  const displayName = validDisplayName(name);
  const blob = await deps.vault.encrypt(citizenId, displayName);
  await handleCommand(deps, citizenDecider, citizenStreamId(citizenId), { type: 'ChangeDisplayName', data: { citizenId, displayName: blob, now: deps.now() } });
};

/**
 * Deletes an account: CitizenDeleted, then the key (crypto-shredding: the profile and names in the
 * events become unreadable), then the number is released, then every session ends. Ballots stay
 * counted: on the ledger they carry only per-poll voter tags; in the event store, the random citizen id,
 * which nothing readable links to a person any more. If the number signs in again, the same account comes
 * back empty (see ensureCitizen), so it keeps its voter tags and cannot vote twice in a poll. Each step
 * is idempotent, so a retry after a crash finishes the job.
 */
export const deleteAccount = (deps: AccountDeps) => async (citizenId: string): Promise<void> => {
  const state = await loadCitizen(deps.readStream, citizenId);
  if (state.status === 'None') throw new CitizenNotFound(citizenId);
  if (state.status === 'Active')
    await handleCommand(deps, citizenDecider, citizenStreamId(citizenId), { type: 'DeleteCitizen', data: { citizenId, now: deps.now() } });
  await deps.vault.forget(citizenId);
  const { phoneHash } = state;
  await handleCommand(deps, phoneDecider, phoneStreamId(phoneHash), { type: 'ReleasePhone', data: { phoneHash, citizenId, now: deps.now() } });
  await deps.revokeSessions(citizenId);
};
