import * as hdr from 'hdr-histogram-js';

/** Latency summary of one request kind, in milliseconds (recorded in microseconds). */
export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

/** One time window of a request kind: when it started (s from the first record) and its latencies. */
export interface LatencyWindow {
  startS: number;
  count: number;
  p99: number;
  max: number;
}

/** Windows of this many seconds: short enough to place a stall, few enough to keep (a 15 min run: 90). */
export const WINDOW_S = 10;

export interface CheckSummary {
  passes: number;
  fails: number;
}

/**
 * Named HDR histograms (1 µs to 10 min, 3 significant digits: fixed memory whatever the run length)
 * and k6-style checks. Percentiles come from the histogram, never from a sorted sample.
 */
export const createMetrics = () => {
  const histograms = new Map<string, hdr.Histogram>();
  /** Per name, per window: the same histogram kind, so a window's p99 is as exact as the whole run's. */
  const windows = new Map<string, hdr.Histogram[]>();
  let firstAt: number | null = null;
  const checks = new Map<string, CheckSummary>();
  const statuses = new Map<string, number>();
  const errors = new Map<string, number>();

  const build = () => hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3, autoResize: false });
  const histogram = (name: string) => {
    let h = histograms.get(name);
    if (!h) {
      h = build();
      histograms.set(name, h);
    }
    return h;
  };
  const windowOf = (name: string, atMs: number) => {
    firstAt ??= atMs;
    const k = Math.max(0, Math.floor((atMs - firstAt) / (WINDOW_S * 1000)));
    let list = windows.get(name);
    if (!list) windows.set(name, (list = []));
    return (list[k] ??= build());
  };
  const ms = (micros: number) => Math.round(micros) / 1000;

  return {
    /** Records a latency in milliseconds (values beyond the range are clamped to it). */
    record(name: string, latencyMs: number, atMs?: number): void {
      const micros = Math.min(600_000_000, Math.max(1, Math.round(latencyMs * 1000)));
      histogram(name).recordValue(micros);
      // With the request's start time: also in its time window (where in the run a stall was).
      if (atMs !== undefined) windowOf(name, atMs).recordValue(micros);
    },
    /** The time windows of a kind recorded with a start time, in order (empty windows left out). */
    windows(name: string): LatencyWindow[] {
      return (windows.get(name) ?? []).flatMap((h, k) =>
        h ? [{ startS: k * WINDOW_S, count: h.totalCount, p99: ms(h.getValueAtPercentile(99)), max: ms(h.maxValue) }] : [],
      );
    },
    check(name: string, ok: boolean): boolean {
      const c = checks.get(name) ?? { passes: 0, fails: 0 };
      if (ok) c.passes++;
      else c.fails++;
      checks.set(name, c);
      return ok;
    },
    status(request: string, status: number | string): void {
      const key = `${request} ${status}`;
      statuses.set(key, (statuses.get(key) ?? 0) + 1);
    },
    error(kind: string): void {
      errors.set(kind, (errors.get(kind) ?? 0) + 1);
    },
    latency(name: string): LatencySummary {
      const h = histograms.get(name);
      if (!h || h.totalCount === 0) return { count: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0, mean: 0 };
      return {
        count: h.totalCount,
        p50: ms(h.getValueAtPercentile(50)),
        p90: ms(h.getValueAtPercentile(90)),
        p99: ms(h.getValueAtPercentile(99)),
        p999: ms(h.getValueAtPercentile(99.9)),
        max: ms(h.maxValue),
        mean: ms(h.mean),
      };
    },
    snapshot() {
      return {
        latency: Object.fromEntries([...histograms.keys()].map((name) => [name, this.latency(name)])),
        windows: Object.fromEntries([...windows.keys()].map((name) => [name, this.windows(name)])),
        checks: Object.fromEntries(checks),
        statuses: Object.fromEntries(statuses),
        errors: Object.fromEntries(errors),
      };
    },
  };
};

export type Metrics = ReturnType<typeof createMetrics>;
