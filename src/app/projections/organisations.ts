import type { Projection } from '../projection.ts';

/** Organisations for the admin pages and pickers. */
export interface OrganisationRow {
  name: string;
  kind: string;
  createdBy: string;
  createdAt: string;
}

export const organisationsProjection: Projection<OrganisationRow> = {
  name: 'organisations',
  handles: ['OrganisationCreated'],
  keyOf: (event) => (typeof event.data.orgId === 'string' ? event.data.orgId : null),
  evolve: (row, event) =>
    row ?? { name: String(event.data.name), kind: String(event.data.kind), createdBy: String(event.data.createdBy), createdAt: String(event.data.createdAt) },
};
