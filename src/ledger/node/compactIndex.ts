/**
 * Compact in-memory indexes for a ledger node: what it keeps per entry is a few bytes in typed arrays,
 * never a string or an object per entry (the entry texts themselves stay on disk, read by offset).
 */

/** A growable list of numbers in one typed array (doubling): 4 or 8 bytes per element plus at most as much slack. */
export class NumberList {
  private buf: Uint32Array | Float64Array;
  length = 0;

  /** Uint32Array for values below 2^32 (entry indexes), Float64Array for byte offsets (exact up to 2^53). */
  constructor(private readonly kind: Uint32ArrayConstructor | Float64ArrayConstructor = Float64Array) {
    this.buf = new kind(16);
  }

  push(value: number): void {
    if (this.length === this.buf.length) {
      const bigger = new this.kind(this.buf.length * 2);
      bigger.set(this.buf);
      this.buf = bigger;
    }
    this.buf[this.length++] = value;
  }

  get(i: number): number {
    if (i < 0 || i >= this.length) throw new RangeError(`index ${i} outside 0..${this.length - 1}`);
    return this.buf[i]!;
  }

  /** The number of leading elements below `bound` (the list must be ascending). */
  countBelow(bound: number): number {
    let lo = 0;
    for (let hi = this.length; lo < hi; ) {
      const mid = (lo + hi) >>> 1;
      if (this.buf[mid]! < bound) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

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
