import { ByteQueue } from "../../src/base/byte-queue.js";
import type { SimEvent } from "./clock.js";
import type { SimCore } from "./core.js";

/** A segment on its way; `data` undefined is the FIN. */
interface Segment {
  readonly data: Uint8Array | undefined;
  readonly arrival: number;
}

export interface PipeSizes {
  readonly sendBuffer: number;
  readonly recvWindow: number;
  readonly mss: number;
}

/** What a pipe tells its connection. */
export interface PipeOwner {
  /** While true, nothing arrives (segments wait in flight). */
  readonly stalled: boolean;
  segmentArrived(pipe: Pipe, data: Uint8Array): void;
  finArrived(pipe: Pipe): void;
}

/**
 * One direction of a TCP connection: the sender's buffer (bytes written and
 * not yet transmitted, plus bytes in flight), the segments in flight, and the
 * receiver's unread queue.
 *
 * Transmission: a "pump" event at the current time moves segments of at most
 * `mss` bytes onto the wire while the receiver's window allows
 * (unread + in flight < recvWindow), avoiding silly-window segments: a segment
 * smaller than min(mss, recvWindow/2) leaves only when it carries everything
 * that is waiting or nothing else is in flight (so a receiver that keeps part
 * of its window unread never deadlocks the sender). Arrival = wire departure (bandwidth) + latency + jitter
 * (+ rto when lost), never before the previous segment of this pipe. A
 * segment's bytes leave the sender's buffer when it arrives (instant ACK).
 * Exactly one segment arrives per event.
 */
export class Pipe {
  /** Written by the sender, not yet transmitted. */
  readonly pending = new ByteQueue();
  /** Arrived at the receiver, not yet read. */
  readonly unread = new ByteQueue();

  /** The sender called end() (or close()): a FIN follows the pending bytes. */
  finQueued = false;
  finSent = false;
  finArrived = false;
  /** onEnd was delivered to the receiver. */
  endDelivered = false;
  endScheduled = false;
  /** The receiver closed: data arriving now makes the connection reset. */
  receiverClosed = false;
  /** Bytes that arrived so far; the connection resets when this reaches `resetAt`. */
  crossed = 0;
  resetAt = Infinity;
  /** The writable count the sender last learnt (onWritable or write's result). */
  told: number;
  /** The sender wrote since it was last told: the next growth is reported. */
  armed = false;

  private flight: Segment[] = [];
  private flightHead = 0;
  private flightBytes = 0;
  private lastArrival = 0;
  private pumpEvent: SimEvent | undefined;
  private arrivalEvent: SimEvent | undefined;
  private dead = false;

  constructor(
    private readonly core: SimCore,
    private readonly owner: PipeOwner,
    /** Host addresses of the sender and the receiver (the link and wire between them). */
    readonly from: string,
    readonly to: string,
    readonly sizes: PipeSizes,
  ) {
    this.told = sizes.sendBuffer;
  }

  /** Bytes the sender may write now. */
  get writable(): number {
    return this.sizes.sendBuffer - this.pending.bytes - this.flightBytes;
  }

  /** Queues a copy of `data` (the caller checked the writable count). */
  write(data: Uint8Array): void {
    if (this.dead || data.byteLength === 0) return;
    this.pending.push(new Uint8Array(data));
    // schedulePump, written out: a write comes from the top of the runtime's chains
    if (this.pumpEvent === undefined) this.pumpEvent = this.core.clock.at(this.core.clock.now, this.pump);
  }

  /** The sender's end of stream: a FIN follows what was written. */
  finish(): void {
    if (this.finQueued) return;
    this.finQueued = true;
    this.schedulePump();
  }

  /** Up to `max` unread bytes; the window reopens. */
  read(max: number): Uint8Array {
    const out = this.unread.take(max);
    this.schedulePump();
    return out;
  }

  /** Segments held by a stall may arrive again. */
  resume(): void {
    this.scheduleArrival();
  }

  /** Everything stops: queues emptied, events cancelled. */
  kill(): void {
    this.dead = true;
    this.core.clock.cancel(this.pumpEvent);
    this.core.clock.cancel(this.arrivalEvent);
    this.pumpEvent = undefined;
    this.arrivalEvent = undefined;
    this.pending.clear();
    this.unread.clear();
    this.flight = [];
    this.flightHead = 0;
    this.flightBytes = 0;
  }

  schedulePump(): void {
    if (this.dead || this.pumpEvent !== undefined) return;
    if (this.pending.bytes === 0 && !(this.finQueued && !this.finSent)) return;
    this.pumpEvent = this.core.clock.at(this.core.clock.now, this.pump);
  }

  private readonly pump = (): void => {
    this.pumpEvent = undefined;
    if (this.dead) return;
    const core = this.core;
    const now = core.clock.now;
    const link = core.link(this.from, this.to);
    const wire = core.wire(this.from, this.to);
    const { mss, recvWindow } = this.sizes;
    const small = Math.min(mss, Math.ceil(recvWindow / 2));
    while (this.pending.bytes > 0) {
      const window = recvWindow - this.unread.bytes - this.flightBytes;
      const size = Math.min(mss, this.pending.bytes, window);
      if (size <= 0 || (size < small && size < this.pending.bytes && this.flightBytes > 0)) break;
      const data = this.pending.take(size);
      let arrival = wire.send(now, size, link.bandwidth) + link.latency;
      if (link.jitter > 0) arrival += core.faults.next() * link.jitter;
      core.counters.segments++;
      if (core.faults.chance(link.loss)) {
        core.counters.lostSegments++;
        arrival += link.rto;
      }
      this.enqueue({ data, arrival });
      this.flightBytes += size;
    }
    if (this.pending.bytes === 0 && this.finQueued && !this.finSent) {
      this.finSent = true;
      this.enqueue({ data: undefined, arrival: wire.send(now, 0, link.bandwidth) + link.latency });
    }
    this.scheduleArrival();
  };

  private enqueue(segment: { data: Uint8Array | undefined; arrival: number }): void {
    if (segment.arrival < this.lastArrival) segment.arrival = this.lastArrival;
    this.lastArrival = segment.arrival;
    this.flight.push(segment);
  }

  private scheduleArrival(): void {
    if (this.dead || this.arrivalEvent !== undefined || this.owner.stalled) return;
    const head = this.flight[this.flightHead];
    if (head === undefined) return;
    this.arrivalEvent = this.core.clock.at(head.arrival, this.arrive);
  }

  private readonly arrive = (): void => {
    this.arrivalEvent = undefined;
    if (this.dead || this.owner.stalled) return;
    const segment = this.flight[this.flightHead] as Segment;
    this.flightHead++;
    if (this.flightHead === this.flight.length) {
      this.flight = [];
      this.flightHead = 0;
    } else if (this.flightHead > 64 && this.flightHead * 2 > this.flight.length) {
      this.flight = this.flight.slice(this.flightHead);
      this.flightHead = 0;
    }
    if (segment.data === undefined) {
      this.finArrived = true;
      this.owner.finArrived(this);
    } else {
      this.flightBytes -= segment.data.byteLength;
      this.owner.segmentArrived(this, segment.data);
      if (this.flightBytes === 0) this.schedulePump();
    }
    this.scheduleArrival();
  };
}
