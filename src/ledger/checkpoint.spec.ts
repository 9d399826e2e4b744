import { describe, expect, it } from 'vitest';
import { nobleSha256 as h } from './hash.ts';
import { fromHex } from './bytes.ts';
import {
  CheckpointError,
  GENESIS_PREV,
  checkpointHash,
  followsCheckpoint,
  formatCheckpoint,
  parseCheckpoint,
  type Checkpoint,
} from './checkpoint.ts';

const root = fromHex('5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328')!;
const genesis: Checkpoint = { origin: 'vote.example.org/ledger', size: 8, rootHash: root, prev: GENESIS_PREV, extensions: [] };
const GENESIS_TEXT =
  'vote.example.org/ledger\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\nprev AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n';

function codeOf(text: string): string | undefined {
  try {
    parseCheckpoint(text);
    return undefined;
  } catch (e) {
    if (e instanceof CheckpointError) return e.code;
    throw e;
  }
}

describe('checkpoint bodies', () => {
  it('formats the C2SP lines plus prev, and parses them back', () => {
    expect(formatCheckpoint(genesis)).toBe(GENESIS_TEXT);
    expect(parseCheckpoint(GENESIS_TEXT)).toEqual(genesis);
    const withExt = { ...genesis, extensions: ['time 2025-03-01T09:30:00Z'] };
    expect(parseCheckpoint(formatCheckpoint(withExt))).toEqual(withExt);
  });

  it('chains each checkpoint to the body before it', () => {
    const next: Checkpoint = { ...genesis, size: 9, prev: checkpointHash(h, GENESIS_TEXT) };
    expect(followsCheckpoint(h, GENESIS_TEXT, next)).toBe(true);
    expect(followsCheckpoint(h, GENESIS_TEXT, { ...next, size: 7 })).toBe(false);
    expect(followsCheckpoint(h, GENESIS_TEXT, { ...next, origin: 'other.example/log' })).toBe(false);
    expect(followsCheckpoint(h, GENESIS_TEXT, { ...next, prev: GENESIS_PREV })).toBe(false);
  });

  it('rejects malformed bodies with a stable code', () => {
    const [o, s, r, p] = GENESIS_TEXT.slice(0, -1).split('\n');
    const body = (...lines: string[]): string => `${lines.join('\n')}\n`;
    expect(codeOf(GENESIS_TEXT.slice(0, -1))).toBe('malformed');
    expect(codeOf(body(o!, s!, r!))).toBe('malformed');
    expect(codeOf(body('', s!, r!, p!))).toBe('bad-origin');
    expect(codeOf(body('vote example', s!, r!, p!))).toBe('bad-origin');
    expect(codeOf(body('a+b', s!, r!, p!))).toBe('bad-origin');
    for (const size of ['08', '-1', '1.5', ' 8', '0x8', '9007199254740993', '']) {
      expect(codeOf(body(o!, size, r!, p!)), size).toBe('bad-size');
    }
    expect(codeOf(body(o!, '0', r!, p!))).toBeUndefined();
    expect(codeOf(body(o!, s!, r!.slice(4), p!))).toBe('bad-root');
    expect(codeOf(body(o!, s!, `${r!.slice(0, -2)}h=`, p!))).toBe('bad-root');
    expect(codeOf(body(o!, s!, r!, p!.slice(1)))).toBe('bad-prev');
    expect(codeOf(body(o!, s!, r!, `prev  ${p!.slice(5)}`))).toBe('bad-prev');
    expect(codeOf(body(o!, s!, r!, p!, ''))).toBe('bad-extension');
    expect(codeOf(body(o!, s!, r!, p!, 'a\tb'))).toBe('bad-extension');
    expect(() => formatCheckpoint({ ...genesis, size: -1 })).toThrow(CheckpointError);
  });
});
