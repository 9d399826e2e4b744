// Worker thread of encapsulationPool.ts (plain JavaScript so that it runs the same under tsx, vitest and
// node): makes ElGamal encapsulations to one public key with libsodium's WebAssembly build. For each,
// a fresh uniformly random scalar r, R = rG and K = rY; r is wiped and never leaves the worker.
import { parentPort } from 'node:worker_threads';
import * as sodiumModule from 'libsodium-wrappers-sumo';

const sodium = sodiumModule.default ?? sodiumModule;
await sodium.ready;

parentPort.on('message', ({ publicKey, count }) => {
  const ephemerals = new Uint8Array(32 * count);
  const shared = new Uint8Array(32 * count);
  for (let i = 0; i < count; i++) {
    const r = sodium.crypto_core_ristretto255_scalar_random();
    try {
      ephemerals.set(sodium.crypto_scalarmult_ristretto255_base(r), 32 * i);
      shared.set(sodium.crypto_scalarmult_ristretto255(r, publicKey), 32 * i);
    } finally {
      sodium.memzero(r);
    }
  }
  parentPort.postMessage({ publicKey, ephemerals, shared }, [ephemerals.buffer, shared.buffer]);
});
