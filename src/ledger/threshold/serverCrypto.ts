/**
 * Server side only (never in the portal's browser bundle): installs the fast primitives the threshold
 * code uses on the app and the ledger nodes: node:crypto's (OpenSSL) SHA-512 and ChaCha20-Poly1305, and
 * libsodium's WebAssembly multiplication and point check (`./sodium.ts`). Sealing a ballot hashes three
 * times and encrypts once on the cast request's path; opening does the same per ballot. The pure-JS
 * versions stay the portal's; the bytes are the same either way (threshold.spec checks each pair).
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { nodeDigest } from '../nodeCrypto.ts';
import { installSha512 } from './group.ts';
import { installAead, type Aead } from './hybrid.ts';
import { useSodiumMultiply } from './sodium.ts';

const TAG_BYTES = 16;

const plain = (buf: Buffer): Uint8Array => new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);

export const nodeSha512: (bytes: Uint8Array) => Uint8Array = nodeDigest('sha512');

/** ChaCha20-Poly1305 from OpenSSL, with @noble/ciphers' layout: ciphertext then the 16-byte tag. */
export const nodeAead: Aead = {
  seal: (key, nonce, aad, plaintext) => {
    const cipher = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad, { plaintextLength: plaintext.length });
    const body = cipher.update(plaintext);
    cipher.final();
    const out = new Uint8Array(body.length + TAG_BYTES);
    out.set(body);
    out.set(cipher.getAuthTag(), body.length);
    return out;
  },
  open: (key, nonce, aad, box) => {
    if (box.length < TAG_BYTES) return null;
    const decipher = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(aad, { plaintextLength: box.length - TAG_BYTES });
    decipher.setAuthTag(box.subarray(box.length - TAG_BYTES));
    const body = decipher.update(box.subarray(0, box.length - TAG_BYTES));
    try {
      decipher.final();
    } catch {
      return null; // does not authenticate
    }
    return plain(body);
  },
};

/** Installs node:crypto's hash and AEAD at once and libsodium's multiplication once it has loaded. */
export const useServerCrypto = (): Promise<void> => {
  installSha512(nodeSha512);
  installAead(nodeAead);
  return useSodiumMultiply();
};
