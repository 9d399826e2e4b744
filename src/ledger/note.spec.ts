import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { nobleEd25519, nobleSha256 as h } from './hash.ts';
import { nodeEd25519 } from './nodeCrypto.ts';
import {
  NoteError,
  addSignatures,
  countValidSignatures,
  formatVerifierKey,
  generateSignerKey,
  keyHash,
  openNote,
  parseNote,
  parseSignerKey,
  parseVerifierKey,
  signNote,
  signatureLine,
} from './note.ts';

interface NoteVectors {
  peterSignerKey: string;
  peterVerifierKey: string;
  enochVerifierKey: string;
  text: string;
  peterSignatureLine: string;
  enochSignatureLine: string;
  signedByPeter: string;
}
const v = JSON.parse(readFileSync(new URL('./testdata/sumdb-note-vectors.json', import.meta.url), 'utf8')) as NoteVectors;

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    if (e instanceof NoteError) return e.code;
    throw e;
  }
}

describe('keys, as golang.org/x/mod/sumdb/note writes them', () => {
  it('parses the Go test keys and derives the same verifier key from the signer key', () => {
    const peter = parseVerifierKey(h, v.peterVerifierKey);
    expect(peter.name).toBe('PeterNeumann');
    expect(peter.keyHash).toBe(0xc74f20a3);
    const signer = parseSignerKey(h, nobleEd25519, v.peterSignerKey);
    expect(signer.publicKey).toEqual(peter.publicKey);
    expect(formatVerifierKey(h, 'PeterNeumann', peter.publicKey)).toBe(v.peterVerifierKey);
    expect(generateSignerKey(h, nobleEd25519, 'PeterNeumann', signer.seed)).toEqual({
      signerKey: v.peterSignerKey,
      verifierKey: v.peterVerifierKey,
    });
    expect(parseVerifierKey(h, v.enochVerifierKey).keyHash).toBe(0xaf0cfe78);
  });

  it('rejects every substring and every single-byte change of a verifier key, like Go', () => {
    const key = v.peterVerifierKey;
    for (let i = 0; i <= key.length; i++) {
      for (let j = i + 1; j <= key.length; j++) {
        if (i === 0 && j === key.length) continue;
        expect(codeOf(() => parseVerifierKey(h, key.slice(i, j))), key.slice(i, j)).toBeDefined();
      }
    }
    for (let i = 0; i < key.length; i++) {
      const mangled = key.slice(0, i) + String.fromCharCode(key.charCodeAt(i) + 1) + key.slice(i + 1);
      expect(codeOf(() => parseVerifierKey(h, mangled)), mangled).toBeDefined();
    }
    expect(codeOf(() => parseVerifierKey(h, 'PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW'))).toBe(
      'unknown-algorithm',
    );
  });

  it('rejects single-byte changes of a signer key', () => {
    const key = v.peterSignerKey;
    for (let i = 0; i < key.length; i++) {
      const mangled = key.slice(0, i) + String.fromCharCode(key.charCodeAt(i) + 1) + key.slice(i + 1);
      expect(codeOf(() => parseSignerKey(h, nobleEd25519, mangled)), mangled).toBeDefined();
    }
  });

  it('hashes name, newline and algorithm-tagged key', () => {
    const peter = parseVerifierKey(h, v.peterVerifierKey);
    expect(keyHash(h, 'PeterNeumann', new Uint8Array([1, ...peter.publicKey]))).toBe(0xc74f20a3);
    expect(() => formatVerifierKey(h, 'bad name', peter.publicKey)).toThrow(NoteError);
    expect(() => formatVerifierKey(h, 'a+b', peter.publicKey)).toThrow(NoteError);
  });
});

