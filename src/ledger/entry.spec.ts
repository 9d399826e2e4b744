import { describe, expect, it } from 'vitest';
import { fromUtf8, utf8 } from './bytes.ts';
import {
  ballotTrackerCode,
  canonicalEntryBytes,
  canonicalJsonBytes,
  ledgerEntryProblem,
  normalizeTracker,
  trackerCode,
  type LedgerEntry,
} from './entry.ts';
import { nodeSha256 } from './nodeCrypto.ts';

const salt = 'a1'.repeat(32);
const ballot: LedgerEntry = {
  kind: 'ballot',
  pollId: 'poll-1',
  eventType: 'BallotCast',
  eventId: '0b5c8a52-8d0e-4c1b-9d6e-1f2a3b4c5d6e',
  at: '2025-03-01T09:30:00.000Z',
  data: {
    voterTag: 'ff00',
    selections: { selections: { q1: ['opt-b', 'opt-a'] } },
    salt,
    tracker: ballotTrackerCode(salt, '0b5c8a52-8d0e-4c1b-9d6e-1f2a3b4c5d6e'),
  },
};

describe('canonical entry bytes (RFC 8785)', () => {
  it('sorts keys at every depth and keeps array order', () => {
    expect(fromUtf8(canonicalJsonBytes({ b: 1, a: { d: [3, 1], c: 'é' } }))).toBe('{"a":{"c":"é","d":[3,1]},"b":1}');
    const text = fromUtf8(canonicalEntryBytes(ballot));
    expect(text.startsWith('{"at":"2025-03-01T09:30:00.000Z","data":{"salt":')).toBe(true);
    expect(text).toContain('"selections":{"selections":{"q1":["opt-b","opt-a"]}}');
  });

  it('gives the same bytes whatever the key order of the input', () => {
    const shuffled = { data: ballot.data, at: ballot.at, eventId: ballot.eventId, eventType: ballot.eventType, pollId: ballot.pollId, kind: ballot.kind };
    expect(canonicalEntryBytes(shuffled as LedgerEntry)).toEqual(canonicalEntryBytes(ballot));
  });

  it('writes numbers the RFC 8785 way and refuses what JSON cannot hold', () => {
    expect(fromUtf8(canonicalJsonBytes([1e21, 0.1, -0, 100]))).toBe('[1e+21,0.1,0,100]');
    expect(() => canonicalJsonBytes({ x: Number.NaN })).toThrow(TypeError);
    expect(() => canonicalJsonBytes(undefined)).toThrow(TypeError);
  });
});

describe('ledgerEntryProblem', () => {
  it('accepts well-formed poll and ballot entries', () => {
    expect(ledgerEntryProblem(ballot)).toBeUndefined();
    expect(ledgerEntryProblem({ ...ballot, kind: 'poll', data: { title: 'x' } })).toBeUndefined();
  });

  it('names what is wrong with malformed entries', () => {
    expect(ledgerEntryProblem(null)).toMatch(/not an object/);
    expect(ledgerEntryProblem({ ...ballot, kind: 'vote' })).toMatch(/kind/);
    expect(ledgerEntryProblem({ ...ballot, eventId: '' })).toMatch(/eventId/);
    expect(ledgerEntryProblem({ ...ballot, at: 'yesterday' })).toMatch(/ISO/);
    expect(ledgerEntryProblem({ ...ballot, extra: 1 })).toMatch(/unexpected/);
    expect(ledgerEntryProblem({ ...ballot, data: { ...(ballot.data as object), salt: 'abc' } })).toMatch(/salt/);
    expect(ledgerEntryProblem({ ...ballot, kind: 'poll', data: { n: Number.POSITIVE_INFINITY } })).toMatch(/plain JSON/);
  });
});

describe('tracker codes', () => {
  it('are 12 Crockford base32 characters in three groups, derived from SHA-256', () => {
    const code = trackerCode(utf8('hello'));
    expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/);
    // SHA-256("hello") starts 2cf24dba5fb0a30e: bits 00101 10011 11001 00100 11011 01110 10010 11111 ...
    expect(code.startsWith('5KS4-VEJZ-')).toBe(true);
    expect(trackerCode(utf8('hello'), nodeSha256)).toBe(code);
    expect(trackerCode(utf8('hellp'))).not.toBe(code);
  });

  it('bind the ballot salt and event id', () => {
    const a = ballotTrackerCode(salt, 'e1');
    expect(ballotTrackerCode(salt, 'e1')).toBe(a);
    expect(ballotTrackerCode('b2'.repeat(32), 'e1')).not.toBe(a);
    expect(ballotTrackerCode(salt, 'e2')).not.toBe(a);
    expect(() => ballotTrackerCode('AB'.repeat(32), 'e1')).toThrow(RangeError);
  });

  it('normalise what people type', () => {
    const code = trackerCode(utf8('hello'));
    expect(normalizeTracker(code)).toBe(code);
    expect(normalizeTracker(code.toLowerCase().replace(/-/g, ''))).toBe(code);
    expect(normalizeTracker(' 5ks4 vejz ' + code.slice(10).toLowerCase())).toBe(code);
    expect(normalizeTracker('IIll-OOoo-0000')).toBe('1111-0000-0000');
    expect(normalizeTracker('ABCD-EFGH-JKM')).toBeNull();
    expect(normalizeTracker('ABCD-EFGH-JKMNP')).toBeNull();
    expect(normalizeTracker('ABCD-EFGH-JKMU')).toBeNull();
    expect(normalizeTracker('ABCD-EFGH-JK*N')).toBeNull();
    expect(normalizeTracker('')).toBeNull();
  });
});
