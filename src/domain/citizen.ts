import { assertNever, type Decider } from './decider.ts';
import { CitizenAlreadyRegistered, CitizenIsDeleted, CitizenNotFound, InvalidDisplayName, NotAnOfficial, PhoneAlreadyClaimed } from './errors.ts';

/**
 * Citizens and their roles. Stream `citizen-<citizenId>`.
 *
 * Personal data (the E.164 number, the display name) never appears in clear in these events: the app
 * encrypts it with the citizen's own key (kept outside the event store) and the events carry only the
 * opaque blob. Deleting the key forgets the person (crypto-shredding); the events stay, unreadable.
 * `phoneHash` is HMAC(serverSecret, E.164): the same keyed hash voter rolls use.
 */
export const citizenStreamId = (citizenId: string): string => `citizen-${citizenId}`;

export type Role = 'citizen' | 'official' | 'admin';

export type CitizenCommand =
  | { type: 'RegisterCitizen'; data: { citizenId: string; phoneHash: string; profile: string; now: string } }
  | { type: 'ChangeDisplayName'; data: { citizenId: string; displayName: string; now: string } }
  | { type: 'GrantOfficialRole'; data: { citizenId: string; orgId: string; by: string; now: string } }
  | { type: 'SuspendOfficial'; data: { citizenId: string; by: string; now: string } }
  | { type: 'ReinstateOfficial'; data: { citizenId: string; by: string; now: string } }
  | { type: 'GrantAdminRole'; data: { citizenId: string; by: string; now: string } }
  | { type: 'DeleteCitizen'; data: { citizenId: string; now: string } };

/** Event type names are a persisted contract: never rename. Encrypted fields are opaque strings. */
export type CitizenEvent =
  | { type: 'CitizenRegistered'; data: { citizenId: string; phoneHash: string; profile: string; registeredAt: string } }
  | { type: 'DisplayNameChanged'; data: { citizenId: string; displayName: string; changedAt: string } }
  | { type: 'OfficialRoleGranted'; data: { citizenId: string; orgId: string; grantedBy: string; grantedAt: string } }
  | { type: 'OfficialSuspended'; data: { citizenId: string; by: string; at: string } }
  | { type: 'OfficialReinstated'; data: { citizenId: string; by: string; at: string } }
  | { type: 'AdminRoleGranted'; data: { citizenId: string; grantedBy: string; grantedAt: string } }
  | { type: 'CitizenDeleted'; data: { citizenId: string; deletedAt: string } };

export interface OfficialRole {
  orgId: string;
  suspended: boolean;
}

export type CitizenState =
  | { status: 'None' }
  | {
      status: 'Active';
      citizenId: string;
      phoneHash: string;
      /** Encrypted blobs: the app decrypts them with the citizen's key. */
      profile: string;
      displayName?: string;
      official?: OfficialRole;
      admin: boolean;
      registeredAt: string;
    }
  | { status: 'Deleted'; citizenId: string; phoneHash: string };

export const initialState: CitizenState = { status: 'None' };

export const MAX_DISPLAY_NAME = 40;

/**
 * Checks a display name in clear, before the app encrypts it (the decider only sees the blob).
 * Returns the trimmed name; an empty name means "no display name".
 */
export function validDisplayName(name: string): string {
  const trimmed = name.trim();
  if ([...trimmed].length > MAX_DISPLAY_NAME) throw new InvalidDisplayName(`longer than ${MAX_DISPLAY_NAME} characters`);
  // Control characters would let a name break lines in lists and logs.
  if (/\p{Cc}/u.test(trimmed)) throw new InvalidDisplayName('contains control characters');
  return trimmed;
}

