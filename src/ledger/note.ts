/**
 * C2SP signed notes, byte-compatible with Go's golang.org/x/mod/sumdb/note (Ed25519 keys only):
 *
 *   <text, ending in a newline>
 *   <blank line>
 *   — <key name> <base64(4-byte key hash || 64-byte Ed25519 signature)>
 *   ...
 *
 * The signature covers the text's UTF-8 bytes. The key hash is the first 4 bytes of
 * SHA-256(name || "\n" || 0x01 || public key). Verifier keys read `<name>+<8 hex>+<base64(0x01 || key)>`,
 * signer keys `PRIVATE+KEY+<name>+<8 hex>+<base64(0x01 || seed)>`.
 *
 * Unlike Go's Open, openNote does not stop at the first invalid signature: a quorum check wants to know
 * every valid, invalid and unknown signature.
 *
 * Hand-written: no maintained JavaScript package implements the C2SP signed-note format; Go's
 * sumdb/note verifies the notes made here byte for byte in the tests (docs/DEPENDENCIES.md).
 */
import { bytesEqual, concatBytes, fromBase64, isWellFormedText, toBase64, toHex, utf8 } from './bytes.ts';
import type { Ed25519, Sha256 } from './hash.ts';

const ALG_ED25519 = 0x01;
const SIG_PREFIX = '\u2014 '; // em dash, space
const MAX_SIGNATURES = 100; // as Go: bounds the work an adversarial note can cause

export type NoteErrorCode =
  | 'malformed-note'
  | 'malformed-key'
  | 'key-hash-mismatch'
  | 'unknown-algorithm'
  | 'ambiguous-key';

