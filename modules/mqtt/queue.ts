/**
 * The client's outgoing queue: publications and subscription requests waiting for the sender
 * cosocket, in order. Bounded in bytes by the caller (see `MqttOptions.queuelen`): the client
 * checks `bytes` before adding, exactly as a socket's `trywrite` does.
 */
import { Queue } from "./cosock.js";

export class OutQueue<T extends { size: number }> extends Queue<T> {
  /** Bytes of the queued items (their encoded size as estimated when queued). */
  bytes = 0;

  override push(item: T): void {
    super.push(item);
    this.bytes += item.size;
  }

  override shift(): T | undefined {
    const item = super.shift();
    if (item !== undefined) this.bytes -= item.size;
    return item;
  }

  override retain(keep: (item: T) => boolean): void {
    super.retain((item) => keep(item) || ((this.bytes -= item.size), false));
  }

  override clear(): void {
    super.clear();
    this.bytes = 0;
  }

  /** Empties the queue and returns what it held. */
  override drain(): T[] {
    this.bytes = 0;
    return super.drain();
  }
}
