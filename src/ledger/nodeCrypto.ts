/**
 * Server-only implementations of the ledger's hash and signature ports, backed by node:crypto (OpenSSL),
 * which is many times faster than pure JavaScript. Never import this from code bundled for the browser;
 * index.ts does not re-export it.
 */
import * as crypto from 'node:crypto';
import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import type { Ed25519, Sha256 } from './hash.ts';

// DER headers that wrap a raw 32-byte Ed25519 key (RFC 8410): PKCS#8 for the seed, SPKI for the public key.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

function asUint8Array(buf: Buffer): Uint8Array {
  // A plain Uint8Array view, so results compare equal to the noble ones in tests and callers.
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/**
 * A node:crypto digest as a function of the bytes: the one-shot `crypto.hash` where Node has it (20.12+),
 * which skips building a Hash object (about 1 of 2 µs for the short inputs hashed per entry and per
 * sealed ballot), else createHash (also with `oneShot` null: tests).
 */
export const nodeDigest = (
  algorithm: 'sha256' | 'sha512',
  oneShot: typeof crypto.hash | null = (crypto as { hash?: typeof crypto.hash }).hash ?? null,
): ((data: Uint8Array) => Uint8Array) => {
  return oneShot ? (data) => asUint8Array(oneShot(algorithm, data, 'buffer')) : (data) => asUint8Array(createHash(algorithm).update(data).digest());
};

/** SHA-256 via node:crypto. */
export const nodeSha256: Sha256 = nodeDigest('sha256');

// Building a KeyObject parses DER; nodes reuse the same handful of keys, so a small cache pays off.
const MAX_CACHED_KEYS = 64;
const privateKeys = new Map<string, KeyObject>();
const publicKeys = new Map<string, KeyObject>();

function cached(cache: Map<string, KeyObject>, raw: Uint8Array, build: () => KeyObject): KeyObject {
  const id = Buffer.from(raw).toString('hex');
  let key = cache.get(id);
  if (!key) {
    key = build();
    if (cache.size >= MAX_CACHED_KEYS) cache.clear();
    cache.set(id, key);
  }
  return key;
}

function privateKeyObject(seed: Uint8Array): KeyObject {
  if (seed.length !== 32) throw new RangeError('Ed25519 secret key must be a 32-byte seed');
  return cached(privateKeys, seed, () =>
    createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' }),
  );
}

function publicKeyObject(publicKey: Uint8Array): KeyObject {
  return cached(publicKeys, publicKey, () =>
    createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' }),
  );
}

/** Ed25519 via node:crypto; byte-identical to nobleEd25519 (Ed25519 signatures are deterministic). */
export const nodeEd25519: Ed25519 = {
  sign: (secretKey, msg) => asUint8Array(sign(null, msg, privateKeyObject(secretKey))),
  verify: (publicKey, msg, sig) => {
    if (publicKey.length !== 32 || sig.length !== 64) return false;
    try {
      return verify(null, msg, publicKeyObject(publicKey), sig);
    } catch {
      // OpenSSL rejects some 32-byte strings as public keys (not a curve point): that is "invalid".
      return false;
    }
  },
  publicKeyOf: (secretKey) => {
    const der = createPublicKey(privateKeyObject(secretKey)).export({ format: 'der', type: 'spki' });
    return asUint8Array(der.subarray(SPKI_PREFIX.length));
  },
};
