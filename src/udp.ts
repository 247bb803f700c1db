/**
 * UDP sockets (`udpcon`): connected (a default peer for `write`, and only its datagrams are read)
 * or unconnected (`sendto`, `readfrom`). Reads suspend with an optional timeout.
 */
import { SocketError } from "./errors.js";
import type { Datagram, Endpoint, UDP } from "./host.js";
import type { Serviced } from "./dispatcher.js";
import { Waiter } from "./waiter.js";
import { toBytes, type Payload } from "./bytes.js";
import type { Runtime } from "./runtime.js";
import type { SocketStat } from "./socket/socket.js";

export interface UdpOptions {
  /** The peer of a connected UDP socket. */
  host?: string;
  port?: number;
  /** Local port to bind (0 or omitted: any). */
  localPort?: number;
  /** Local address to bind (the seed's `intf`). */
  intf?: string;
}

const EMPTY = new Uint8Array(0);

// bits of UdpSocket.#f
const CLOSED = 1;
const ALIVE = 2; // a coroutine runs (event)
const WANT_DATA = 4; // the waiting reader is read(): it gets the datagram's bytes, not the datagram
const OPENING = 8; // the host socket is not ready yet: #reader is open()'s waiter

// The host socket's callbacks, shared by every UdpSocket (the seam calls them with the socket as
// `this`, its `target`): per-socket closures would cost about 200 bytes each on XS.
function udpReadable(this: UdpSocket): void {
  this._readable();
}
function udpReady(this: UdpSocket): void {
  this._opened(undefined);
}
function udpFailed(this: UdpSocket, reason: string): void {
  this._opened(new SocketError("bind", `udp: ${reason}`));
}

/**
 * A UDP socket: per connection on the device, so it follows the XS memory rules
 * (docs/contributing.md): no `#private` methods, no per-instance closures, booleans in `#f`.
 */
export class UdpSocket implements Serviced {
  inReadyQueue = false;
  readonly rt: Runtime;
  #udp: UDP | undefined;
  #peer: Endpoint | undefined;
  #reader: Waiter<Datagram | Uint8Array> | undefined;
  #f = 0;
  #in = 0;
  #out = 0;
  #opened = 0;

  private constructor(rt: Runtime) {
    this.rt = rt;
  }