export function decide(command: CitizenCommand, state: CitizenState): CitizenEvent[] {
  switch (command.type) {
    case 'RegisterCitizen': {
      const { citizenId, phoneHash, profile, now } = command.data;
      // A deleted account comes back, empty, when its number signs in again (see the phone claim below);
      // only for that number.
      const returning = state.status === 'Deleted' && state.phoneHash === phoneHash;
      if (state.status !== 'None' && !returning) throw new CitizenAlreadyRegistered(citizenId);
      return [{ type: 'CitizenRegistered', data: { citizenId, phoneHash, profile, registeredAt: now } }];
    }
    case 'ChangeDisplayName': {
      const { citizenId, displayName, now } = command.data;
      active(state, citizenId);
      return [{ type: 'DisplayNameChanged', data: { citizenId, displayName, changedAt: now } }];
    }
    case 'GrantOfficialRole':
      return grantOfficialRole(command.data, state);
    case 'SuspendOfficial':
      return suspendOrReinstate(command.data, state, true);
    case 'ReinstateOfficial':
      return suspendOrReinstate(command.data, state, false);
    case 'GrantAdminRole': {
      const { citizenId, by, now } = command.data;
      // Granting twice changes nothing, so `admin:create` can be run again safely.
      if (active(state, citizenId).admin) return [];
      return [{ type: 'AdminRoleGranted', data: { citizenId, grantedBy: by, grantedAt: now } }];
    }
    case 'DeleteCitizen': {
      const { citizenId, now } = command.data;
      active(state, citizenId);
      return [{ type: 'CitizenDeleted', data: { citizenId, deletedAt: now } }];
    }
    default:
      return assertNever(command);
  }
}

type Data<T extends CitizenCommand['type']> = Extract<CitizenCommand, { type: T }>['data'];
type ActiveState = Extract<CitizenState, { status: 'Active' }>;

function active(state: CitizenState, citizenId: string): ActiveState {
  if (state.status === 'None') throw new CitizenNotFound(citizenId);
  if (state.status === 'Deleted') throw new CitizenIsDeleted(citizenId);
  return state;
}

/** Granting the same organisation again is a no-op; another organisation moves the official there. */
function grantOfficialRole({ citizenId, orgId, by, now }: Data<'GrantOfficialRole'>, state: CitizenState): CitizenEvent[] {
  const citizen = active(state, citizenId);
  if (citizen.official?.orgId === orgId && !citizen.official.suspended) return [];
  // A suspended official granted their own organisation again is reinstated, explicitly, with the actor.
  if (citizen.official?.orgId === orgId) return [{ type: 'OfficialReinstated', data: { citizenId, by, at: now } }];
  return [{ type: 'OfficialRoleGranted', data: { citizenId, orgId, grantedBy: by, grantedAt: now } }];
}

/** Suspending a suspended official (or reinstating an active one) is a no-op, so retries are harmless. */
function suspendOrReinstate({ citizenId, by, now }: Data<'SuspendOfficial'>, state: CitizenState, suspend: boolean): CitizenEvent[] {
  const citizen = active(state, citizenId);
  if (!citizen.official) throw new NotAnOfficial(citizenId);
  if (citizen.official.suspended === suspend) return [];
  return [{ type: suspend ? 'OfficialSuspended' : 'OfficialReinstated', data: { citizenId, by, at: now } }];
}

export function evolve(state: CitizenState, event: CitizenEvent): CitizenState {
  if (event.type === 'CitizenRegistered') {
    if (state.status === 'Active') return state;
    const { citizenId, phoneHash, profile, registeredAt } = event.data;
    return { status: 'Active', citizenId, phoneHash, profile, admin: false, registeredAt };
  }
  if (state.status !== 'Active') return state;
  switch (event.type) {
    case 'DisplayNameChanged':
      return { ...state, displayName: event.data.displayName };
    case 'OfficialRoleGranted':
      return { ...state, official: { orgId: event.data.orgId, suspended: false } };
    case 'OfficialSuspended':
      return state.official ? { ...state, official: { ...state.official, suspended: true } } : state;
    case 'OfficialReinstated':
      return state.official ? { ...state, official: { ...state.official, suspended: false } } : state;
    case 'AdminRoleGranted':
      return { ...state, admin: true };
    case 'CitizenDeleted':
      return { status: 'Deleted', citizenId: state.citizenId, phoneHash: state.phoneHash };
    default:
      return state;
  }
}

