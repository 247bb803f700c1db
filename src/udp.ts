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

export class UdpSocket implements Serviced {
  inReadyQueue = false;
  readonly rt: Runtime;
  #udp: UDP | undefined;
  #peer: Endpoint | undefined;
  #reader: Waiter<Datagram> | undefined;
  #closed = false;
  #alive = false;
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
    await new Promise<void>((resolve, reject) => {
      s.#udp = rt.host.udp({
        port: options.localPort ?? 0,
        address: options.intf,
        onReadable: () => {
          if (s.#reader) rt.dispatcher.ready(s);
        },
        onReady: resolve,
        onError: (reason) => {
          s.#udp = undefined;
          reject(new SocketError("bind", `udp: ${reason}`));
          s.close();
        },
      });
    });
    s.#opened = rt.host.now();
    rt.track(s);
    return s;
  }

  /** Sends one datagram to the connected peer. */
  write(data: Payload): true {
    if (!this.#peer) throw new SocketError("incorrectuse", "write needs a connected UDP socket; use sendto");
    return this.#send(data, this.#peer.address, this.#peer.port);
  }

  /** Sends one datagram to `host:port` (a name is resolved first). */
  async sendto(data: Payload, host: string, port: number): Promise<true> {
    return this.#send(data, await this.rt.toip(host), port);
  }

  #send(data: Payload, address: string, port: number): true {
    if (this.#closed || !this.#udp) throw new SocketError("socketclosed");
    const bytes = toBytes(data);
    this.#udp.write(bytes, address, port);
    this.#out += bytes.length;
    this.rt.traffic.out += bytes.length;
    return true;
  }

  /** The next datagram's bytes (from the peer, if connected). Throws `timeout` after `timeout` ms. */
  async read(timeout?: number): Promise<Uint8Array> {
    return (await this.readfrom(timeout)).data;
  }

  /** The next datagram with its sender. */
  readfrom(timeout?: number): Promise<Datagram> {
    if (this.#closed) return Promise.reject(new SocketError("socketclosed"));
    if (this.#reader) return Promise.reject(new SocketError("incorrectuse", "another read is waiting on this socket"));
    const d = this.#take();
    if (d) return Promise.resolve(d);
    const w = new Waiter<Datagram>();
    this.#reader = w;
    if (timeout !== undefined)
      w.cancelTimer = this.rt.dispatcher.timer(timeout, () => {
        w.cancelTimer = undefined;
        this.#reader = undefined;
        w.reject(new SocketError("timeout"));
      });
    return w.promise;
  }

  #take(): Datagram | undefined {
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
    if (!r) return;
    const d = this.#take();
    if (!d) return;
    this.#reader = undefined;
    r.settle();
    r.resolve(d);
  }

  /** Runs `fn(this, ...args)` as this socket's coroutine; the socket closes when it returns. */
  event<A extends unknown[]>(fn: (sock: UdpSocket, ...args: A) => unknown, ...args: A): this {
    if (this.#alive) throw new SocketError("incorrectuse", "this socket already has a coroutine");
    this.#alive = true;
    const done = (e?: unknown) => {
      this.#alive = false;
      if (e !== undefined && !(e instanceof SocketError))
        this.rt.options.log(`cosock: coroutine failed: ${(e as Error)?.stack ?? e}`);
      this.close();
    };
    try {
      Promise.resolve(fn(this, ...args)).then(() => done(), done);
    } catch (e) {
      done(e);
    }
    return this;
  }

  close(): boolean {
    if (this.#closed) return false;
    this.#closed = true;
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
    return this.#closed;
  }

  peername(): Endpoint | undefined {
    return this.#peer;
  }

  sockname(): Endpoint | undefined {
    return this.#udp?.local;
  }

  state(): "read" | "exec" | "terminated" {
    return this.#closed ? "terminated" : this.#reader ? "read" : "exec";
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
    return this.#closed ? 0 : Math.floor((this.rt.host.now() - this.#opened) / 1000) * 1000;
  }

  /** This socket's figures for `Runtime.socketStats()` (a UDP socket has no send queue). */
  stat(): SocketStat {
    const local = this.sockname();
    const peer = this.#peer;
    return {
      kind: "udp",
      mode: this.#alive ? "async" : "blocking",
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
