import { describe, expect, it } from 'vitest';
import { memoPerCheckpoint } from './checkpointMemo.ts';

describe('memoPerCheckpoint', () => {
  it('asks once per key while the checkpoint stands, again when it moves, and forgets failures', async () => {
    let checkpoint: string | null = null;
    const asked: string[] = [];
    let fail = false;
    const query = memoPerCheckpoint(() => checkpoint, (id: string) => id, async (id: string) => {
      asked.push(`${id}@${checkpoint}`);
      if (fail) throw new Error('down');
      return `${id}:${asked.length}`;
    });
    expect(await Promise.all([query('a'), query('a'), query('b')])).toEqual(['a:1', 'a:1', 'b:2']);
    checkpoint = '1:5';
    expect(await query('a')).toBe('a:3');
    expect(await query('a')).toBe('a:3');
    fail = true;
    await expect(query('b')).rejects.toThrow('down');
    fail = false;
    expect(await query('b')).toBe('b:5');
    expect(asked).toEqual(['a@null', 'b@null', 'a@1:5', 'b@1:5', 'b@1:5']);
  });

  it('never keeps a miss: a row another instance wrote is found before this checkpoint moves', async () => {
    let row: string | undefined;
    let asked = 0;
    const query = memoPerCheckpoint(() => '1:1', (id: string) => id, async () => {
      asked++;
      return row;
    });
    expect(await query('p')).toBeUndefined();
    row = 'poll p';
    expect(await query('p')).toBe('poll p');
    expect(await query('p')).toBe('poll p');
    expect(asked).toBe(2);
  });
});
