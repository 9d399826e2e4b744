/**
 * The shape every aggregate exports (J. Chassaing's decider): the app's command handler reads
 * a stream, folds it with `evolve` from `initialState`, calls `decide`, and appends what it returns.
 * `decide` throws a DomainError when a rule is broken; `evolve` never throws.
 */
export interface Decider<Command, Event, State> {
  decide: (command: Command, state: State) => Event[];
  evolve: (state: State, event: Event) => State;
  initialState: State;
}

/** Folds events into a state: what the command handler does after reading a stream. */
export function fold<Command, Event, State>(decider: Decider<Command, Event, State>, events: readonly NoInfer<Event>[]): State {
  return events.reduce(decider.evolve, decider.initialState);
}

/** Makes a `switch` fail to compile when a union member is not handled. */
export function assertNever(value: never): never {
  throw new Error(`Unhandled case: ${JSON.stringify(value)}`);
}
