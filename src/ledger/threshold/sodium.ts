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

/** The compiled C library under the wrappers (Emscripten's module): its exports take addresses in HEAPU8. */
interface SodiumLibrary {
  HEAPU8: Uint8Array;
  _malloc(size: number): number;
  _crypto_scalarmult_ristretto255(q: number, n: number, p: number): number;
  _crypto_core_ristretto255_is_valid_point(p: number): number;
}

/**
 * libsodium's C functions called on one 96-byte buffer of its WebAssembly memory (scalar, point, result):
 * the JavaScript wrappers allocate, copy in, copy out and free around every call, about a seventh of a
 * node's point check (~1.5 of ~10 µs per sealed entry) and ~13 of a multiplication's ~145 µs. HEAPU8 is
 * read at each call: another call may have grown the memory and replaced it. One thread, one call at a time.
 */
function rawCalls(lib: SodiumLibrary) {
  const at = lib._malloc(96);
  if (!at) throw new Error('libsodium could not allocate its scratch buffer');
  const [scalarAt, pointAt, resultAt] = [at, at + 32, at + 64];
  return {
    multiply: (scalar: Uint8Array, point: Uint8Array): Uint8Array => {
      if (scalar.length !== 32 || point.length !== 32) throw new RangeError('a scalar and a point are 32 bytes each');
      const heap = lib.HEAPU8;
      heap.set(scalar, scalarAt);
      heap.set(point, pointAt);
      const failed = lib._crypto_scalarmult_ristretto255(resultAt, scalarAt, pointAt) !== 0;
      const result = failed ? null : heap.slice(resultAt, resultAt + 32);
      heap.fill(0, at, at + 96);
      if (!result) throw new RangeError('not a canonical ristretto255 point, or the product is the identity');
      return result;
    },
    isValidPoint: (bytes: Uint8Array): boolean => {
      if (bytes.length !== 32) return false;
      lib.HEAPU8.set(bytes, pointAt);
      return lib._crypto_core_ristretto255_is_valid_point(pointAt) === 1;
    },
  };
}

let installed: Promise<void> | null = null;

/** Loads the WebAssembly module once and installs it; later calls return the same promise. */
export const useSodiumMultiply = (): Promise<void> =>
  (installed ??= sodium.ready.then(() => {
    const raw = rawCalls((sodium as unknown as { libsodium: SodiumLibrary }).libsodium);
    installFastMultiply(raw.multiply);
    installFastPointCheck(raw.isValidPoint);
  }));
