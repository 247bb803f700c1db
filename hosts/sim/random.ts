/**
 * A small seeded pseudo-random generator (mulberry32): 32 bits of state, fast,
 * and identical on every engine because it only uses 32-bit integer arithmetic.
 * Not for cryptography — the simulator only needs reproducible runs.
 */
export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** The next unsigned 32-bit integer. */
  uint32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A number in [0, 1). */
  next(): number {
    return this.uint32() / 4294967296;
  }

  /**
   * True with probability `p`. Draws nothing when `p` is 0, so turning a fault
   * off does not shift the rest of the sequence.
   */
  chance(p: number): boolean {
    return p > 0 && this.next() < p;
  }

  /** `n` random bytes. */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      let word = this.uint32();
      for (let j = i; j < n && j < i + 4; j++) {
        out[j] = word & 0xff;
        word >>>= 8;
      }
    }
    return out;
  }
}
