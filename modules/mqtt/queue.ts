/**
 * The client's outgoing queue: publications and subscription requests waiting for the sender
 * cosocket, in order. Bounded in bytes by the caller (see `MqttOptions.queuelen`): the client
 * checks `bytes` before adding, exactly as a socket's `trywrite` does.
 */
export class OutQueue<T extends { size: number }> {
  #items: (T | undefined)[] = [];
  #head = 0;
  /** Bytes of the queued items (their encoded size as estimated when queued). */
  bytes = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
    this.bytes += item.size;
  }

  peek(): T | undefined {
    return this.#items[this.#head];
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head]!;
    this.#items[this.#head++] = undefined;
    this.bytes -= item.size;
    if (this.#head === this.#items.length) {
      this.#items.length = 0;
      this.#head = 0;
    } else if (this.#head > 32 && this.#head * 2 > this.#items.length) {
      this.#items.splice(0, this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Empties the queue and returns what it held. */
  drain(): T[] {
    const out = this.#items.slice(this.#head) as T[];
    this.#items = [];
    this.#head = 0;
    this.bytes = 0;
    return out;
  }
}
