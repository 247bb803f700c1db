/**
 * A socket's send queue. Bytes wait here until the host's writable count lets them out, in
 * pieces that always fit that count (an ECMA-419 write larger than writable throws).
 * A suspended writer's bytes are queued by reference (no copy: the writer waits until they have
 * left); the writer is resumed as soon as its last byte has been handed to the host, so writers
 * are resumed in the order they wrote (FIFO).
 */
import type { TCP } from "./host.js";
import type { Waiter } from "./waiter.js";
import { Queue } from "./base/queue.js";

interface Chunk {
  data: Uint8Array;
  writer: Waiter<true> | null;
}

/** Per connection on the device (while bytes wait): follows the XS memory rules (docs/contributing.md). */
export class WriteQueue {
  #chunks = new Queue<Chunk>();
  /** Bytes queued. */
  bytes = 0;
  /** Writers suspended until their bytes leave. */
  writers = 0;

  get empty(): boolean {
    return this.bytes === 0;
  }

  push(data: Uint8Array, writer: Waiter<true> | null): void {
    this.#chunks.push({ data, writer });
    this.bytes += data.length;
    if (writer) this.writers++;
  }

  /**
   * Hands queued bytes to `tcp` while it accepts them, at most `maxWrite` per host write.
   * Returns the writable count left. Writers whose bytes all left are resumed.
   */
  flush(tcp: TCP, writable: number, maxWrite: number): number {
    const chunks = this.#chunks;
    let c: Chunk | undefined;
    while (writable > 0 && (c = chunks.peek())) {
      const n = Math.min(c.data.length, writable, maxWrite);
      if (n === c.data.length) {
        writable = tcp.write(c.data);
        this.bytes -= n;
        chunks.shift();
        if (c.writer) {
          this.writers--;
          c.writer.resolve(true);
        }
      } else {
        writable = tcp.write(c.data.subarray(0, n));
        this.bytes -= n;
        c.data = c.data.subarray(n);
      }
    }
    return writable;
  }

  /**
   * Removes the bytes of suspended writers and rejects them with `error`; bytes of writers that
   * were already told "accepted" stay (they are still owed to the peer).
   */
  dropSuspended(error: unknown): void {
    if (this.writers === 0) return;
    this.#chunks.retain((c) => {
      if (!c.writer) return true;
      this.bytes -= c.data.length;
      c.writer.reject(error);
      return false;
    });
    this.writers = 0;
  }

  /** Empties the queue; suspended writers are rejected with `error`. Returns the bytes dropped. */
  fail(error: unknown): number {
    const dropped = this.bytes;
    this.bytes = 0;
    this.writers = 0;
    for (const c of this.#chunks.drain()) c.writer?.reject(error);
    return dropped;
  }
}
