/**
 * The received bytes of one TCP socket: a FIFO of the chunks Node delivered, kept as they came
 * (never concatenated). `read(max)` hands out views of the head chunk; a partly read chunk stays
 * at the head with a read offset.
 */

const EMPTY = new Uint8Array(0);

export class ChunkQueue {
  #chunks: (Uint8Array | undefined)[] = [];
  #head = 0;
  /** Bytes of `#chunks[#head]` already handed out. */
  #offset = 0;
  /** Unread bytes in the queue. */
  bytes = 0;

  push(chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return;
    this.#chunks.push(chunk);
    this.bytes += chunk.byteLength;
  }

  /**
   * Up to `max` bytes from the head chunk (the rest of it when `max` is omitted or larger), as a
   * view without copying; undefined when the queue is empty. `max` of 0 or less gives an empty
   * array while bytes are queued.
   */
  read(max?: number): Uint8Array | undefined {
    if (this.bytes === 0) return undefined;
    const chunk = this.#chunks[this.#head]!;
    const start = this.#offset;
    const left = chunk.byteLength - start;
    if (max !== undefined && max < left) {
      const n = max > 0 ? Math.floor(max) : 0;
      if (n === 0) return EMPTY;
      this.#offset = start + n;
      this.bytes -= n;
      return chunk.subarray(start, start + n);
    }
    this.#chunks[this.#head++] = undefined;
    this.#offset = 0;
    this.bytes -= left;
    this.#compact();
    return start === 0 ? chunk : chunk.subarray(start);
  }

  /** Drops every queued chunk. */
  clear(): void {
    this.#chunks = [];
    this.#head = 0;
    this.#offset = 0;
    this.bytes = 0;
  }

  #compact(): void {
    if (this.#head === this.#chunks.length) {
      this.#chunks.length = 0;
      this.#head = 0;
    } else if (this.#head > 32 && this.#head * 2 > this.#chunks.length) {
      this.#chunks.splice(0, this.#head);
      this.#head = 0;
    }
  }
}
