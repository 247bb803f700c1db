/**
 * A first-in-first-out queue read from a head index, so that `shift` never moves the array: the
 * array is emptied when the head reaches its end (the usual case), and the consumed front is cut
 * off once it is more than 32 slots and more than half the array.
 *
 * Used per connection on the device (a socket's write queue, a WebSocket's frame pieces, the MQTT
 * client's out-queue), so it follows the XS memory rules (docs/contributing.md): two fields, no
 * `#private` methods, nothing allocated per `push` or `shift` beyond the array's own growth.
 * Byte-counting queues build on it: `ByteQueue` and the MQTT `OutQueue` extend it; `WriteQueue`
 * (src/) holds one (its `push` takes a writer too), made only while writes wait.
 */
export class Queue<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  /** Items queued. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  /** The first item, left in the queue; undefined when empty. */
  peek(): T | undefined {
    return this.#items[this.#head];
  }

  /** The `i`-th item from the front (0 is the first); undefined past the end. */
  at(i: number): T | undefined {
    return i >= 0 ? this.#items[this.#head + i] : undefined;
  }

  /** Removes and returns the first item; undefined when empty. */
  shift(): T | undefined {
    const items = this.#items;
    const head = this.#head;
    if (head >= items.length) return undefined;
    const item = items[head];
    items[head] = undefined; // the queue no longer holds it
    if (head + 1 === items.length) {
      items.length = 0;
      this.#head = 0;
    } else if (head >= 32 && (head + 1) * 2 > items.length) {
      items.splice(0, head + 1);
      this.#head = 0;
    } else this.#head = head + 1;
    return item;
  }

  /** Keeps the items `keep` accepts, in order, and drops the others. */
  retain(keep: (item: T) => boolean): void {
    const items = this.#items;
    let to = 0;
    for (let i = this.#head; i < items.length; i++) {
      const item = items[i] as T;
      if (keep(item)) items[to++] = item;
    }
    items.length = to;
    this.#head = 0;
  }

  /** Empties the queue. */
  clear(): void {
    this.#items = [];
    this.#head = 0;
  }

  /** Empties the queue and returns what it held, in order. */
  drain(): T[] {
    const out = (this.#head === 0 ? this.#items : this.#items.slice(this.#head)) as T[];
    this.#items = [];
    this.#head = 0;
    return out;
  }
}