export class NoteError extends Error {
  override readonly name = 'NoteError';
  constructor(
    readonly code: NoteErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** A key that checks signatures: the parsed form of a verifier key string. */
export interface NoteVerifier {
  name: string;
  /** uint32 */
  keyHash: number;
  publicKey: Uint8Array;
}

/** A key that signs: the parsed form of a signer key string. Keep `seed` secret. */
export interface NoteSigner extends NoteVerifier {
  seed: Uint8Array;
}

/** One signature line of a note, as written (base64 includes the 4-byte key hash). */
export interface NoteSignature {
  name: string;
  keyHash: number;
  base64: string;
}

export interface ValidNoteSignature extends NoteSignature {
  verifier: NoteVerifier;
}

export interface OpenedNote {
  /** The signed text, ending in a newline. */
  text: string;
  /** At most one per verifier, in note order. */
  valid: ValidNoteSignature[];
  /** Signatures from known keys that do not verify. */
  invalid: NoteSignature[];
  /** Signatures from keys not in the verifier list (not checked). */
  unknown: NoteSignature[];
}

/** Go's isValidName: non-empty, well-formed, no Unicode white space, no '+'. */
export function isValidKeyName(name: string): boolean {
  return name !== '' && isWellFormedText(name) && !/[\p{White_Space}+]/u.test(name);
}

/** First 4 bytes of SHA-256(name || "\n" || key), big-endian; `key` includes the algorithm byte. */
export function keyHash(h: Sha256, name: string, key: Uint8Array): number {
  const d = h(concatBytes(utf8(name), utf8('\n'), key));
  return ((d[0]! << 24) | (d[1]! << 16) | (d[2]! << 8) | d[3]!) >>> 0;
}

const hex8 = (n: number): string => n.toString(16).padStart(8, '0');

/** `<name>+<hash>+<base64(0x01 || publicKey)>` for a 32-byte Ed25519 public key. */
export function formatVerifierKey(h: Sha256, name: string, publicKey: Uint8Array): string {
  if (!isValidKeyName(name)) throw new NoteError('malformed-key', `invalid key name ${JSON.stringify(name)}`);
  if (publicKey.length !== 32) throw new NoteError('malformed-key', 'Ed25519 public key must be 32 bytes');
  const key = concatBytes(new Uint8Array([ALG_ED25519]), publicKey);
  return `${name}+${hex8(keyHash(h, name, key))}+${toBase64(key)}`;
}

/** Go's chop: splits at the first separator; without one, everything is `before`. */
function chop(s: string, sep: string): [string, string] {
  const i = s.indexOf(sep);
  return i < 0 ? [s, ''] : [s.slice(0, i), s.slice(i + sep.length)];
}

/** Parses `<hash>+<base64 key>` after the name: the shared tail of verifier and signer keys. */
function parseKeyTail(name: string, rest: string): { hash: number; key: Uint8Array } {
  const [hash16, key64] = chop(rest, '+');
  const key = fromBase64(key64);
  if (!/^[0-9a-fA-F]{8}$/.test(hash16) || !key || key.length === 0 || !isValidKeyName(name)) {
    throw new NoteError('malformed-key', 'malformed key');
  }
  if (key[0] !== ALG_ED25519) throw new NoteError('unknown-algorithm', 'unknown key algorithm');
  if (key.length !== 33) throw new NoteError('malformed-key', 'Ed25519 key must be 32 bytes');
  return { hash: parseInt(hash16, 16), key };
}

/** Parses a verifier key string. Throws NoteError. */
export function parseVerifierKey(h: Sha256, vkey: string): NoteVerifier {
  const [name, rest] = chop(vkey, '+');
  const { hash, key } = parseKeyTail(name, rest);
  if (keyHash(h, name, key) !== hash) throw new NoteError('key-hash-mismatch', 'key hash does not match key');
  return { name, keyHash: hash, publicKey: key.slice(1) };
}

/** Parses a signer key string, deriving the public key to check the hash. Throws NoteError. */
export function parseSignerKey(h: Sha256, ed: Ed25519, skey: string): NoteSigner {
  const [priv1, r1] = chop(skey, '+');
  const [priv2, r2] = chop(r1, '+');
  const [name, rest] = chop(r2, '+');
  if (priv1 !== 'PRIVATE' || priv2 !== 'KEY') throw new NoteError('malformed-key', 'malformed signer key');
  const { hash, key } = parseKeyTail(name, rest);
  const seed = key.slice(1);
  const publicKey = ed.publicKeyOf(seed);
  const pubKey = concatBytes(new Uint8Array([ALG_ED25519]), publicKey);
  if (keyHash(h, name, pubKey) !== hash) throw new NoteError('key-hash-mismatch', 'key hash does not match key');
  return { name, keyHash: hash, publicKey, seed };
}

/**
 * The signer and verifier key strings for `name` from a 32-byte seed. No randomness here: the caller
 * draws the seed (crypto.getRandomValues or node:crypto randomBytes).
 */
export function generateSignerKey(
  h: Sha256,
  ed: Ed25519,
  name: string,
  seed: Uint8Array,
): { signerKey: string; verifierKey: string } {
  if (seed.length !== 32) throw new NoteError('malformed-key', 'Ed25519 seed must be 32 bytes');
  const verifierKey = formatVerifierKey(h, name, ed.publicKeyOf(seed));
  const hash = chop(chop(verifierKey, '+')[1], '+')[0];
  const signerKey = `PRIVATE+KEY+${name}+${hash}+${toBase64(concatBytes(new Uint8Array([ALG_ED25519]), seed))}`;
  return { signerKey, verifierKey };
}

/** Text that can be signed: ends in a newline, valid Unicode, no control characters but newline. */
function checkText(text: string): void {
  // eslint-disable-next-line no-control-regex
  if (!text.endsWith('\n') || !isWellFormedText(text) || /[\x00-\x09\x0b-\x1f]/.test(text)) {
    throw new NoteError('malformed-note', 'note text must end in a newline and hold no control characters');
  }
}

/** One signature line (with its newline) by `signer` over `text`. Ed25519 is deterministic. */
export function signatureLine(ed: Ed25519, text: string, signer: NoteSigner): string {
  checkText(text);
  const sig = ed.sign(signer.seed, utf8(text));
  const hash = new Uint8Array([signer.keyHash >>> 24, signer.keyHash >>> 16, signer.keyHash >>> 8, signer.keyHash]);
  return `${SIG_PREFIX}${signer.name} ${toBase64(concatBytes(hash, sig))}\n`;
}

/** Signs `text` with every signer, in order, as Go's note.Sign does for a note without signatures. */
export function signNote(ed: Ed25519, text: string, signers: readonly NoteSigner[]): string {
  checkText(text);
  return `${text}\n${signers.map((s) => signatureLine(ed, text, s)).join('')}`;
}

interface ParsedSignature extends NoteSignature {
  line: string;
  sig: Uint8Array;
}

function parseSignatureLine(line: string): ParsedSignature {
  const malformed = new NoteError('malformed-note', 'malformed signature line');
  if (!line.startsWith(SIG_PREFIX)) throw malformed;
  const [name, b64] = chop(line.slice(SIG_PREFIX.length), ' ');
  const raw = fromBase64(b64);
  if (!raw || !isValidKeyName(name) || raw.length < 5) throw malformed;
  const keyHashValue = ((raw[0]! << 24) | (raw[1]! << 16) | (raw[2]! << 8) | raw[3]!) >>> 0;
  return { name, keyHash: keyHashValue, base64: b64, line, sig: raw.slice(4) };
}

/**
 * Splits a note into its text and signature lines without checking any signature, with Go's rules:
 * valid Unicode, no control characters but newline, text and signatures separated by the last blank
 * line, at least one and at most 100 signature lines. Throws NoteError('malformed-note').
 */
export function parseNote(noteText: string): { text: string; signatures: ParsedSignature[] } {
  // eslint-disable-next-line no-control-regex
  if (!isWellFormedText(noteText) || /[\x00-\x09\x0b-\x1f]/.test(noteText)) {
    throw new NoteError('malformed-note', 'note holds invalid characters');
  }
  const split = noteText.lastIndexOf('\n\n');
  if (split < 0) throw new NoteError('malformed-note', 'note has no signature block');
  const text = noteText.slice(0, split + 1);
  const block = noteText.slice(split + 2);
  if (block === '' || !block.endsWith('\n')) throw new NoteError('malformed-note', 'note has no signature block');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) throw new NoteError('malformed-note', 'note has too many signatures');
  return { text, signatures: lines.map(parseSignatureLine) };
}

const keyId = (name: string, hash: number): string => `${name}+${hex8(hash)}`;

/**
 * Parses a note and checks each signature against the verifiers whose name and key hash it names.
 * Throws NoteError for a malformed note, or 'ambiguous-key' if two different verifiers share the name
 * and hash a signature uses. Repeated identical lines count once.
 */
export function openNote(ed: Ed25519, noteText: string, verifiers: readonly NoteVerifier[]): OpenedNote {
  const { text, signatures } = parseNote(noteText);
  const known = new Map<string, NoteVerifier[]>();
  for (const v of verifiers) {
    const id = keyId(v.name, v.keyHash);
    const list = known.get(id) ?? [];
    if (!list.some((other) => bytesEqual(other.publicKey, v.publicKey))) list.push(v);
    known.set(id, list);
  }
  const message = utf8(text);
  const opened: OpenedNote = { text, valid: [], invalid: [], unknown: [] };
  const seenLines = new Set<string>();
  const validKeys = new Set<string>();
  for (const s of signatures) {
    if (seenLines.has(s.line)) continue;
    seenLines.add(s.line);
    const signature: NoteSignature = { name: s.name, keyHash: s.keyHash, base64: s.base64 };
    const id = keyId(s.name, s.keyHash);
    const candidates = known.get(id);
    if (!candidates) {
      opened.unknown.push(signature);
      continue;
    }
    if (candidates.length > 1) throw new NoteError('ambiguous-key', `ambiguous key ${id}`);
    const verifier = candidates[0]!;
    if (!ed.verify(verifier.publicKey, message, s.sig)) {
      opened.invalid.push(signature);
    } else if (!validKeys.has(id)) {
      validKeys.add(id);
      opened.valid.push({ ...signature, verifier });
    }
  }
  return opened;
}

/**
 * Adds signature lines (each `— name base64`, newline optional) to a signed note, skipping lines it
 * already holds. Lets a coordinator merge the lines each ledger node returns. Throws NoteError.
 */
export function addSignatures(noteText: string, moreSignatureLines: readonly string[]): string {
  const { signatures } = parseNote(noteText);
  const have = new Set(signatures.map((s) => s.line));
  let out = noteText;
  for (const raw of moreSignatureLines) {
    const line = raw.endsWith('\n') ? raw.slice(0, -1) : raw;
    if (line.includes('\n')) throw new NoteError('malformed-note', 'one signature per line');
    parseSignatureLine(line);
    if (have.has(line)) continue;
    have.add(line);
    out += `${line}\n`;
  }
  parseNote(out); // enforces the signature limit on the result
  return out;
}

/**
 * Parses configured verifier keys leniently: a malformed key is dropped, so it can sign nothing and
 * only ever lowers a count. For strict parsing use parseVerifierKey.
 */
export function parseVerifierKeys(h: Sha256, keys: readonly string[]): NoteVerifier[] {
  const out: NoteVerifier[] = [];
  for (const key of keys) {
    try {
      out.push(parseVerifierKey(h, key));
    } catch {
      // dropped, see above
    }
  }
  return out;
}

/**
 * The verifiers behind an opened note's valid signatures, one per distinct public key, so one key
 * listed twice under two names cannot fill a quorum alone.
 */
export function distinctSigners(opened: OpenedNote): NoteVerifier[] {
  const byKey = new Map<string, NoteVerifier>();
  for (const v of opened.valid) if (!byKey.has(toHex(v.verifier.publicKey))) byKey.set(toHex(v.verifier.publicKey), v.verifier);
  return [...byKey.values()];
}

/** How many distinct public keys among `verifiers` validly signed the note; 0 for a malformed note. */
export function countValidSignatures(
  ed: Ed25519,
  noteText: string,
  verifiers: readonly NoteVerifier[],
): number {
  try {
    return distinctSigners(openNote(ed, noteText, verifiers)).length;
  } catch {
    return 0;
  }
}
