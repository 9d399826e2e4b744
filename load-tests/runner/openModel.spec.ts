import { describe, expect, it } from 'vitest';
import { arrivalOffsets, runOpenModel } from './openModel.ts';
import { budgetPhases, selectionOf } from './scenario.ts';

describe('open model', () => {
  it('schedules arrivals at the phase rates, back to back, capped at maxIterations', () => {
    const offsets = [...arrivalOffsets([{ name: 'a', rate: 10, durationMs: 1000 }, { name: 'b', rate: 100, durationMs: 100 }], 1000)];
    expect(offsets).toHaveLength(20);
    expect(offsets[1]).toEqual({ at: 100, phase: 'a' });
    expect(offsets[10]).toEqual({ at: 1000, phase: 'b' });
    expect(offsets[11]!.at).toBeCloseTo(1010);
    expect([...arrivalOffsets([{ name: 'a', rate: 10, durationMs: 1000 }], 4)]).toHaveLength(4);
  });

  it('keeps starting on schedule while iterations hang, and drops arrivals beyond maxInFlight', async () => {
    const started: number[] = [];
    const result = await runOpenModel({
      phases: [{ name: 'only', rate: 1000, durationMs: 10 }],
      maxIterations: 100,
      maxInFlight: 3,
      gracefulStopMs: 0,
      iteration: (index) => {
        started.push(index);
        return new Promise(() => {});
      },
    });
    expect(result).toMatchObject({ scheduled: 10, started: 3, dropped: 7, abandoned: 3, droppedByPhase: { only: 7 } });
    expect(started).toEqual([0, 1, 2]);
  });

  it('gives every voter exactly one arrival across steady, peak and steady phases', () => {
    for (const voters of [1, 7, 2000, 250_000]) {
      const phases = budgetPhases(voters, 500, 1000);
      expect([...arrivalOffsets(phases, Number.POSITIVE_INFINITY)]).toHaveLength(voters);
    }
  });

  it('chooses 1..limit distinct projects per voter, the same on every run', () => {
    const ids = Array.from({ length: 50 }, (_, i) => `p${i + 1}`);
    const sizes = new Set<number>();
    for (let i = 0; i < 1000; i++) {
      const chosen = selectionOf(i, ids, 5);
      expect(new Set(chosen).size).toBe(chosen.length);
      expect(chosen.every((c) => ids.includes(c))).toBe(true);
      sizes.add(chosen.length);
    }
    expect([...sizes].sort()).toEqual([1, 2, 3, 4, 5]);
    expect(selectionOf(42, ids, 5)).toEqual(selectionOf(42, ids, 5));
  });
});
