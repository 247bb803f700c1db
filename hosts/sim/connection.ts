import type { Endpoint } from "../../src/host.js";
import type { SimCore } from "./core.js";
import { Pipe } from "./pipe.js";
import type { PipeOwner, PipeSizes } from "./pipe.js";
import type { SimTcp } from "./tcp.js";

/** An established TCP connection, as tests see it (fault injection). */
export interface SimConnection {
  /** The client's local endpoint. */
  readonly client: Endpoint;
  /** The server endpoint the client dialled. */
  readonly server: Endpoint;
  /** Both ends get onError("reset") (from an event after the current one); data in flight or unread is lost. */
  reset(): void;
  /** While on, the network delivers nothing in either direction (a silent dead link); data waits in flight. */
  stall(on: boolean): void;
  /**
   * Resets the connection once `bytes` more bytes (counted from this call) have
   * arrived in that direction (default "toServer"). The segment that crosses the
   * mark is cut at it; the receiver is told about those bytes (onReadable) in
   * the same event, then the reset happens.
   */
  resetAfter(bytes: number, direction?: "toServer" | "toClient"): void;
}

/**
 * Two pipes (client→server "up", server→client "down") and the two ends.
 * The server end exists once the pending connection is adopted; until then
 * arriving data waits in `up.unread` (counting against the window).
 */
export class Connection implements SimConnection, PipeOwner {
  readonly client: Endpoint;
  readonly server: Endpoint;
  readonly up: Pipe;
  readonly down: Pipe;
  stalled = false;
  dead = false;
  finished = false;
  serverEnd: SimTcp | undefined;

  constructor(
    private readonly core: SimCore,
    readonly clientEnd: SimTcp,
    clientHost: string,
    serverHost: string,
    sizes: PipeSizes,
    /** Frees the client's local port once the connection is over. */
    private readonly release: () => void,
  ) {
    this.client = { ...(clientEnd.local as Endpoint) };
    this.server = { ...(clientEnd.remote as Endpoint) };
    this.up = new Pipe(core, this, clientHost, serverHost, sizes);
    this.down = new Pipe(core, this, serverHost, clientHost, sizes);
  }

  // ---- fault injection (SimConnection) ----

  reset(): void {
    if (this.dead) return;
    this.dead = true;
    const ends = [this.clientEnd, this.serverEnd];
    this.core.clock.at(this.core.clock.now, () => {
      for (const end of ends) end?.fail("reset");
    });
    this.finish();
  }

  stall(on: boolean): void {
    if (this.dead || this.stalled === on) return;
    this.stalled = on;
    if (!on) {
      this.up.resume();
      this.down.resume();
    }
  }

  resetAfter(bytes: number, direction: "toServer" | "toClient" = "toServer"): void {
    if (this.dead) return;
    if (!(bytes > 0)) {
      this.reset();
      return;
    }
    const pipe = direction === "toClient" ? this.down : this.up;
    pipe.resetAt = pipe.crossed + bytes;
  }

  // ---- called by the ends ----

  outbound(end: SimTcp): Pipe {
    return end === this.clientEnd ? this.up : this.down;
  }

  inbound(end: SimTcp): Pipe {
    return end === this.clientEnd ? this.down : this.up;
  }

  write(end: SimTcp, data: Uint8Array): number {
    const pipe = this.outbound(end);
    const writable = pipe.writable;
    if (data.byteLength > writable) {
      throw new RangeError(`write of ${data.byteLength} bytes exceeds the writable count ${writable}`);
    }
    pipe.write(data);
    pipe.told = pipe.writable;
    pipe.armed = true;
    return pipe.told;
  }

  read(end: SimTcp, max: number | undefined): Uint8Array | undefined {
    const pipe = this.inbound(end);
    if (pipe.unread.bytes === 0) return undefined;
    const out = pipe.read(max === undefined ? pipe.unread.bytes : Math.floor(max));
    if (pipe.unread.bytes === 0 && pipe.finArrived && !pipe.endDelivered && !pipe.endScheduled) {
      pipe.endScheduled = true;
      this.core.clock.at(this.core.clock.now, () => {
        pipe.endScheduled = false;
        this.deliverEnd(pipe);
        this.checkFinished();
      });
    }
    return out;
  }

