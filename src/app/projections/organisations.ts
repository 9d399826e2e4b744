import type { Projection } from '../projection.ts';

/** Organisations for the admin pages and pickers. */
export interface OrganisationRow {
  name: string;
  kind: string;
  createdBy: string;
  createdAt: string;
}

export const organisationsProjection: Projection<OrganisationRow, 'OrganisationCreated'> = {
  name: 'organisations',
  handles: ['OrganisationCreated'],
  keyOf: ({ data }) => (typeof data.orgId === 'string' ? data.orgId : null),
  evolve: (row, { data }) => row ?? { name: data.name, kind: data.kind, createdBy: data.createdBy, createdAt: data.createdAt },
};
