import { describe, expect, it } from 'vitest';
import { accountForClaim, citizenDecider, phoneDecider, rolesOf, validDisplayName, type CitizenEvent, type PhoneEvent } from './citizen.ts';
import { CitizenAlreadyRegistered, CitizenIsDeleted, CitizenNotFound, InvalidDisplayName, NotAnOfficial, PhoneAlreadyClaimed } from './errors.ts';
import { fold } from './decider.ts';
import { specFor } from './testing.ts';

const spec = specFor(citizenDecider);
const now = '2025-03-01T09:00:00.000Z';
const later = '2025-03-02T09:00:00.000Z';
const registered: CitizenEvent = { type: 'CitizenRegistered', data: { citizenId: 'c1', phoneHash: 'h1', profile: 'v1:blob', registeredAt: now } };
const official: CitizenEvent = { type: 'OfficialRoleGranted', data: { citizenId: 'c1', orgId: 'o1', grantedBy: 'a1', grantedAt: now } };
const suspended: CitizenEvent = { type: 'OfficialSuspended', data: { citizenId: 'c1', by: 'a1', at: later } };
const deleted: CitizenEvent = { type: 'CitizenDeleted', data: { citizenId: 'c1', deletedAt: later } };

describe('citizen decider', () => {
  it('registers a citizen with the phone hash and the encrypted profile only', () => {
    spec.given([]).when({ type: 'RegisterCitizen', data: { citizenId: 'c1', phoneHash: 'h1', profile: 'v1:blob', now } }).then([registered]);
  });

  it('refuses to register twice', () => {
    spec.given([registered]).when({ type: 'RegisterCitizen', data: { citizenId: 'c1', phoneHash: 'h1', profile: 'v1:x', now } }).thenThrows(CitizenAlreadyRegistered);
  });

  it('changes the display name (an encrypted blob)', () => {
    spec
      .given([registered])
      .when({ type: 'ChangeDisplayName', data: { citizenId: 'c1', displayName: 'v1:name', now: later } })
      .then([{ type: 'DisplayNameChanged', data: { citizenId: 'c1', displayName: 'v1:name', changedAt: later } }]);
  });

  it('grants the official role with the actor, idempotently, and moves an official to another organisation', () => {
    spec.given([registered]).when({ type: 'GrantOfficialRole', data: { citizenId: 'c1', orgId: 'o1', by: 'a1', now } }).then([official]);
    spec.given([registered, official]).when({ type: 'GrantOfficialRole', data: { citizenId: 'c1', orgId: 'o1', by: 'a1', now } }).then([]);
    spec
      .given([registered, official])
      .when({ type: 'GrantOfficialRole', data: { citizenId: 'c1', orgId: 'o2', by: 'a2', now: later } })
      .then([{ type: 'OfficialRoleGranted', data: { citizenId: 'c1', orgId: 'o2', grantedBy: 'a2', grantedAt: later } }]);
  });

  it('reinstates a suspended official granted their own organisation again', () => {
    spec
      .given([registered, official, suspended])
      .when({ type: 'GrantOfficialRole', data: { citizenId: 'c1', orgId: 'o1', by: 'a2', now: later } })
      .then([{ type: 'OfficialReinstated', data: { citizenId: 'c1', by: 'a2', at: later } }]);
  });

  it('suspends and reinstates officials with the actor; repeats change nothing', () => {
    spec.given([registered, official]).when({ type: 'SuspendOfficial', data: { citizenId: 'c1', by: 'a1', now: later } }).then([suspended]);
    spec.given([registered, official, suspended]).when({ type: 'SuspendOfficial', data: { citizenId: 'c1', by: 'a1', now: later } }).then([]);
    spec
      .given([registered, official, suspended])
      .when({ type: 'ReinstateOfficial', data: { citizenId: 'c1', by: 'a9', now: later } })
      .then([{ type: 'OfficialReinstated', data: { citizenId: 'c1', by: 'a9', at: later } }]);
    spec.given([registered, official]).when({ type: 'ReinstateOfficial', data: { citizenId: 'c1', by: 'a9', now: later } }).then([]);
  });

  it('refuses to suspend someone who is not an official', () => {
    spec.given([registered]).when({ type: 'SuspendOfficial', data: { citizenId: 'c1', by: 'a1', now } }).thenThrows(NotAnOfficial);
  });

  it('grants the admin role once', () => {
    const admin: CitizenEvent = { type: 'AdminRoleGranted', data: { citizenId: 'c1', grantedBy: 'cli', grantedAt: now } };
    spec.given([registered]).when({ type: 'GrantAdminRole', data: { citizenId: 'c1', by: 'cli', now } }).then([admin]);
    spec.given([registered, admin]).when({ type: 'GrantAdminRole', data: { citizenId: 'c1', by: 'cli', now } }).then([]);
  });

  it('deletes a citizen, after which nothing else is accepted', () => {
    spec.given([registered]).when({ type: 'DeleteCitizen', data: { citizenId: 'c1', now: later } }).then([deleted]);
    spec.given([registered, deleted]).when({ type: 'DeleteCitizen', data: { citizenId: 'c1', now: later } }).thenThrows(CitizenIsDeleted);
    spec.given([registered, deleted]).when({ type: 'ChangeDisplayName', data: { citizenId: 'c1', displayName: 'v1:x', now } }).thenThrows(CitizenIsDeleted);
    spec.given([registered, deleted]).when({ type: 'GrantOfficialRole', data: { citizenId: 'c1', orgId: 'o1', by: 'a', now } }).thenThrows(CitizenIsDeleted);
    spec.given([registered, deleted]).when({ type: 'GrantAdminRole', data: { citizenId: 'c1', by: 'a', now } }).thenThrows(CitizenIsDeleted);
    spec.given([registered, deleted]).when({ type: 'RegisterCitizen', data: { citizenId: 'c1', phoneHash: 'h2', profile: 'p', now } }).thenThrows(CitizenAlreadyRegistered);
  });

  it('lets a deleted account come back, empty, for its own number', () => {
    const back: CitizenEvent = { type: 'CitizenRegistered', data: { citizenId: 'c1', phoneHash: 'h1', profile: 'p2', registeredAt: later } };
    spec.given([registered, official, deleted]).when({ type: 'RegisterCitizen', data: { citizenId: 'c1', phoneHash: 'h1', profile: 'p2', now: later } }).then([back]);
    const state = fold(citizenDecider, [registered, official, deleted, back]);
    expect(state).toMatchObject({ status: 'Active', profile: 'p2', admin: false, registeredAt: later });
    expect(rolesOf(state)).toEqual(['citizen']);
    spec.given([registered]).when({ type: 'RegisterCitizen', data: { citizenId: 'c1', phoneHash: 'h1', profile: 'p', now } }).thenThrows(CitizenAlreadyRegistered);
  });

  it('refuses commands for a citizen that does not exist', () => {
    spec.given([]).when({ type: 'DeleteCitizen', data: { citizenId: 'c1', now } }).thenThrows(CitizenNotFound);
  });

  it('derives roles: a suspended official is a citizen only; a deleted citizen has none', () => {
    expect(rolesOf(fold(citizenDecider, [registered]))).toEqual(['citizen']);
    expect(rolesOf(fold(citizenDecider, [registered, official]))).toEqual(['citizen', 'official']);
    expect(rolesOf(fold(citizenDecider, [registered, official, suspended]))).toEqual(['citizen']);
    expect(rolesOf(fold(citizenDecider, [registered, { type: 'AdminRoleGranted', data: { citizenId: 'c1', grantedBy: 'x', grantedAt: now } }]))).toEqual(['citizen', 'admin']);
    expect(rolesOf(fold(citizenDecider, [registered, official, deleted]))).toEqual([]);
  });

  it('validates display names in clear before encryption', () => {
    expect(validDisplayName('  김시민 ')).toBe('김시민');
    expect(validDisplayName('')).toBe('');
    expect(() => validDisplayName('가'.repeat(41))).toThrow(InvalidDisplayName);
    expect(() => validDisplayName('a\nb')).toThrow(InvalidDisplayName);
  });
});

