/**
 * A ledger node's part of the nodes' threshold key (src/ledger/threshold): its transport key (derived
 * from its own seed, for receiving DKG shares), the dealing it made for a key ceremony, and its share of
 * each joint key. Stored under the node's data directory, mode 0600, replaced by write-to-temp, fsync,
 * rename, so a node restarted from its store still holds its share and a crash never tears the file:
 *
 * - `dkg-dealing.json`: the epoch, the published dealing and the polynomial's coefficients, kept only
 *   until the ceremony completes (then deleted: the node keeps its share, not its contribution);
 * - `threshold.json`: every key set this node completed, with its share (the secret never leaves here).
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeShareBatch, type SealedItem, type ShareBatch } from '../threshold/decryption.ts';
import { G, mod, pointToHex, scalarFromHex, scalarToHex } from '../threshold/group.ts';
import {
  BadShare,
  deal,
  dealingProblem,
  ownShare,
  PARTICIPANTS,
  publicKeySetOf,
  receiveShare,
  transportKeyOf,
  type Dealing,
  type PublicKeySet,
} from '../threshold/vss.ts';
import { NodeError } from './nodeError.ts';
import type { Log } from './store.ts';

interface StoredDealing {
  epoch: string;
  dealing: Dealing;
  coefficients: string[];
}

interface StoredKey {
  keySet: PublicKeySet;
  share: string;
}

function writeSecretFile(path: string, value: unknown): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, JSON.stringify(value), { mode: 0o600 });
  const fd = openSync(tmp, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

const readJson = <T>(path: string): T | null => (existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as T) : null);

export class ThresholdStore {
  readonly transportKey: string;
  private readonly transportSecret: bigint;
  private readonly dealingFile: string;
  private readonly keysFile: string;
  private keys: StoredKey[];

  constructor(
    dir: string,
    private readonly id: number,
    seed: Uint8Array,
    private readonly log: Log,
  ) {
    const t = transportKeyOf(seed);
    this.transportKey = t.publicKey;
    this.transportSecret = t.secret;
    this.dealingFile = join(dir, 'dkg-dealing.json');
    this.keysFile = join(dir, 'threshold.json');
    this.keys = readJson<StoredKey[]>(this.keysFile) ?? [];
  }

  /** The newest key set this node holds a share of, or null before its first ceremony. */
  current(): PublicKeySet | null {
    return this.keys.at(-1)?.keySet ?? null;
  }

  keySet(keyId: string): PublicKeySet | null {
    return this.keys.find((k) => k.keySet.keyId === keyId)?.keySet ?? null;
  }

  allKeySets(): PublicKeySet[] {
    return this.keys.map((k) => k.keySet);
  }

  /**
   * This node's dealing for `epoch`, made once and kept until the ceremony completes, so asking twice
   * gives the same dealing (a dealer who sent two different dealings would break the ceremony).
   */
  deal(epoch: unknown, transportKeys: unknown): Dealing {
    if (typeof epoch !== 'string' || !/^[A-Za-z0-9._:-]{1,64}$/.test(epoch)) throw new NodeError(400, 'bad-request', 'epoch must be 1-64 letters, digits or ._:-');
    if (this.keys.some((k) => k.keySet.epoch === epoch)) throw new NodeError(409, 'dkg.done', `this node already completed epoch ${epoch}`);
    const stored = readJson<StoredDealing>(this.dealingFile);
    if (stored?.epoch === epoch) return stored.dealing;
    if (typeof transportKeys !== 'object' || transportKeys === null) throw new NodeError(400, 'bad-request', 'transportKeys must map node numbers to keys');
    const keys = transportKeys as Record<string, string>;
    if (keys[String(this.id)] !== this.transportKey) throw new NodeError(422, 'dkg.transport-key', `the transport key given for node ${this.id} is not this node's`);
    let made: ReturnType<typeof deal>;
    try {
      made = deal(epoch, this.id, keys);
    } catch (e) {
      throw new NodeError(422, 'dkg.transport-key', (e as Error).message);
    }
    writeSecretFile(this.dealingFile, { epoch, dealing: made.dealing, coefficients: made.secret.coefficients.map(scalarToHex) } satisfies StoredDealing);
    this.log('dealt for a key ceremony', { epoch });
    return made.dealing;
  }

  /**
   * Completes the ceremony from every node's dealing: checks the share each dealt to this node against
   * that dealer's commitments (a bad one is refused with the dealer named: `dkg.bad-share`), adds them
   * into this node's share, stores it and forgets its polynomial. Returns the public key set.
   */
  complete(epoch: unknown, dealings: unknown): PublicKeySet {
    const done = this.keys.find((k) => k.keySet.epoch === epoch);
    if (done) return done.keySet;
    const stored = readJson<StoredDealing>(this.dealingFile);
    if (!stored || stored.epoch !== epoch) throw new NodeError(409, 'dkg.no-dealing', `this node has not dealt for epoch ${String(epoch)}`);
    if (!Array.isArray(dealings) || dealings.length !== PARTICIPANTS) throw new NodeError(400, 'bad-request', `dealings must list the ${PARTICIPANTS} nodes' dealings`);
    const byDealer = new Map<number, Dealing>();
    for (const d of dealings) {
      const problem = dealingProblem(d, epoch as string);
      if (problem) throw new NodeError(422, 'dkg.bad-dealing', problem);
      byDealer.set((d as Dealing).dealer, d as Dealing);
    }
    if (byDealer.size !== PARTICIPANTS) throw new NodeError(422, 'dkg.bad-dealing', 'one dealing per node is needed');
    if (JSON.stringify(byDealer.get(this.id)) !== JSON.stringify(stored.dealing)) {
      throw new NodeError(422, 'dkg.bad-dealing', `the dealing relayed for node ${this.id} is not the one it made`);
    }
    let share = ownShare({ coefficients: stored.coefficients.map(scalarFromHex) }, this.id);
    for (const [dealer, d] of byDealer) {
      if (dealer === this.id) continue;
      try {
        share = mod(share + receiveShare(d, this.id, this.transportSecret, this.transportKey));
      } catch (e) {
        if (e instanceof BadShare) throw new NodeError(422, 'dkg.bad-share', e.message, { dealer: e.dealer });
        throw e;
      }
    }
    const keySet = publicKeySetOf(epoch as string, Object.fromEntries([...byDealer].map(([n, d]) => [String(n), d.commitments])));
    if (keySet.verificationKeys[String(this.id)] !== pointToHex(G.multiply(share))) {
      throw new NodeError(500, 'dkg.inconsistent', 'this node\u2019s share does not match its verification key');
    }
    this.keys = [...this.keys, { keySet, share: scalarToHex(share) }];
    writeSecretFile(this.keysFile, this.keys);
    rmSync(this.dealingFile, { force: true });
    this.log('key ceremony complete', { epoch, keyId: keySet.keyId });
    return keySet;
  }

  /** This node's decryption shares for a batch of sealed ballots under key `keyId`. */
  shares(keyId: string, ctx: { pollId: string; batch: number }, items: readonly SealedItem[]): ShareBatch {
    const key = this.keys.find((k) => k.keySet.keyId === keyId);
    if (!key) throw new NodeError(409, 'sealed.no-share', `this node holds no share of key ${keyId}`);
    return makeShareBatch(scalarFromHex(key.share), { keyId, pollId: ctx.pollId, node: this.id, batch: ctx.batch }, items);
  }
}
