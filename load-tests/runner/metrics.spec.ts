import { describe, expect, it } from 'vitest';
import { createMetrics, WINDOW_S } from './metrics.ts';

describe('latency windows', () => {
  it('places each latency in the window of its start time, so a stall shows where it was', () => {
    const m = createMetrics();
    const t0 = 1_000_000;
    for (let i = 0; i < 100; i++) m.record('ballot', 5, t0 + i * 10); // first window: 5 ms each
    m.record('ballot', 2500, t0 + 2 * WINDOW_S * 1000 + 1); // third window: one stall
    m.record('page', 7); // no start time: no window
    const w = m.windows('ballot');
    expect(w.map((x) => x.startS)).toEqual([0, 2 * WINDOW_S]);
    expect(w[0]!.count).toBe(100);
    // HDR keeps 3 significant digits.
    expect(w[0]!.p99).toBeCloseTo(5, 1);
    expect(w[0]!.max).toBeCloseTo(5, 1);
    expect(w[1]!.count).toBe(1);
    expect(Math.abs(w[1]!.max - 2500)).toBeLessThan(3);
    expect(m.windows('page')).toEqual([]);
    expect(m.latency('ballot').count).toBe(101);
  });
});
