/**
 * A FIFO of byte chunks, kept as they were pushed (never concatenated, never modified, so the
 * views it hands out stay valid): `read` hands out a view of the head chunk, `take` a given number
 * of bytes (a view when they lie in one chunk, a new array when they span several). A partly read
 * chunk stays at the head with a read offset. Used by the hosts for received and unsent bytes.
 */
import { Queue } from "./queue.js";

export class ByteQueue extends Queue<Uint8Array> {
  /** Bytes of the head chunk already handed out. */
  #offset = 0;
  /** Bytes queued and not yet handed out. */
  bytes = 0;

  /** Appends `chunk` (not copied: the caller hands it over); an empty chunk is ignored. */
  override push(chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return;
    super.push(chunk);
    this.bytes += chunk.byteLength;
  }

  /**
   * Up to `max` bytes from the head chunk (the rest of it when `max` is omitted or larger), as a
   * view without copying; undefined when the queue is empty. `max` of 0 or less gives an empty
   * array while bytes are queued.
   */
  read(max?: number): Uint8Array | undefined {
    if (this.bytes === 0) return undefined;
    const chunk = this.peek() as Uint8Array;
    const start = this.#offset;
    const left = chunk.byteLength - start;
    if (max !== undefined && max < left) {
      const n = max > 0 ? Math.floor(max) : 0;
      this.#offset = start + n;
      this.bytes -= n;
      return chunk.subarray(start, start + n);
    }
    this.shift();
    this.#offset = 0;
    this.bytes -= left;
    return start === 0 ? chunk : chunk.subarray(start);
  }

  /** Removes and returns up to `max` bytes (empty when nothing is queued). */
  take(max: number): Uint8Array {
    const n = Math.min(Math.floor(max), this.bytes);
    if (!(n > 0)) return new Uint8Array(0);
    const first = this.read(n) as Uint8Array;
    if (first.byteLength === n) return first;
    const out = new Uint8Array(n);
    out.set(first, 0);
    for (let filled = first.byteLength; filled < n; ) {
      const part = this.read(n - filled) as Uint8Array;
      out.set(part, filled);
      filled += part.byteLength;
    }
    return out;
  }

  /** Drops every queued chunk. */
  override clear(): void {
    super.clear();
    this.#offset = 0;
    this.bytes = 0;
  }
}