describe('signed notes', () => {
  const peterSigner = parseSignerKey(h, nobleEd25519, v.peterSignerKey);
  const peter = parseVerifierKey(h, v.peterVerifierKey);
  const enoch = parseVerifierKey(h, v.enochVerifierKey);

  it('signs byte-for-byte as Go does, with noble and with node:crypto', () => {
    expect(signNote(nobleEd25519, v.text, [peterSigner])).toBe(v.signedByPeter);
    expect(signNote(nodeEd25519, v.text, [peterSigner])).toBe(v.signedByPeter);
    expect(signatureLine(nodeEd25519, v.text, peterSigner)).toBe(v.peterSignatureLine);
    expect(codeOf(() => signNote(nobleEd25519, 'abc', [peterSigner]))).toBe('malformed-note');
    expect(codeOf(() => signNote(nobleEd25519, 'a\tb\n', [peterSigner]))).toBe('malformed-note');
  });

  it('opens the Go test note: one verified, one unknown, then both verified', () => {
    const note = `${v.text}\n${v.peterSignatureLine}${v.enochSignatureLine}`;
    const one = openNote(nobleEd25519, note, [peter]);
    expect(one.text).toBe(v.text);
    expect(one.valid.map((s) => [s.name, s.keyHash])).toEqual([['PeterNeumann', 0xc74f20a3]]);
    expect(one.unknown.map((s) => s.name)).toEqual(['EnochRoot']);
    expect(one.invalid).toEqual([]);
    const both = openNote(nodeEd25519, note, [peter, enoch]);
    expect(both.valid.map((s) => s.name)).toEqual(['PeterNeumann', 'EnochRoot']);
    expect(countValidSignatures(nobleEd25519, note, [peter, enoch])).toBe(2);
    expect(openNote(nobleEd25519, note, []).unknown).toHaveLength(2);
  });

  it('reports a corrupted signature from a known key as invalid', () => {
    const bad = v.peterSignatureLine.slice(0, 60) + 'ABCD' + v.peterSignatureLine.slice(60);
    const opened = openNote(nobleEd25519, `${v.text}\n${bad}${v.enochSignatureLine}`, [peter, enoch]);
    expect(opened.invalid.map((s) => s.name)).toEqual(['PeterNeumann']);
    expect(opened.valid.map((s) => s.name)).toEqual(['EnochRoot']);
    // Valid signatures on other text do not count.
    expect(countValidSignatures(nobleEd25519, `${v.text}x\n\n${v.peterSignatureLine}`, [peter])).toBe(0);
  });

  it('counts repeated signatures once and distinct keys, not names', () => {
    const note = `${v.text}\n${v.peterSignatureLine}${v.peterSignatureLine}`;
    expect(openNote(nobleEd25519, note, [peter]).valid).toHaveLength(1);
    const alias = { ...peter, name: 'Alias' };
    expect(countValidSignatures(nobleEd25519, note, [peter, alias])).toBe(1);
  });

  it('refuses an ambiguous verifier list only when a signature needs it', () => {
    const impostor = { ...peter, publicKey: enoch.publicKey };
    const note = `${v.text}\n${v.peterSignatureLine}`;
    expect(codeOf(() => openNote(nobleEd25519, note, [peter, impostor]))).toBe('ambiguous-key');
    expect(openNote(nobleEd25519, `${v.text}\n${v.enochSignatureLine}`, [peter, impostor]).unknown).toHaveLength(1);
  });

  it('rejects malformed notes as Go does', () => {
    const sig = v.peterSignatureLine;
    const bad = [
      v.text,
      `${v.text}\n`,
      `${v.text}\n${sig.slice(0, -1)}`,
      `\x01${v.text}\n${sig}`,
      `\uD800${v.text}\n${sig}`,
      `${v.text}\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`,
      `${v.text}\n${sig}Unexpected line.\n`,
      `${v.text}\n${sig.repeat(101)}`,
      `${v.text}\n— PeterNeumann AAAA\n`,
    ];
    for (const note of bad) {
      expect(codeOf(() => openNote(nobleEd25519, note, [peter])), JSON.stringify(note)).toBe('malformed-note');
      expect(countValidSignatures(nobleEd25519, note, [peter])).toBe(0);
    }
  });

  it('merges signature lines from several signers', () => {
    const seeds = [1, 2, 3].map((i) => new Uint8Array(32).fill(i));
    const signers = seeds.map((s, i) =>
      parseSignerKey(h, nobleEd25519, generateSignerKey(h, nobleEd25519, `node${i}`, s).signerKey),
    );
    const text = 'example.org/log\n5\nAAAA\n';
    let note = signNote(nobleEd25519, text, [signers[0]!]);
    note = addSignatures(note, [signatureLine(nobleEd25519, text, signers[1]!), signatureLine(nobleEd25519, text, signers[2]!).trimEnd()]);
    note = addSignatures(note, [signatureLine(nobleEd25519, text, signers[1]!)]);
    expect(parseNote(note).signatures.map((s) => s.name)).toEqual(['node0', 'node1', 'node2']);
    expect(note).toBe(signNote(nobleEd25519, text, signers));
    expect(countValidSignatures(nobleEd25519, note, signers)).toBe(3);
    expect(codeOf(() => addSignatures(note, ['not a signature']))).toBe('malformed-note');
    expect(codeOf(() => addSignatures(note, [`${signatureLine(nobleEd25519, text, signers[0]!)}x\n`]))).toBe('malformed-note');
  });
});