describe('phone claim decider', () => {
  const phone = specFor(phoneDecider);
  const claimed: PhoneEvent = { type: 'PhoneClaimed', data: { phoneHash: 'h1', citizenId: 'c1', claimedAt: now } };
  const released: PhoneEvent = { type: 'PhoneReleased', data: { phoneHash: 'h1', citizenId: 'c1', releasedAt: later } };

  it('claims a free number; after release only for the account that held it (one number, one voter)', () => {
    phone.given([]).when({ type: 'ClaimPhone', data: { phoneHash: 'h1', citizenId: 'c1', now } }).then([claimed]);
    phone
      .given([claimed, released])
      .when({ type: 'ClaimPhone', data: { phoneHash: 'h1', citizenId: 'c1', now: later } })
      .then([{ type: 'PhoneClaimed', data: { phoneHash: 'h1', citizenId: 'c1', claimedAt: later } }]);
    phone
      .given([claimed, released])
      .when({ type: 'ClaimPhone', data: { phoneHash: 'h1', citizenId: 'c2', now: later } })
      .thenThrows(PhoneAlreadyClaimed, (e) => expect(e.citizenId).toBe('c1'));
    expect(accountForClaim(fold(phoneDecider, []), 'new')).toBe('new');
    expect(accountForClaim(fold(phoneDecider, [claimed]), 'new')).toBe('c1');
    expect(accountForClaim(fold(phoneDecider, [claimed, released]), 'new')).toBe('c1');
  });

  it('refuses a claim by another citizen, naming the holder; the holder claiming again is a no-op', () => {
    phone
      .given([claimed])
      .when({ type: 'ClaimPhone', data: { phoneHash: 'h1', citizenId: 'c2', now } })
      .thenThrows(PhoneAlreadyClaimed, (e) => expect(e.citizenId).toBe('c1'));
    phone.given([claimed]).when({ type: 'ClaimPhone', data: { phoneHash: 'h1', citizenId: 'c1', now } }).then([]);
  });

  it('releases only for the holder', () => {
    phone.given([claimed]).when({ type: 'ReleasePhone', data: { phoneHash: 'h1', citizenId: 'c1', now: later } }).then([released]);
    phone.given([claimed]).when({ type: 'ReleasePhone', data: { phoneHash: 'h1', citizenId: 'c2', now: later } }).then([]);
    phone.given([claimed, released]).when({ type: 'ReleasePhone', data: { phoneHash: 'h1', citizenId: 'c1', now: later } }).then([]);
  });
});
