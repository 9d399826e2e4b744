import { describe, it } from 'vitest';
import { organisationDecider, type OrganisationEvent } from './organisation.ts';
import { InvalidOrganisation, OrganisationAlreadyExists } from './errors.ts';
import { specFor } from './testing.ts';
import { expect } from 'vitest';

const spec = specFor(organisationDecider);
const now = '2025-03-01T09:00:00.000Z';
const created: OrganisationEvent = { type: 'OrganisationCreated', data: { orgId: 'o1', name: '서울시 교통정책과', kind: 'department', createdBy: 'admin1', createdAt: now } };

describe('organisation decider', () => {
  it('creates an organisation with a trimmed name and the actor', () => {
    spec.given([]).when({ type: 'CreateOrganisation', data: { orgId: 'o1', name: '  서울시 교통정책과 ', kind: 'department', by: 'admin1', now } }).then([created]);
  });

  it('refuses a second creation of the same id', () => {
    spec.given([created]).when({ type: 'CreateOrganisation', data: { orgId: 'o1', name: 'x', kind: 'library', by: 'admin1', now } }).thenThrows(OrganisationAlreadyExists);
  });

  it('refuses an empty name and an unknown kind, naming both fields', () => {
    spec
      .given([])
      .when({ type: 'CreateOrganisation', data: { orgId: 'o1', name: '  ', kind: 'army', by: 'admin1', now } })
      .thenThrows(InvalidOrganisation, (e) => expect(e.problems.map((p) => p.field)).toEqual(['name', 'kind']));
  });

  it('refuses a name longer than 100 characters', () => {
    spec.given([]).when({ type: 'CreateOrganisation', data: { orgId: 'o1', name: '가'.repeat(101), kind: 'other', by: 'a', now } }).thenThrows(InvalidOrganisation);
  });
});
