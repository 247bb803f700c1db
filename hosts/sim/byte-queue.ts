/**
 * A FIFO of byte chunks. Chunks are never modified after `push`, so the views
 * `take` hands out stay valid and may be kept by the caller.
 */
export class ByteQueue {
  private chunks: Uint8Array[] = [];
  private head = 0;
  private bytes = 0;

  /** Bytes queued. */
  get length(): number {
    return this.bytes;
  }

  /** Appends `chunk` (not copied: the caller hands it over). */
  push(chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return;
    this.chunks.push(chunk);
    this.bytes += chunk.byteLength;
  }

  /**
   * Removes and returns up to `max` bytes: a view when they lie in one chunk,
   * otherwise a new array. Empty when nothing is queued.
   */
  take(max: number): Uint8Array {
    const n = Math.min(max, this.bytes);
    if (!(n > 0)) return new Uint8Array(0);
    const first = this.chunks[this.head] as Uint8Array;
    if (first.byteLength >= n) {
      this.consume(first, n);
      this.bytes -= n;
      return n === first.byteLength ? first : first.subarray(0, n);
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.chunks[this.head] as Uint8Array;
      const k = Math.min(chunk.byteLength, n - filled);
      out.set(k === chunk.byteLength ? chunk : chunk.subarray(0, k), filled);
      this.consume(chunk, k);
      filled += k;
    }
    this.bytes -= n;
    return out;
  }

  clear(): void {
    this.chunks = [];
    this.head = 0;
    this.bytes = 0;
  }

  private consume(chunk: Uint8Array, k: number): void {
    if (k < chunk.byteLength) {
      this.chunks[this.head] = chunk.subarray(k);
      return;
    }
    this.head++;
    if (this.head === this.chunks.length) {
      this.chunks = [];
      this.head = 0;
    } else if (this.head > 64 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }
}
