// Worker thread of encapsulationPool.ts (plain JavaScript so that it runs the same under tsx, vitest and
// node): makes ElGamal encapsulations to one public key with libsodium's WebAssembly build. For each,
// a fresh uniformly random scalar r, R = rG and K = rY; r is wiped and never leaves the worker.
import { parentPort } from 'node:worker_threads';
import * as sodiumModule from 'libsodium-wrappers-sumo';

const sodium = sodiumModule.default ?? sodiumModule;
await sodium.ready;

// libsodium's exported C functions, called on one buffer in its WebAssembly memory per chunk: the
// JavaScript wrappers allocate, copy in, copy out and free around every call (about 5% of an
// encapsulation's CPU, ~9 of ~175 µs), and the scalars then never exist as JavaScript arrays.
const lib = sodium.libsodium;
const WIDE = 64;
const POINT = 32;

parentPort.on('message', ({ publicKey, count }) => {
  const ephemerals = new Uint8Array(POINT * count);
  const shared = new Uint8Array(POINT * count);
  // Layout: count × 64 random bytes | r | Y | R | K.
  const size = WIDE * count + 4 * POINT;
  const at = lib._malloc(size);
  if (!at) throw new Error('libsodium could not allocate the encapsulation buffer');
  const r = at + WIDE * count;
  const y = r + POINT;
  const big = y + POINT;
  const k = big + POINT;
  // Read after _malloc: a growing memory replaces the view; nothing below allocates.
  const heap = lib.HEAPU8;
  try {
    // The scalars come from 64 uniformly random bytes each reduced mod the group order (bias < 2^-250),
    // all drawn from Web Crypto in one call straight into libsodium's memory: libsodium's own
    // scalar_random fetches its randomness 4 bytes per call into JavaScript and cost more than both
    // multiplications together.
    globalThis.crypto.getRandomValues(heap.subarray(at, at + WIDE * count));
    heap.set(publicKey, y);
    for (let i = 0; i < count; ) {
      lib._crypto_core_ristretto255_scalar_reduce(r, at + WIDE * i);
      // R = rG fails only for r = 0 (probability 2^-252): draw that scalar again.
      if (lib._crypto_scalarmult_ristretto255_base(big, r) !== 0) {
        globalThis.crypto.getRandomValues(heap.subarray(at + WIDE * i, at + WIDE * (i + 1)));
        continue;
      }
      // With r non-zero, K = rY fails only when Y is not a valid point: no encapsulation to it.
      if (lib._crypto_scalarmult_ristretto255(k, r, y) !== 0) throw new Error('the public key is not a ristretto255 point');
      ephemerals.set(heap.subarray(big, big + POINT), POINT * i);
      shared.set(heap.subarray(k, k + POINT), POINT * i);
      i++;
    }
  } finally {
    heap.fill(0, at, at + size);
    lib._free(at);
  }
  parentPort.postMessage({ publicKey, ephemerals, shared }, [ephemerals.buffer, shared.buffer]);
});
