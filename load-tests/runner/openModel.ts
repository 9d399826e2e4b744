/**
 * An open-model (arrival-rate) executor, the same model as k6's `constant-arrival-rate` and
 * `ramping-arrival-rate`: iterations start on a fixed schedule whatever the system under test does, so
 * a slow server meets more concurrent work, never less. Each iteration is handed the instant it was
 * *meant* to start; measuring from there (not from when it actually started) keeps the generator's own
 * stalls in the numbers and avoids coordinated omission.
 */
export interface Phase {
  name: string;
  /** Iterations started per second during the phase. */
  rate: number;
  durationMs: number;
  /** Exact arrival count, where rate × duration would round (default: floor(rate × duration)). */
  iterations?: number;
}

export interface OpenModelOptions {
  phases: Phase[];
  /** No iteration starts after this many were scheduled (e.g. the number of voters). */
  maxIterations: number;
  /** An arrival that finds this many iterations in flight is dropped and counted, not queued. */
  maxInFlight: number;
  /** After the schedule ends, in-flight iterations get this long before they are abandoned. */
  gracefulStopMs: number;
  /** `index` counts arrivals from 0 (dropped ones included); `intendedStart` is a performance.now() instant. */
  iteration: (index: number, intendedStart: number, phase: string) => Promise<void>;
  /** Scheduler resolution; arrivals due within one tick start together. */
  tickMs?: number;
}

export interface OpenModelResult {
  scheduled: number;
  started: number;
  dropped: number;
  completed: number;
  /** Still running when the graceful stop ran out. */
  abandoned: number;
  /** Iterations that threw (the iteration should record its own failures; this counts escapes). */
  crashed: number;
  durationMs: number;
  /** Largest delay between an arrival's intended and actual start: the generator's own lag. */
  maxStartLagMs: number;
  droppedByPhase: Record<string, number>;
}

/** Arrival instants of the whole schedule, relative to its start, capped at `maxIterations`. */
export const arrivalOffsets = function* (phases: Phase[], maxIterations: number): Generator<{ at: number; phase: string }> {
  let phaseStart = 0;
  let count = 0;
  for (const phase of phases) {
    const arrivals = phase.iterations ?? Math.floor((phase.rate * phase.durationMs) / 1000);
    for (let k = 0; k < arrivals; k++) {
      if (count++ >= maxIterations) return;
      yield { at: phaseStart + (k * 1000) / phase.rate, phase: phase.name };
    }
    phaseStart += phase.durationMs;
  }
};

/** Runs the schedule to its end (or `maxIterations`), then waits at most `gracefulStopMs` for stragglers. */
export const runOpenModel = async (options: OpenModelOptions): Promise<OpenModelResult> => {
  const tickMs = options.tickMs ?? 2;
  const arrivals = arrivalOffsets(options.phases, options.maxIterations);
  const result: OpenModelResult = { scheduled: 0, started: 0, dropped: 0, completed: 0, abandoned: 0, crashed: 0, durationMs: 0, maxStartLagMs: 0, droppedByPhase: {} };
  let inFlight = 0;
  let drained: (() => void) | undefined;
  const t0 = performance.now();
  let next = arrivals.next();

  const launch = (index: number, intendedStart: number, phase: string) => {
    inFlight++;
    result.started++;
    options
      .iteration(index, intendedStart, phase)
      .catch(() => void result.crashed++)
      .finally(() => {
        inFlight--;
        result.completed++;
        if (inFlight === 0) drained?.();
      });
  };

  while (!next.done) {
    const now = performance.now();
    while (!next.done && t0 + next.value.at <= now) {
      const { at, phase } = next.value;
      const index = result.scheduled++;
      if (inFlight >= options.maxInFlight) {
        result.dropped++;
        result.droppedByPhase[phase] = (result.droppedByPhase[phase] ?? 0) + 1;
      } else {
        result.maxStartLagMs = Math.max(result.maxStartLagMs, now - (t0 + at));
        launch(index, t0 + at, phase);
      }
      next = arrivals.next();
    }
    if (next.done) break;
    const wait = Math.max(0, Math.min(tickMs, t0 + next.value.at - performance.now()));
    await new Promise((resolve) => setTimeout(resolve, wait));
  }

  if (inFlight > 0) {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => (drained = resolve)),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, options.gracefulStopMs))),
    ]);
    clearTimeout(timer);
  }
  result.abandoned = inFlight;
  result.durationMs = performance.now() - t0;
  // A copy: abandoned iterations that finish later must not change the report.
  return { ...result, droppedByPhase: { ...result.droppedByPhase } };
};
