import { describe, expect, it } from 'vitest';
import type { Decider } from './decider.ts';
import { AlreadyVoted, NotModerator } from './errors.ts';
import { specFor } from './testing.ts';

// A counter that refuses to go above one, to prove the helper itself can fail.
type Command = { type: 'Add'; data: { by: number } };
type Event = { type: 'Added'; data: { by: number } };
const counter: Decider<Command, Event, number> = {
  decide: (command, state) => {
    if (state + command.data.by > 1) throw new AlreadyVoted('counter');
    return [{ type: 'Added', data: { by: command.data.by } }];
  },
  evolve: (state, event) => state + event.data.by,
  initialState: 0,
};
const spec = specFor(counter);
const add = (by: number): Command => ({ type: 'Add', data: { by } });

describe('specFor', () => {
  it('passes on the right events and the right error', () => {
    spec.given([]).when(add(1)).then([{ type: 'Added', data: { by: 1 } }]);
    spec.given([{ type: 'Added', data: { by: 1 } }]).when(add(1)).thenThrows(AlreadyVoted);
  });

  it('fails on other events, on no error, and on another error class', () => {
    expect(() => spec.given([]).when(add(1)).then([])).toThrow();
    expect(() => spec.given([]).when(add(1)).thenThrows(AlreadyVoted)).toThrow(/expected AlreadyVoted/);
    expect(() => spec.given([{ type: 'Added', data: { by: 1 } }]).when(add(1)).thenThrows(NotModerator)).toThrow();
  });
});
