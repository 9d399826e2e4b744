/**
 * Compact in-memory indexes for a ledger node: a few bytes an item in typed arrays, never a string or an
 * object per entry. Their size is bounded by their users: a poll's voters while it is open, the trackers
 * not yet written to disk (recordFile.ts keeps the per-entry indexes on disk).
 */

/** FNV-1a over UTF-16 code units: a 32-bit key for a string (collisions are resolved by the caller). */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * A multimap from a string's 32-bit hash to entry indexes, in two Uint32Arrays (open addressing, load at
 * most 1/2): about 16 bytes per entry added, whatever the key's length. The strings themselves are not
 * kept: a look-up returns every index whose key hashes alike, newest first, and the caller checks each
 * against the entry on disk.
 */
export class HashIndex {
  private hashes = new Uint32Array(64);
  /** Entry index + 1; 0 marks an empty slot. */
  private values = new Uint32Array(64);
  private count = 0;

  add(key: string, index: number): void {
    if ((this.count + 1) * 2 > this.values.length) this.grow();
    this.put(hash32(key), index + 1);
    this.count++;
  }

  /** Candidate indexes for `key`, highest first. */
  candidates(key: string): number[] {
    const h = hash32(key);
    const mask = this.values.length - 1;
    const out: number[] = [];
    for (let slot = h & mask; this.values[slot] !== 0; slot = (slot + 1) & mask) {
      if (this.hashes[slot] === h) out.push(this.values[slot]! - 1);
    }
    return out.sort((a, b) => b - a);
  }

  /** Every (hash, index) added, as pairs in one array (in slot order). */
  pairs(): Uint32Array {
    const out = new Uint32Array(2 * this.count);
    let k = 0;
    for (let slot = 0; slot < this.values.length; slot++) {
      if (this.values[slot] === 0) continue;
      out[k++] = this.hashes[slot]!;
      out[k++] = this.values[slot]! - 1;
    }
    return out;
  }

  clear(): void {
    this.hashes = new Uint32Array(64);
    this.values = new Uint32Array(64);
    this.count = 0;
  }

  private put(h: number, value: number): void {
    const mask = this.values.length - 1;
    let slot = h & mask;
    while (this.values[slot] !== 0) slot = (slot + 1) & mask;
    this.hashes[slot] = h;
    this.values[slot] = value;
  }

  private grow(): void {
    const { hashes, values } = this;
    this.hashes = new Uint32Array(values.length * 2);
    this.values = new Uint32Array(values.length * 2);
    for (let i = 0; i < values.length; i++) if (values[i] !== 0) this.put(hashes[i]!, values[i]!);
  }
}

/** Slots of a new {@link VoterTable}; a power of two. */
const VOTER_TABLE_START = 64;

/**
 * One poll's voters, for the re-vote rules: per voter the log position of their last ballot and how many
 * ballots they cast, keyed by the first 16 bytes of a hash of the voter tag. Open addressing (linear
 * probing, load at most 3/4, doubling) in three typed arrays: 24 bytes a slot, so 32 to 64 bytes a voter,
 * and no string or object per voter. The tags themselves are not kept: a look-up offers every slot whose
 * key matches to the caller, which confirms the voter from the entry at that slot's position (on disk),
 * so two tags whose keys collide cost one more read, never a wrong answer.
 */
export class VoterTable {
  /** Four 32-bit words of key per slot. */
  private keys = new Uint32Array(4 * VOTER_TABLE_START);
  /** Log position of the voter's last ballot + 1; 0 marks an empty slot. */
  private positions = new Uint32Array(VOTER_TABLE_START);
  private castCounts = new Uint32Array(VOTER_TABLE_START);
  /** Distinct voters (occupied slots). */
  count = 0;

  /** The 16-byte key of a digest (its first 16 bytes), as the four words a slot holds. */
  static key(digest: Uint8Array): Uint32Array {
    if (digest.length < 16) throw new RangeError('a voter key needs 16 bytes');
    const key = new Uint32Array(4);
    for (let w = 0; w < 4; w++) key[w] = (digest[4 * w]! | (digest[4 * w + 1]! << 8) | (digest[4 * w + 2]! << 16) | (digest[4 * w + 3]! << 24)) >>> 0;
    return key;
  }

  /**
   * The slot of the voter with this key whom `isVoter` confirms from their last ballot's position, or -1.
   * Slots with the same key are offered in probe order until one is confirmed.
   */
  find(key: Uint32Array, isVoter: (position: number) => boolean): number {
    const mask = this.positions.length - 1;
    for (let slot = key[0]! & mask; this.positions[slot] !== 0; slot = (slot + 1) & mask) {
      if (this.keyAt(slot, key) && isVoter(this.positions[slot]! - 1)) return slot;
    }
    return -1;
  }

  /** The slot holding this key and position (a voter found before, whose slot may have moved since), or -1. */
  slotOf(key: Uint32Array, position: number): number {
    return this.find(key, (p) => p === position);
  }

  position(slot: number): number {
    return this.positions[slot]! - 1;
  }

  casts(slot: number): number {
    return this.castCounts[slot]!;
  }

  /** Every voter's position, ascending. */
  positionsAscending(): Uint32Array {
    const out = new Uint32Array(this.count);
    let k = 0;
    for (let slot = 0; slot < this.positions.length; slot++) if (this.positions[slot] !== 0) out[k++] = this.positions[slot]! - 1;
    return out.sort();
  }

  /** Records a voter's newer ballot in their slot. */
  update(slot: number, position: number, casts: number): void {
    this.positions[slot] = position + 1;
    this.castCounts[slot] = casts;
  }

  /** Adds a voter not in the table. */
  insert(key: Uint32Array, position: number, casts: number): void {
    if ((this.count + 1) * 4 > this.positions.length * 3) this.grow();
    this.put(key, 0, position + 1, casts);
    this.count++;
  }

  private keyAt(slot: number, key: Uint32Array): boolean {
    const k = slot * 4;
    return this.keys[k] === key[0] && this.keys[k + 1] === key[1] && this.keys[k + 2] === key[2] && this.keys[k + 3] === key[3];
  }

  /** Writes key words from `from` (at word offset `at`) into the first free slot of its probe sequence. */
  private put(from: Uint32Array, at: number, positionPlusOne: number, casts: number): void {
    const mask = this.positions.length - 1;
    let slot = from[at]! & mask;
    while (this.positions[slot] !== 0) slot = (slot + 1) & mask;
    this.keys.set(from.subarray(at, at + 4), slot * 4);
    this.positions[slot] = positionPlusOne;
    this.castCounts[slot] = casts;
  }

  private grow(): void {
    const { keys, positions, castCounts } = this;
    this.keys = new Uint32Array(keys.length * 2);
    this.positions = new Uint32Array(positions.length * 2);
    this.castCounts = new Uint32Array(positions.length * 2);
    for (let slot = 0; slot < positions.length; slot++) if (positions[slot] !== 0) this.put(keys, slot * 4, positions[slot]!, castCounts[slot]!);
  }
}
