/**
 * Hybrid public-key encryption: an ElGamal key encapsulation on ristretto255 (ephemeral R = rG, shared
 * point K = rY) and ChaCha20-Poly1305 (@noble/ciphers) keyed by a hash of (R, K, Y). Used for sealed
 * ballots (Y the nodes' joint key, K recovered only by combining 3 decryption shares) and for DKG shares
 * in transit (Y the recipient node's own transport key).
 *
 * The AEAD nonce is all zeros: the key is fresh for every encryption (r is fresh), so a (key, nonce)
 * pair never repeats. The associated data binds the ciphertext to its context (poll, voter tag, ...),
 * so a ciphertext copied anywhere else does not open.
 */
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { G, hash32, pointBytes, randomScalar, webRandom, type Point, type RandomBytes } from './group.ts';

const ZERO_NONCE = new Uint8Array(12);

/**
 * ChaCha20-Poly1305 (RFC 8439) with a 12-byte nonce: @noble/ciphers (pure JS, the portal's) unless the
 * server installed node:crypto's (`./serverCrypto.ts`). Same cipher, same bytes (threshold.spec checks
 * both); `open` gives null when the box does not authenticate.
 */
export interface Aead {
  seal(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, plaintext: Uint8Array): Uint8Array;
  open(key: Uint8Array, nonce: Uint8Array, aad: Uint8Array, box: Uint8Array): Uint8Array | null;
}
export const nobleAead: Aead = {
  seal: (key, nonce, aad, plaintext) => chacha20poly1305(key, nonce, aad).encrypt(plaintext),
  open: (key, nonce, aad, box) => {
    try {
      return chacha20poly1305(key, nonce, aad).decrypt(box);
    } catch {
      return null;
    }
  },
};
let aead: Aead = nobleAead;
export const installAead = (impl: Aead | null): void => {
  aead = impl ?? nobleAead;
};

export interface Encapsulated {
  ephemeral: Point;
  ciphertext: Uint8Array;
}

/** The AEAD key from the encapsulation: the key-derivation hash has its own domain tag. */
export const aeadKeyOf = (publicKey: Point, ephemeral: Point, shared: Point): Uint8Array =>
  aeadKeyOfEncoded(pointBytes(publicKey), pointBytes(ephemeral), pointBytes(shared));

/** The same from the three points' canonical encodings (the opening has them already). */
export const aeadKeyOfEncoded = (publicKey: Uint8Array, ephemeral: Uint8Array, shared: Uint8Array): Uint8Array =>
  hash32('kem-key', [publicKey, ephemeral, shared]);

/** Encrypts under an encapsulation made beforehand (R = rG, K = rY as encodings): the AEAD part only. */
export const encryptWithEncapsulation = (publicKey: Uint8Array, ephemeral: Uint8Array, shared: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array =>
  aead.seal(aeadKeyOfEncoded(publicKey, ephemeral, shared), ZERO_NONCE, aad, plaintext);

export function encryptTo(publicKey: Point, plaintext: Uint8Array, aad: Uint8Array, random: RandomBytes = webRandom): Encapsulated {
  const r = randomScalar(random);
  const ephemeral = G.multiply(r);
  const shared = publicKey.multiply(r);
  const ciphertext = aead.seal(aeadKeyOf(publicKey, ephemeral, shared), ZERO_NONCE, aad, plaintext);
  return { ephemeral, ciphertext };
}

/** Decrypts with the shared point K (from a secret key, or combined decryption shares); null if it does not open. */
export function decryptWithShared(publicKey: Point, ephemeral: Point, shared: Point, ciphertext: Uint8Array, aad: Uint8Array): Uint8Array | null {
  return decryptWithEncoded(pointBytes(publicKey), pointBytes(ephemeral), pointBytes(shared), ciphertext, aad);
}

/** decryptWithShared from the points' canonical encodings. */
export function decryptWithEncoded(publicKey: Uint8Array, ephemeral: Uint8Array, shared: Uint8Array, ciphertext: Uint8Array, aad: Uint8Array): Uint8Array | null {
  return aead.open(aeadKeyOfEncoded(publicKey, ephemeral, shared), ZERO_NONCE, aad, ciphertext);
}

export const decryptWithSecret = (secret: bigint, publicKey: Point, box: Encapsulated, aad: Uint8Array): Uint8Array | null =>
  decryptWithShared(publicKey, box.ephemeral, box.ephemeral.multiply(secret), box.ciphertext, aad);
