import { describe, expect, it } from 'vitest';
import { nobleEd25519, nobleSha256 as h } from './hash.ts';
import { nodeEd25519 } from './nodeCrypto.ts';
import { NoteError, addSignatures, generateSignerKey, parseNote, parseSignerKey, parseVerifierKey } from './note.ts';
import {
  TallyStatementError,
  formatTallyStatement,
  openTallyNote,
  parseTallyStatement,
  signTallyNote,
  tallyHash,
  tallyVerdict,
  type TallyStatement,
} from './tallyNote.ts';

const ORIGIN = 'vote.example.org/ledger';
const keys = [1, 2, 3, 4].map((i) => generateSignerKey(h, nobleEd25519, `node${i}`, new Uint8Array(32).fill(i)));
const signers = keys.map((k) => parseSignerKey(h, nobleEd25519, k.signerKey));
const verifiers = keys.map((k) => parseVerifierKey(h, k.verifierKey));
const tally = { pollId: 'poll-1', questions: { q1: { a: 10, b: 7 } }, ballots: 17 };
const other = { ...tally, questions: { q1: { a: 9, b: 8 } } };
const statement = (t: unknown): TallyStatement => ({ origin: ORIGIN, pollId: 'poll-1', size: 42, tallyHash: tallyHash(h, t) });
const opts = { verifierKeys: keys.map((k) => k.verifierKey), quorum: 3, origin: ORIGIN, pollId: 'poll-1' };

describe('tally statements', () => {
  it('format, parse and hash the canonical tally whatever its key order', () => {
    const text = formatTallyStatement(statement(tally));
    expect(text).toMatch(/^vote\.example\.org\/ledger\/tally\npoll poll-1\nsize 42\nsha256 [A-Za-z0-9+/]{43}=\n$/);
    expect(parseTallyStatement(text)).toEqual(statement(tally));
    expect(tallyHash(h, { ballots: 17, questions: { q1: { b: 7, a: 10 } }, pollId: 'poll-1' })).toEqual(tallyHash(h, tally));
    expect(tallyHash(h, other)).not.toEqual(tallyHash(h, tally));
  });

  it('reject malformed statements', () => {
    const text = formatTallyStatement(statement(tally));
    const bad = [
      text.replace('/tally', ''),
      text.replace('size 42', 'size 042'),
      text.replace('poll poll-1', 'poll poll 1'),
      text.replace('sha256 ', 'sha256  '),
      `${text}extra\n`,
      text.slice(0, -1),
      text.replace('vote.example.org/ledger', 'vote example'),
    ];
    for (const b of bad) expect(() => parseTallyStatement(b), JSON.stringify(b)).toThrow(TallyStatementError);
    expect(() => formatTallyStatement({ ...statement(tally), pollId: '' })).toThrow(TallyStatementError);
  });

  it('are signed as notes and opened with their distinct signers', () => {
    const note = signTallyNote(nodeEd25519, statement(tally), signers.slice(0, 3));
    expect(note).toBe(signTallyNote(nobleEd25519, statement(tally), signers.slice(0, 3)));
    const opened = openTallyNote(nobleEd25519, note, verifiers);
    expect(opened.signers).toEqual(['node1', 'node2', 'node3']);
    expect(opened.statement.pollId).toBe('poll-1');
    expect(() => openTallyNote(nobleEd25519, 'nonsense', verifiers)).toThrow(NoteError);
  });
});

describe('tallyVerdict', () => {
  const byNode = (t: unknown, i: number): string => signTallyNote(nobleEd25519, statement(t), [signers[i]!]);

  it('is completed when a quorum signed the published tally, in separate or merged notes', () => {
    const separate = [0, 1, 2].map((i) => byNode(tally, i));
    expect(tallyVerdict(h, nobleEd25519, separate, tally, opts)).toEqual({
      verdict: 'completed',
      agreeing: ['node1', 'node2', 'node3'],
      conflicting: [],
      unreadable: 0,
    });
    const merged = addSignatures(separate[0]!, [1, 2].map((i) => parseNote(separate[i]!).signatures[0]!.line));
    expect(tallyVerdict(h, nobleEd25519, [merged], tally, opts).verdict).toBe('completed');
  });

  it('is pending below quorum, and does not count one node twice', () => {
    expect(tallyVerdict(h, nobleEd25519, [byNode(tally, 0), byNode(tally, 1)], tally, opts).verdict).toBe('pending');
    expect(tallyVerdict(h, nobleEd25519, [byNode(tally, 0), byNode(tally, 0), byNode(tally, 1)], tally, opts).verdict).toBe(
      'pending',
    );
    expect(tallyVerdict(h, nobleEd25519, [], tally, opts).verdict).toBe('pending');
  });

  it('fails when two nodes signed a different result, even if a quorum agrees', () => {
    const notes = [byNode(tally, 0), byNode(tally, 1), byNode(other, 2), byNode(other, 3)];
    const result = tallyVerdict(h, nobleEd25519, notes, tally, opts);
    expect(result.verdict).toBe('failed');
    expect(result.conflicting).toEqual(['node3', 'node4']);
    // One dissenting node is not enough to fail a completed tally.
    const oneOff = [byNode(tally, 0), byNode(tally, 1), byNode(tally, 2), byNode(other, 3)];
    expect(tallyVerdict(h, nobleEd25519, oneOff, tally, opts).verdict).toBe('completed');
    // The published result itself differs from what three nodes signed.
    expect(tallyVerdict(h, nobleEd25519, oneOff.slice(0, 3), other, opts).verdict).toBe('failed');
  });

  it('ignores other polls, other logs, strangers and unreadable notes', () => {
    const stranger = parseSignerKey(h, nobleEd25519, generateSignerKey(h, nobleEd25519, 'node9', new Uint8Array(32).fill(9)).signerKey);
    const notes = [
      signTallyNote(nobleEd25519, { ...statement(other), pollId: 'poll-2' }, signers),
      signTallyNote(nobleEd25519, { ...statement(other), origin: 'other.example/log' }, signers),
      signTallyNote(nobleEd25519, statement(other), [stranger]),
      'garbage',
    ];
    expect(tallyVerdict(h, nobleEd25519, notes, tally, opts)).toEqual({ verdict: 'pending', agreeing: [], conflicting: [], unreadable: 1 });
    expect(tallyVerdict(h, nobleEd25519, notes, { bad: Number.NaN }, opts).verdict).toBe('pending');
  });
});
