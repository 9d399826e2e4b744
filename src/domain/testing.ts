import { expect } from 'vitest';
import { fold, type Decider } from './decider.ts';
import type { DomainError } from './errors.ts';

type ErrorClass<E extends DomainError> = abstract new (...args: never[]) => E;

/**
 * Given/when/then for deciders, with fixed data and no clock:
 * `specFor(pollDecider).given([created]).when(open).then([opened])` or `.thenThrows(PollClosed)`.
 */
export function specFor<Command, Event, State>(decider: Decider<Command, Event, State>) {
  return {
    given: (events: readonly Event[]) => ({
      when: (command: Command) => {
        const run = () => decider.decide(command, fold(decider, events));
        return {
          then(expected: readonly Event[]): void {
            // Strict: an event stored with `reason: undefined` and one without the key are different JSON contracts.
            expect(run()).toStrictEqual(expected);
          },
          /** Asserts the error class, and lets the caller look at its fields (problems, ids). */
          thenThrows<E extends DomainError>(errorClass: ErrorClass<E>, check?: (error: E) => void): void {
            let thrown: unknown;
            let returned: Event[] | undefined;
            try {
              returned = run();
            } catch (error) {
              thrown = error;
            }
            if (returned !== undefined) {
              expect.fail(`expected ${errorClass.name}, but decide returned ${JSON.stringify(returned)}`);
            }
            expect(thrown).toBeInstanceOf(errorClass);
            check?.(thrown as E);
          },
        };
      },
    }),
  };
}
