/**
 * Server side only (never in the portal's browser bundle): installs libsodium's WebAssembly build as the
 * threshold code's scalar multiplication of encoded points and its check of encoded points.
 * libsodium's `crypto_scalarmult_ristretto255` is constant time and about ten times faster here than the
 * pure-JS multiplication, which is what makes decryption shares for a 250,000-ballot poll affordable. Same group, same encodings: the bytes are
 * identical either way (threshold.spec checks both paths against each other).
 */
import * as sodiumModule from 'libsodium-wrappers-sumo';
import { installFastMultiply, installFastPointCheck } from './group.ts';

type Sodium = typeof sodiumModule;
// The ESM build attaches its functions to the default export once ready.
const sodium = ((sodiumModule as unknown as { default?: Sodium }).default ?? sodiumModule) as Sodium;

let installed: Promise<void> | null = null;

/** Loads the WebAssembly module once and installs it; later calls return the same promise. */
export const useSodiumMultiply = (): Promise<void> =>
  (installed ??= sodium.ready.then(() => {
    installFastMultiply((scalar, point) => sodium.crypto_scalarmult_ristretto255(scalar, point));
    installFastPointCheck((bytes) => sodium.crypto_core_ristretto255_is_valid_point(bytes));
  }));
