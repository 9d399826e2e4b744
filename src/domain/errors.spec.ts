import { describe, expect, it } from 'vitest';
import {
  AlreadyVoted,
  ConcurrencyConflict,
  InvalidPollDefinition,
  NotOnVoterRoll,
  PollNotFound,
  PollNotOpen,
  httpStatusOf,
  type DomainError,
} from './errors.ts';

describe('httpStatusOf', () => {
  it.each<[DomainError, number]>([
    [new InvalidPollDefinition([{ field: 'title', problem: 'is required' }]), 422],
    [new PollNotOpen('p1'), 409],
    [new PollNotFound('p1'), 404],
    [new AlreadyVoted('p1'), 409],
    [new ConcurrencyConflict('poll-p1'), 409],
    [new NotOnVoterRoll('p1'), 403],
  ])('maps %s to %i', (error, status) => {
    expect(httpStatusOf(error)).toBe(status);
  });
});

describe('DomainError', () => {
  it('is an Error with a stable code, its class name, and an English message', () => {
    const error = new InvalidPollDefinition([{ field: 'title', problem: 'is required' }]);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('InvalidPollDefinition');
    expect(error.code).toBe('poll.invalid-definition');
    expect(error.message).toBe('Invalid poll definition: title is required');
  });
});
