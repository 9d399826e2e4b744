import { sha256 } from '@noble/hashes/sha2.js';
import { ed25519 } from '@noble/curves/ed25519.js';

/**
 * The hash every ledger structure uses. Injected rather than imported so the server can pass the
 * node:crypto version (much faster) and the browser the noble one; both are cross-tested for identical
 * output in nodeCrypto.spec.ts.
 */
export type Sha256 = (data: Uint8Array) => Uint8Array;

/**
 * Ed25519 (RFC 8032, pure, no context). Secret keys are 32-byte seeds, public keys 32 bytes, signatures
 * 64 bytes. `verify` returns false, never throws, for malformed keys or signatures.
 */
export interface Ed25519 {
  sign(secretKey: Uint8Array, msg: Uint8Array): Uint8Array;
  verify(publicKey: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean;
  publicKeyOf(secretKey: Uint8Array): Uint8Array;
}

/** SHA-256 from @noble/hashes: pure JavaScript, runs in the browser. */
export const nobleSha256: Sha256 = (data) => sha256(data);

/** Ed25519 from @noble/curves: pure JavaScript, runs in the browser. */
export const nobleEd25519: Ed25519 = {
  sign: (secretKey, msg) => ed25519.sign(msg, secretKey),
  verify: (publicKey, msg, sig) => {
    if (publicKey.length !== 32 || sig.length !== 64) return false;
    try {
      // zip215: false gives RFC 8032 strict verification, the rule OpenSSL (node:crypto) and Go apply,
      // so a signature accepted in the browser is accepted by every node and the reverse.
      return ed25519.verify(sig, msg, publicKey, { zip215: false });
    } catch {
      return false;
    }
  },
  publicKeyOf: (secretKey) => ed25519.getPublicKey(secretKey),
};