/** The roles a citizen holds now: a suspended official keeps only the citizen role (and admin, if any). */
export function rolesOf(state: CitizenState): Role[] {
  if (state.status !== 'Active') return [];
  return ['citizen', ...(state.official && !state.official.suspended ? (['official'] as const) : []), ...(state.admin ? (['admin'] as const) : [])];
}

export const citizenDecider: Decider<CitizenCommand, CitizenEvent, CitizenState> = { decide, evolve, initialState };

// ---- the phone claim: one account per number ------------------------------------------------------------

/**
 * Stream `phone-<phoneHash>`. The first claim is appended with `no_stream`, so two concurrent sign-ups
 * with one number cannot both succeed: the loser's append fails and it signs into the winner's account.
 *
 * One number is one voter for good: a number released by a deleted account can be claimed again only by
 * that account, which comes back empty (new key, no name, no roles) under the same id. Voter tags derive
 * from the citizen id, so deleting an account and signing up again cannot cast a second ballot in a poll.
 */
export const phoneStreamId = (phoneHash: string): string => `phone-${phoneHash}`;

export type PhoneCommand =
  | { type: 'ClaimPhone'; data: { phoneHash: string; citizenId: string; now: string } }
  | { type: 'ReleasePhone'; data: { phoneHash: string; citizenId: string; now: string } };

export type PhoneEvent =
  | { type: 'PhoneClaimed'; data: { phoneHash: string; citizenId: string; claimedAt: string } }
  | { type: 'PhoneReleased'; data: { phoneHash: string; citizenId: string; releasedAt: string } };

export type PhoneState = { status: 'Free'; formerCitizenId?: string } | { status: 'Claimed'; citizenId: string };

/** The account a sign-in with this number belongs to: its holder, its former holder, or a new one. */
export const accountForClaim = (state: PhoneState, newCitizenId: string): string =>
  state.status === 'Claimed' ? state.citizenId : (state.formerCitizenId ?? newCitizenId);

export function decidePhone(command: PhoneCommand, state: PhoneState): PhoneEvent[] {
  const { phoneHash, citizenId, now } = command.data;
  switch (command.type) {
    case 'ClaimPhone':
      if (state.status === 'Claimed') {
        if (state.citizenId === citizenId) return [];
        throw new PhoneAlreadyClaimed(state.citizenId);
      }
      if (state.formerCitizenId !== undefined && state.formerCitizenId !== citizenId) throw new PhoneAlreadyClaimed(state.formerCitizenId);
      return [{ type: 'PhoneClaimed', data: { phoneHash, citizenId, claimedAt: now } }];
    case 'ReleasePhone':
      // Only the holder releases; anything else is a retry after the number moved on, and changes nothing.
      if (state.status !== 'Claimed' || state.citizenId !== citizenId) return [];
      return [{ type: 'PhoneReleased', data: { phoneHash, citizenId, releasedAt: now } }];
    default:
      return assertNever(command);
  }
}

export function evolvePhone(state: PhoneState, event: PhoneEvent): PhoneState {
  switch (event.type) {
    case 'PhoneClaimed':
      return { status: 'Claimed', citizenId: event.data.citizenId };
    case 'PhoneReleased':
      return state.status === 'Claimed' && state.citizenId === event.data.citizenId ? { status: 'Free', formerCitizenId: event.data.citizenId } : state;
    default:
      return state;
  }
}

export const phoneDecider: Decider<PhoneCommand, PhoneEvent, PhoneState> = { decide: decidePhone, evolve: evolvePhone, initialState: { status: 'Free' } };
