import { describe, expect, it } from 'vitest';
import { HashIndex, VoterTable, hash32 } from './compactIndex.ts';

describe('compact node indexes', () => {
  it('HashIndex returns every index whose key hashes alike, newest first, for the caller to check', () => {
    const index = new HashIndex();
    for (let i = 0; i < 5000; i++) index.add(`tracker-${i}`, i);
    index.add('tracker-7', 6000);
    expect(index.candidates('tracker-7').slice(0, 2)).toEqual([6000, 7]);
    expect(index.candidates('tracker-4999')).toContain(4999);
    expect(index.candidates('never-added').every((i) => hash32(`tracker-${i}`) === hash32('never-added') || i === 6000)).toBe(true);
  });

  it('VoterTable keeps voters whose keys collide apart by what the caller confirms, through growth', () => {
    const table = new VoterTable();
    const keyOf = (i: number): Uint32Array => VoterTable.key(Uint8Array.from({ length: 16 }, (_, b) => (i * 31 + b * 7) & 0xff));
    // Voter i's "ballot" is at position 10 * i; voters 0 and 1000 share a key (a collision).
    const voterAt = (i: number) => (position: number) => position === 10 * i;
    for (let i = 0; i < 1000; i++) table.insert(keyOf(i), 10 * i, 1);
    table.insert(keyOf(0), 10 * 1000, 1);
    expect(table.count).toBe(1001);
    const first = table.find(keyOf(0), voterAt(0));
    const second = table.find(keyOf(0), voterAt(1000));
    expect(first).toBeGreaterThanOrEqual(0);
    expect(second).not.toBe(first);
    expect(table.position(second)).toBe(10_000);
    expect(table.find(keyOf(0), () => false)).toBe(-1);
    table.update(first, 20_000, 2);
    expect(table.slotOf(keyOf(0), 20_000)).toBe(first);
    expect(table.casts(first)).toBe(2);
    expect(table.position(table.find(keyOf(999), voterAt(999)))).toBe(9990);
    expect(() => VoterTable.key(new Uint8Array(8))).toThrow(RangeError);
  });
});
