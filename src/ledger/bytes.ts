/**
 * Byte helpers shared by the ledger's pure modules. They use only what both Node 20 and browsers have
 * (TextEncoder, btoa, atob), so the portal bundle needs no polyfill.
 */

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 bytes of a string. Lone surrogates become U+FFFD, so callers that sign text check first. */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Decodes UTF-8, throwing on invalid sequences. */
export function fromUtf8(bytes: Uint8Array): string {
  return strictDecoder.decode(bytes);
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** Constant-time only in the sense that it always reads every byte; nothing here is secret anyway. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

export function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}

/** Lower- or upper-case hex of even length; returns null for anything else. */
export function fromHex(hex: string): Uint8Array | null {
  if (hex.length % 2 !== 0) return null;
  // A table lookup per character instead of a regex test and a parseInt per byte: this runs for every
  // voter tag, salt and leaf hash on the nodes' and the app's hot paths.
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) {
    const hi = hexValue(hex.charCodeAt(2 * i));
    const lo = hexValue(hex.charCodeAt(2 * i + 1));
    if (hi < 0 || lo < 0) return null;
    out[i] = hi * 16 + lo;
  }
  return out;
}

/** Whether `text` is exactly `length` lower-case hex digits (one check for the domain and the ledger). */
export { isLowerHex } from '../domain/hex.ts';

const HEX_VALUES = (() => {
  const t = new Int8Array(128).fill(-1);
  for (let d = 0; d < 10; d++) t[48 + d] = d;
  for (let d = 0; d < 6; d++) t[65 + d] = t[97 + d] = 10 + d;
  return t;
})();
const hexValue = (code: number): number => (code < 128 ? HEX_VALUES[code]! : -1);

/** Standard base64 with padding (RFC 4648 section 4), as Go's base64.StdEncoding writes it. */
export function toBase64(bytes: Uint8Array): string {
  let binary = '';
  // Chunks keep String.fromCharCode's argument list small for large inputs.
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Strict standard base64: padding required, no whitespace, and the encoding must be canonical (unused
 * bits zero), so one byte string has exactly one accepted text. Returns null otherwise.
 */
export function fromBase64(text: string): Uint8Array | null {
  if (base64Length(text) === null) return null;
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

/**
 * How many bytes `text` decodes to if fromBase64 accepts it, else null, without decoding it: for checks
 * of shape only (a sealed ballot's ciphertext on every ledger node).
 */
export function base64Length(text: string): number | null {
  if (!BASE64_RE.test(text)) return null;
  const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  // Canonical: the bits of the last character that no byte uses are zero (4 of them before "==", 2 before "=").
  if (padding > 0 && (base64Value(text.charCodeAt(text.length - padding - 1)) & (padding === 2 ? 0x0f : 0x03)) !== 0) return null;
  return (text.length / 4) * 3 - padding;
}

/** The 6-bit value of a base64 character the regex above has accepted. */
const base64Value = (code: number): number => (code >= 97 ? code - 71 : code >= 65 ? code - 65 : code >= 48 ? code + 4 : code === 43 ? 62 : 63);

/** True if the string has no unpaired UTF-16 surrogate, i.e. it round-trips through UTF-8 unchanged. */
export function isWellFormedText(text: string): boolean {
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);
}
