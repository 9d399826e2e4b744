// Worker thread of encapsulationPool.ts (plain JavaScript so that it runs the same under tsx, vitest and
// node): makes ElGamal encapsulations to one public key with libsodium's WebAssembly build. For each,
// a fresh uniformly random scalar r, R = rG and K = rY; r is wiped and never leaves the worker.
import { parentPort } from 'node:worker_threads';
import * as sodiumModule from 'libsodium-wrappers-sumo';

const sodium = sodiumModule.default ?? sodiumModule;
await sodium.ready;

const WIDE = 64;
const isZero = (bytes) => bytes.every((b) => b === 0);

parentPort.on('message', ({ publicKey, count }) => {
  const ephemerals = new Uint8Array(32 * count);
  const shared = new Uint8Array(32 * count);
  // The scalars come from 64 uniformly random bytes each reduced mod the group order (bias < 2^-250),
  // all drawn from Web Crypto in one call: libsodium's own scalar_random fetches its randomness 4 bytes
  // per call into JavaScript and cost more than both multiplications together.
  const wide = globalThis.crypto.getRandomValues(new Uint8Array(WIDE * count));
  try {
    for (let i = 0; i < count; i++) {
      let r = sodium.crypto_core_ristretto255_scalar_reduce(wide.subarray(WIDE * i, WIDE * i + WIDE));
      // r = 0 (probability 2^-252) would make no encapsulation: draw it again.
      while (isZero(r)) r = sodium.crypto_core_ristretto255_scalar_random();
      try {
        ephemerals.set(sodium.crypto_scalarmult_ristretto255_base(r), 32 * i);
        shared.set(sodium.crypto_scalarmult_ristretto255(r, publicKey), 32 * i);
      } finally {
        sodium.memzero(r);
      }
    }
  } finally {
    sodium.memzero(wide);
  }
  parentPort.postMessage({ publicKey, ephemerals, shared }, [ephemerals.buffer, shared.buffer]);
});
