import type { Role } from '../../domain/citizen.ts';
import { assertNever } from '../../domain/decider.ts';
import type { Projection } from '../projection.ts';

/**
 * Who holds which role, for sign-in checks and admin lists. No personal data: the number and the name
 * stay encrypted in the citizen's stream.
 */
export interface CitizenRow {
  /** Roles in force: a suspended official has lost 'official' but keeps orgId. */
  roles: Role[];
  orgId: string | null;
  status: 'active' | 'deleted';
  officialStatus: 'active' | 'suspended' | null;
  createdAt: string;
}

const withRoles = (row: CitizenRow, official: boolean, admin: boolean): CitizenRow => ({
  ...row,
  roles: ['citizen', ...(official ? (['official'] as const) : []), ...(admin ? (['admin'] as const) : [])],
});

type CitizenRowEvent = 'CitizenRegistered' | 'OfficialRoleGranted' | 'OfficialSuspended' | 'OfficialReinstated' | 'AdminRoleGranted' | 'CitizenDeleted';

export const citizensProjection: Projection<CitizenRow, CitizenRowEvent> = {
  name: 'citizens',
  handles: ['CitizenRegistered', 'OfficialRoleGranted', 'OfficialSuspended', 'OfficialReinstated', 'AdminRoleGranted', 'CitizenDeleted'],
  keyOf: (event) => (typeof event.data.citizenId === 'string' ? event.data.citizenId : null),
  evolve: (row, event) => {
    // A deleted account that comes back (its number signed in again) starts empty.
    if (event.type === 'CitizenRegistered')
      return row?.status === 'active' ? row : { roles: ['citizen'], orgId: null, status: 'active', officialStatus: null, createdAt: event.data.registeredAt };
    if (!row || row.status === 'deleted') return row;
    const admin = row.roles.includes('admin');
    switch (event.type) {
      case 'OfficialRoleGranted':
        return withRoles({ ...row, orgId: event.data.orgId, officialStatus: 'active' }, true, admin);
      case 'OfficialSuspended':
        return withRoles({ ...row, officialStatus: 'suspended' }, false, admin);
      case 'OfficialReinstated':
        return withRoles({ ...row, officialStatus: 'active' }, true, admin);
      case 'AdminRoleGranted':
        return withRoles(row, row.officialStatus === 'active', true);
      case 'CitizenDeleted':
        return { ...row, roles: [], status: 'deleted' };
      default:
        return assertNever(event);
    }
  },
};
