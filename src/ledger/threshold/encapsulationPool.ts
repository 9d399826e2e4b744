/**
 * Server side only: sealing a ballot off the request's path. The costly part of sealing, the ElGamal
 * encapsulation R = rG, K = rY to the nodes' joint key Y, does not depend on the ballot, so a worker
 * thread makes them ahead of time with libsodium (`encapsulationWorker.mjs`) and the cast request only
 * hashes and encrypts (tens of microseconds). Each encapsulation is handed out once and dropped; r never
 * leaves the worker. When the pool is empty (a burst, or before the worker has started), sealing makes
 * its encapsulation itself, as before.
 *
 * What this keeps in the app's memory: K for ballots not cast yet, which opens only ballots sealed with
 * it later; the app sees those ballots' choices at cast time anyway (docs/THREAT_MODEL.md).
 */
import { Worker } from 'node:worker_threads';
import { fromHex } from '../bytes.ts';
import { installEncapsulations, type Encapsulation } from './seal.ts';

const CHUNK = 64;

export interface EncapsulationPool {
  /** How many are ready (tests and the bench). */
  ready(): number;
  /** Since the start: encapsulations handed out, and times sealing found the pool empty (so made its own). */
  counts(): { taken: number; empty: number };
  stop(): Promise<void>;
}

/** Starts the worker and installs the pool as sealing's source of encapsulations for `jointKey` (hex). */
export function startEncapsulationPool(jointKey: string, options: { size?: number } = {}): EncapsulationPool {
  const size = options.size ?? 1024;
  const publicKey = fromHex(jointKey)!;
  const ready: Encapsulation[] = [];
  let asked = false;
  let stopped = false;
  let taken = 0;
  let empty = 0;
  const worker = new Worker(new URL('./encapsulationWorker.mjs', import.meta.url));
  worker.unref();
  const ask = () => {
    if (stopped || asked || ready.length >= size) return;
    asked = true;
    worker.postMessage({ publicKey, count: CHUNK });
  };
  worker.on('message', (m: { ephemerals: Uint8Array; shared: Uint8Array }) => {
    asked = false;
    for (let i = 0; i < m.ephemerals.length / 32; i++) ready.push({ ephemeral: m.ephemerals.subarray(32 * i, 32 * i + 32), shared: m.shared.subarray(32 * i, 32 * i + 32) });
    ask();
  });
  worker.on('error', () => {
    // Sealing goes on making its own encapsulations.
    stopped = true;
  });
  installEncapsulations(jointKey, () => {
    const e = ready.shift() ?? null;
    if (e) taken++;
    else empty++;
    if (ready.length < size / 2) ask();
    return e;
  });
  ask();
  return {
    ready: () => ready.length,
    counts: () => ({ taken, empty }),
    stop: async () => {
      stopped = true;
      installEncapsulations(jointKey, null);
      ready.length = 0;
      await worker.terminate();
    },
  };
}
