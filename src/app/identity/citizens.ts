import { accountForClaim, citizenDecider, citizenStreamId, phoneDecider, phoneStreamId, type CitizenEvent, type CitizenState, type PhoneCommand } from '../../domain/citizen.ts';
import { CitizenAlreadyRegistered } from '../../domain/errors.ts';
import { fold } from '../../domain/decider.ts';
import { handleCommand, type CommandAttempt } from '../commandHandler.ts';
import { StreamConflictError, type AppendToStream, type ReadStream } from '../eventStore.ts';
import type { CitizenVault, PhoneHashOf } from './ports.ts';

export interface CitizensDeps {
  readStream: ReadStream;
  append: AppendToStream;
  vault: CitizenVault;
  phoneHashOf: PhoneHashOf;
  newId: () => string;
  now: () => string;
}

/** What the encrypted profile holds: everything personal about a citizen. */
export interface Profile {
  phone: string;
  displayName?: string;
}

export const loadCitizen = async (readStream: ReadStream, citizenId: string): Promise<CitizenState> =>
  fold(citizenDecider, (await readStream(citizenStreamId(citizenId))).map((e) => ({ type: e.type, data: e.data }) as CitizenEvent));

/** Who signed in: `created` when this call registered the account; `returning` when it was a deleted one. */
export interface EnsuredCitizen {
  citizenId: string;
  created: boolean;
  returning?: true;
}

/** How many times a phone claim is decided in all while concurrent sign-ups with the number keep winning. */
const CLAIM_ATTEMPTS = 5;

/**
 * The citizen who owns a verified number, registered on first use. The phone claim comes first and is
 * appended with the expected revision, so concurrent sign-ups with one number make one account: the
 * loser re-reads the claim and gets the winner's id. A claim whose registration never happened (a crash
 * between the two appends) is completed here. A number whose account was deleted gets that account
 * back, empty, under the same id (`created: true`: a new key, the number as the only personal data):
 * its voter tags are the old ones, so it cannot vote twice in a poll.
 */
export const ensureCitizen =
  (deps: CitizensDeps) =>
  async (phone: string, displayName?: string): Promise<EnsuredCitizen> => {
    const phoneHash = deps.phoneHashOf(phone);
    const { state: claim } = await handleCommand(
      deps,
      phoneDecider,
      phoneStreamId(phoneHash),
      (state): CommandAttempt<PhoneCommand> => ({ command: { type: 'ClaimPhone', data: { phoneHash, citizenId: accountForClaim(state, deps.newId()), now: deps.now() } } }),
      { attempts: CLAIM_ATTEMPTS },
    );
    if (claim.status !== 'Claimed') throw new Error(`the phone claim ${phoneHash} was not stored`);
    const { citizenId } = claim;
    const citizen = await loadCitizen(deps.readStream, citizenId);
    if (citizen.status === 'Active') return { citizenId, created: false };
    const returning = citizen.status === 'Deleted' ? { returning: true as const } : {};
    await deps.vault.ensureKey(citizenId);
    const profile: Profile = { phone, ...(displayName ? { displayName } : {}) };
    const blob = await deps.vault.encrypt(citizenId, JSON.stringify(profile));
    try {
      await handleCommand(deps, citizenDecider, citizenStreamId(citizenId), { type: 'RegisterCitizen', data: { citizenId, phoneHash, profile: blob, now: deps.now() } });
    } catch (error) {
      // Two requests completing one half-made claim: the other one registered it.
      if (error instanceof StreamConflictError || error instanceof CitizenAlreadyRegistered) return { citizenId, created: false, ...returning };
      throw error;
    }
    return { citizenId, created: true, ...returning };
  };
