import { describe, expect, it } from 'vitest';
import { HashIndex, NumberList, hash32 } from './compactIndex.ts';

describe('compact node indexes', () => {
  it('NumberList grows past its first buffer and keeps every value', () => {
    const list = new NumberList(Float64Array);
    for (let i = 0; i < 1000; i++) list.push(i * 2 ** 33);
    expect(list.length).toBe(1000);
    expect(list.get(999)).toBe(999 * 2 ** 33);
    expect(list.countBelow(10 * 2 ** 33)).toBe(10);
    expect(() => list.get(1000)).toThrow(RangeError);
  });

  it('HashIndex returns every index whose key hashes alike, newest first, for the caller to check', () => {
    const index = new HashIndex();
    for (let i = 0; i < 5000; i++) index.add(`tracker-${i}`, i);
    index.add('tracker-7', 6000);
    expect(index.candidates('tracker-7').slice(0, 2)).toEqual([6000, 7]);
    expect(index.candidates('tracker-4999')).toContain(4999);
    expect(index.candidates('never-added').every((i) => hash32(`tracker-${i}`) === hash32('never-added') || i === 6000)).toBe(true);
  });
});
