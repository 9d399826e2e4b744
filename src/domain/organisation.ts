import { assertNever, type Decider } from './decider.ts';
import { type FieldProblem, InvalidOrganisation, OrganisationAlreadyExists } from './errors.ts';

/** Stream `org-<orgId>`: an organisation whose officials run polls (a department, a district, ...). */
export const orgStreamId = (orgId: string): string => `org-${orgId}`;

export const ORG_KINDS = ['department', 'district', 'education', 'library', 'other'] as const;
export type OrgKind = (typeof ORG_KINDS)[number];
export const MAX_ORG_NAME = 100;

export type OrganisationCommand = { type: 'CreateOrganisation'; data: { orgId: string; name: string; kind: string; by: string; now: string } };

/** Event type names are a persisted contract: never rename. */
export type OrganisationEvent = { type: 'OrganisationCreated'; data: { orgId: string; name: string; kind: OrgKind; createdBy: string; createdAt: string } };

export type OrganisationState = { status: 'None' } | { status: 'Created'; orgId: string; name: string; kind: OrgKind };

export const initialState: OrganisationState = { status: 'None' };

const isOrgKind = (kind: string): kind is OrgKind => (ORG_KINDS as readonly string[]).includes(kind);

export function decide(command: OrganisationCommand, state: OrganisationState): OrganisationEvent[] {
  switch (command.type) {
    case 'CreateOrganisation': {
      const { orgId, kind, by, now } = command.data;
      if (state.status !== 'None') throw new OrganisationAlreadyExists(orgId);
      const name = command.data.name.trim();
      const problems: FieldProblem[] = [];
      if (name.length === 0) problems.push({ field: 'name', problem: 'is empty' });
      if ([...name].length > MAX_ORG_NAME) problems.push({ field: 'name', problem: `is longer than ${MAX_ORG_NAME} characters` });
      if (!isOrgKind(kind)) problems.push({ field: 'kind', problem: `must be one of ${ORG_KINDS.join(', ')}` });
      if (problems.length > 0 || !isOrgKind(kind)) throw new InvalidOrganisation(problems);
      return [{ type: 'OrganisationCreated', data: { orgId, name, kind, createdBy: by, createdAt: now } }];
    }
    default:
      return assertNever(command.type);
  }
}

export function evolve(state: OrganisationState, event: OrganisationEvent): OrganisationState {
  switch (event.type) {
    case 'OrganisationCreated':
      return state.status === 'None' ? { status: 'Created', orgId: event.data.orgId, name: event.data.name, kind: event.data.kind } : state;
    default:
      return state;
  }
}

export const organisationDecider: Decider<OrganisationCommand, OrganisationEvent, OrganisationState> = { decide, evolve, initialState };
