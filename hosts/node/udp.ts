/**
 * The seam's UDP socket over `node:dgram`. Received datagrams wait in a bounded FIFO
 * (`queueLimit`); a datagram arriving at a full queue is dropped and counted in `dropped`.
 * A write copies the caller's bytes (dgram may send later: before the socket is bound, or when
 * the kernel queue is full), so the caller may reuse its buffer at once.
 */
import * as dgram from "node:dgram";
import * as net from "node:net";
import type { Datagram, Endpoint, UDP, UDPOptions } from "../../src/host.js";
import { Queue } from "../../src/base/queue.js";
import { bindErrorReason, errorCode } from "./errors.js";

/** Largest UDP payload over IPv4 (65535 − 8-byte UDP header − 20-byte IP header). */
const MAX_DATAGRAM = 65507;

export class NodeUDP implements UDP {
  readonly #socket: dgram.Socket;
  readonly #options: UDPOptions;
  readonly #limit: number;
  readonly #queue = new Queue<Datagram>();
  #closed = false;
  #bound = false;
  #broadcast: boolean | undefined;
  #local: Endpoint | undefined;
  /** Datagrams dropped because the receive queue was full. */
  dropped = 0;

  constructor(options: UDPOptions, queueLimit: number) {
    this.#options = options;
    this.#limit = queueLimit;
    const address = options.address ?? "127.0.0.1";
    const socket = dgram.createSocket({ type: net.isIPv6(address) ? "udp6" : "udp4" });
    this.#socket = socket;
    socket.on("message", this.#onMessage);
    socket.on("listening", this.#onListening);
    socket.on("error", this.#onError);
    socket.bind(options.port ?? 0, address);
  }

  read(): Datagram | undefined {
    return this.#queue.shift();
  }

  write(data: Uint8Array, address: string, port: number): void {
    if (this.#closed) throw new Error("closed");
    if (net.isIP(address) === 0) throw new Error(`not a numeric IP address: "${address}"`);
    if (data.byteLength > MAX_DATAGRAM) throw new Error(`datagram too large (${data.byteLength} > ${MAX_DATAGRAM})`);
    const copy = Buffer.allocUnsafe(data.byteLength);
    copy.set(data);
    this.#socket.send(copy, port, address);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.clear();
    this.#release();
  }

  setOption(name: "broadcast", on: boolean): boolean {
    if (name !== "broadcast") return false;
    this.#broadcast = on;
    if (this.#bound && !this.#closed) this.#socket.setBroadcast(on);
    return true;
  }

  get local(): Endpoint | undefined {
    return this.#local;
  }

  #release(): void {
    try {
      this.#socket.close();
    } catch {
      // Not running (the bind failed): nothing to close.
    }
  }

  #onMessage = (msg: Buffer, rinfo: dgram.RemoteInfo): void => {
    if (this.#closed) return;
    if (this.#queue.length >= this.#limit) {
      this.dropped++;
      return;
    }
    this.#queue.push({
      data: new Uint8Array(msg.buffer, msg.byteOffset, msg.byteLength),
      address: rinfo.address,
      port: rinfo.port,
    });
    this.#options.onReadable?.call(this.#options.target, this.#queue.length);
  };

  #onListening = (): void => {
    if (this.#closed) return;
    this.#bound = true;
    const bound = this.#socket.address();
    this.#local = { address: bound.address, port: bound.port };
    if (this.#broadcast !== undefined) this.#socket.setBroadcast(this.#broadcast);
    this.#options.onReady?.call(this.#options.target);
  };

  /** Node reports bind failures here (sends carry no callback, so their failures are not). */
  #onError = (error: Error): void => {
    if (this.#closed) return;
    this.#closed = true;
    this.#release();
    this.#options.onError?.call(this.#options.target, bindErrorReason(errorCode(error)));
  };
}