  static async open(rt: Runtime, options: UdpOptions): Promise<UdpSocket> {
    const s = new UdpSocket(rt);
    if (options.host !== undefined) {
      if (options.port === undefined) throw new SocketError("incorrectuse", "udpcon with a host needs a port");
      s.#peer = { address: await rt.toip(options.host), port: options.port };
    }
    const opening = new Waiter<Datagram | Uint8Array>();
    s.#reader = opening;
    s.#f |= OPENING;
    s.#udp = rt.host.udp({
      target: s,
      port: options.localPort ?? 0,
      address: options.intf,
      onReadable: udpReadable,
      onReady: udpReady,
      onError: udpFailed,
    });
    await opening.promise;
    s.#opened = rt.host.now();
    rt.track(s);
    return s;
  }

  /** @internal The host socket has datagrams (`udpReadable`). */
  _readable(): void {
    if (this.#reader && !(this.#f & OPENING)) this.rt.dispatcher.ready(this);
  }

  /** @internal The host socket is ready, or (`failure`) could not be made. */
  _opened(failure: SocketError | undefined): void {
    const w = this.#reader;
    if (!(this.#f & OPENING) || !w) return;
    this.#f &= ~OPENING;
    this.#reader = undefined;
    if (failure === undefined) {
      w.resolve(EMPTY);
      return;
    }
    this.#udp = undefined;
    w.reject(failure);
    this.close();
  }

  /** Sends one datagram to the connected peer. */
  write(data: Payload): true {
    if (!this.#peer) throw new SocketError("incorrectuse", "write needs a connected UDP socket; use sendto");
    return this._send(data, this.#peer.address, this.#peer.port);
  }

  /** Sends one datagram to `host:port` (a name is resolved first). */
  async sendto(data: Payload, host: string, port: number): Promise<true> {
    return this._send(data, await this.rt.toip(host), port);
  }

  private _send(data: Payload, address: string, port: number): true {
    if (this.#f & CLOSED || !this.#udp) throw new SocketError("socketclosed");
    const bytes = toBytes(data);
    this.#udp.write(bytes, address, port);
    this.#out += bytes.length;
    this.rt.traffic.out += bytes.length;
    return true;
  }

  /**
   * The next datagram's bytes (from the peer, if connected). Throws `timeout` after `timeout` ms.
   * Not async: a suspended async function costs about 1 KB on 32-bit XS.
   */
  read(timeout?: number): Promise<Uint8Array> {
    return this._read(timeout, true) as Promise<Uint8Array>;
  }

  /** The next datagram with its sender. */
  readfrom(timeout?: number): Promise<Datagram> {
    return this._read(timeout, false) as Promise<Datagram>;
  }

  private _read(timeout: number | undefined, data: boolean): Promise<Datagram | Uint8Array> {
    if (this.#f & CLOSED) return Promise.reject(new SocketError("socketclosed"));
    if (this.#reader) return Promise.reject(new SocketError("incorrectuse", "another read is waiting on this socket"));
    const d = this._take();
    if (d) return Promise.resolve(data ? d.data : d);
    const w = new Waiter<Datagram | Uint8Array>();
    this.#reader = w;
    this.#f = data ? this.#f | WANT_DATA : this.#f & ~WANT_DATA;
    if (timeout !== undefined)
      w.cancelTimer = this.rt.dispatcher.timer(timeout, () => {
        w.cancelTimer = undefined;
        this.#reader = undefined;
        w.reject(new SocketError("timeout"));
      });
    return w.promise;
  }

  private _take(): Datagram | undefined {
    const peer = this.#peer;
    for (;;) {
      const d = this.#udp?.read();
      if (d) {
        this.#in += d.data.length;
        this.rt.traffic.in += d.data.length;
      }
      if (!d || !peer || (d.address === peer.address && d.port === peer.port)) return d;
    }
  }

  service(): void {
    const r = this.#reader;
    if (!r || this.#f & OPENING) return;
    const d = this._take();
    if (!d) return;
    this.#reader = undefined;
    r.settle();
    r.resolve(this.#f & WANT_DATA ? d.data : d);
  }

  /** Runs `fn(this, ...args)` as this socket's coroutine; the socket closes when it returns. */
  event<A extends unknown[]>(fn: (sock: UdpSocket, ...args: A) => unknown, ...args: A): this {
    if (this.#f & ALIVE) throw new SocketError("incorrectuse", "this socket already has a coroutine");
    this.#f |= ALIVE;
    let result: unknown;
    try {
      result = fn(this, ...args);
    } catch (e) {
      this._ended(e);
      return this;
    }
    // one function for both outcomes, as Socket.eventFor: an Error is a failure
    const end = (outcome: unknown) => this._ended(outcome);
    Promise.resolve(result).then(end, end);
    return this;
  }

  /** The coroutine ended with `outcome`: its return value or what it threw. */
  private _ended(outcome: unknown): void {
    this.#f &= ~ALIVE;
    if (outcome instanceof Error && !(outcome instanceof SocketError))
      this.rt.options.log(`cosock: coroutine failed: ${outcome.stack ?? outcome}`);
    this.close();
  }

  close(): boolean {
    if (this.#f & CLOSED) return false;
    this.#f |= CLOSED;
    const r = this.#reader;
    if (r) {
      this.#reader = undefined;
      r.settle();
      r.reject(new SocketError("socketclosed"));
    }
    this.#udp?.close();
    this.#udp = undefined;
    this.rt.untrack(this);
    return true;
  }

  get closed(): boolean {
    return (this.#f & CLOSED) !== 0;
  }

  peername(): Endpoint | undefined {
    return this.#peer;
  }

  sockname(): Endpoint | undefined {
    return this.#udp?.local;
  }

  state(): "read" | "exec" | "terminated" {
    return this.#f & CLOSED ? "terminated" : this.#reader ? "read" : "exec";
  }

  /** Bytes of the datagrams received (including any from other peers, which are dropped). */
  get bytesIn(): number {
    return this.#in;
  }

  /** Bytes of the datagrams sent. */
  get bytesOut(): number {
    return this.#out;
  }

  /** ms since the socket was opened. */
  get age(): number {
    return this.#f & CLOSED ? 0 : Math.floor((this.rt.host.now() - this.#opened) / 1000) * 1000;
  }

  /** This socket's figures for `Runtime.socketStats()` (a UDP socket has no send queue). */
  stat(): SocketStat {
    const local = this.sockname();
    const peer = this.#peer;
    return {
      kind: "udp",
      mode: this.#f & ALIVE ? "async" : "blocking",
      wrapped: false,
      local: local ? `${local.address}:${local.port}` : "",
      peer: peer ? `${peer.address}:${peer.port}` : "",
      state: this.state(),
      bytesIn: this.#in,
      bytesOut: this.#out,
      queued: 0,
      queuelen: 0,
      writers: 0,
      age: this.age,
    };
  }
}