  end(end: SimTcp): void {
    if (this.dead) return;
    this.outbound(end).finish();
  }

  /** The end closed at once: FIN after what it wrote, or a reset if it left unread data. */
  close(end: SimTcp): void {
    if (this.dead) return;
    const inbound = this.inbound(end);
    if (inbound.unread.bytes > 0) {
      this.reset();
      return;
    }
    inbound.receiverClosed = true;
    this.outbound(end).finish();
    this.checkFinished();
  }

  /** The client learns it is connected (called from the connect event). */
  connected(): void {
    this.up.told = this.up.writable;
    this.clientEnd.emitWritable(this.up.told);
  }

  /** The server wrapped the pending connection in `end`; it hears from an event. */
  adopt(end: SimTcp): void {
    this.serverEnd = end;
    this.core.clock.at(this.core.clock.now, () => {
      if (this.dead) {
        end.fail("reset");
        return;
      }
      this.down.told = this.down.writable;
      end.emitWritable(this.down.told);
      if (this.up.unread.bytes > 0) end.emitReadable(this.up.unread.bytes);
      else this.deliverEnd(this.up);
      this.checkFinished();
    });
  }

  // ---- called by the pipes (PipeOwner) ----

  segmentArrived(pipe: Pipe, data: Uint8Array): void {
    if (this.dead) return;
    if (pipe.receiverClosed) {
      this.reset();
      return;
    }
    let chunk = data;
    const room = pipe.resetAt - pipe.crossed;
    const trip = chunk.byteLength >= room;
    if (trip) chunk = chunk.subarray(0, room);
    pipe.crossed += chunk.byteLength;
    pipe.unread.push(chunk);
    const receiver = this.receiverOf(pipe);
    if (receiver !== undefined && chunk.byteLength > 0) receiver.emitReadable(pipe.unread.bytes);
    if (trip) {
      this.reset();
      return;
    }
    this.reportWritable(pipe);
  }

  finArrived(pipe: Pipe): void {
    if (this.dead) return;
    this.deliverEnd(pipe);
    this.checkFinished();
  }

  // ---- internals ----

  private receiverOf(pipe: Pipe): SimTcp | undefined {
    return pipe === this.up ? this.serverEnd : this.clientEnd;
  }

  private senderOf(pipe: Pipe): SimTcp | undefined {
    return pipe === this.up ? this.clientEnd : this.serverEnd;
  }

  /**
   * After an arrival freed send-buffer space: onWritable(count) when the count
   * grew past what the sender last learnt and either it wrote since then or
   * the buffer is now completely free.
   */
  private reportWritable(pipe: Pipe): void {
    if (this.dead) return;
    const sender = this.senderOf(pipe);
    if (sender === undefined || sender.ended) return;
    const writable = pipe.writable;
    if (writable > pipe.told && (pipe.armed || writable === pipe.sizes.sendBuffer)) {
      pipe.told = writable;
      pipe.armed = false;
      sender.emitWritable(writable);
    }
  }

  private deliverEnd(pipe: Pipe): void {
    if (this.dead || !pipe.finArrived || pipe.endDelivered || pipe.unread.bytes > 0) return;
    const receiver = this.receiverOf(pipe);
    if (receiver === undefined || receiver.phase !== "open") return;
    pipe.endDelivered = true;
    receiver.emitEnd();
  }

  /** Over when each end is closed, failed, or has both sent its FIN and read the peer's. */
  private checkFinished(): void {
    if (this.finished) return;
    if (this.endDone(this.clientEnd) && this.serverEnd !== undefined && this.endDone(this.serverEnd)) {
      this.finish();
    }
  }

  private endDone(end: SimTcp): boolean {
    if (end.phase === "closed" || end.phase === "failed") return true;
    return this.outbound(end).finArrived && this.inbound(end).endDelivered;
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.up.kill();
    this.down.kill();
    this.core.connectionFinished(this);
    this.release();
  }
}
