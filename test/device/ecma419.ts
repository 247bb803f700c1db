/**
 * An emulation of Moddable's ECMA-419 socket classes on lwIP (`embedded:io/socket/tcp`,
 * `listener`, `udp`, the DNS resolver, `timer`, `time`) over node:net and node:dgram, for
 * running hosts/moddable under Node. It follows modules/io/socket/lwip/{tcp,udp}.c where the
 * host depends on it:
 *
 * - Callbacks are delivered later (one coalesced delivery per socket, like modMessagePostToMachine):
 *   onReadable(total unread) first, then onWritable(free send buffer) or onError(). They are called
 *   with `this` = the socket, whose `target` property is the `target` option (ECMA-419; lwIP's
 *   tcp.c stores it on the instance).
 * - `write` throws "would block" when the bytes exceed the free send buffer (tcp_sndbuf), and
 *   sends nothing; "not ready" before connected and after the peer's FIN or a reset was delivered;
 *   it returns undefined (sending nothing) once the connection is gone but not yet reported.
 *   The free send buffer starts at `sendBuffer` and grows back as Node hands bytes to the kernel
 *   (the emulation's ACK), each time with an onWritable.
 * - `read()` returns every unread byte; `read(n)` exactly n, throwing when n exceeds them.
 *   Unread bytes keep the receive window closed (Node stops reading past `recvWindow`).
 * - The peer's FIN and a reset are both reported by onError() without a reason, only once every
 *   unread byte was read; after FIN no onWritable comes any more.
 * - `close()`: lwIP tcp_close — queued bytes, then FIN; a reset if bytes were left unread; bytes
 *   arriving later are answered with a reset. No callback afterwards.
 * - `remoteAddress` after a reset faults on the device (the pcb is freed): here it throws.
 * - At most `maxSockets` active TCP connections (lwIP: 8 PCBs): a connect beyond throws
 *   "no socket", an accept beyond is reset.
 * - Listener and UDP bind synchronously on every interface and throw on failure; UDP write
 *   takes (address, port, bytes); a UDP socket cannot tell its port.
 * - `Time.ticks` is a signed 32-bit millisecond counter, started `tickOffset` before it wraps.
 *
 * `violations` lists every misuse the device would punish (a write over the send buffer, a
 * remote address read after a reset): a correct host leaves it empty.
 */
import * as net from "node:net";
import * as dgram from "node:dgram";
import { performance } from "node:perf_hooks";
import { emulatedTLS, type TLSEmulationOptions } from "./ecma419-tls.js";
import type {
  ModdablePlatform,
  PlatformBytes,
  PlatformDatagram,
  PlatformListener,
  PlatformListenerOptions,
  PlatformResolveRequest,
  PlatformResolver,
  PlatformTCP,
  PlatformTCPOptions,
  PlatformUDP,
  PlatformUDPOptions,
} from "../../hosts/moddable/platform.js";

export interface EmulationOptions {
  /** Free send buffer of an idle connection (lwIP TCP_SND_BUF). Default 8192. */
  sendBuffer?: number;
  /** Unread bytes past which no more is read from the kernel (the window). Default 8192. */
  recvWindow?: number;
  /** Active TCP connections at once (lwIP PCBs). Default 8. */
  maxSockets?: number;
  /** The DNS: names the resolver knows. */
  names?: Record<string, string>;
  /** Milliseconds before `Time.ticks` wraps at 2^32, at start. Default 3000. */
  tickOffset?: number;
  /** Moddable's TLS socket (ecma419-tls.ts); false: none (the host then has no TLS). */
  tls?: TLSEmulationOptions | false;
}

export interface Emulation extends ModdablePlatform {
  readonly violations: string[];
  readonly stats: { wouldBlock: number; maxWrite: number; writes: number; activeSockets: number; resolverServers: string[][] };
  /** Closes every socket and listener still open. */
  shutdown(): void;
}

const READABLE = 1;
const WRITABLE = 2;
const ERROR = 4;

function bytesOf(data: PlatformBytes): Uint8Array {
  return data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function ipv4(address: string | undefined): string | undefined {
  if (address === undefined) return undefined;
  return address.startsWith("::ffff:") ? address.slice(7) : address;
}

export function ecma419(options: EmulationOptions = {}): Emulation {
  const sendBuffer = options.sendBuffer ?? 8192;
  const recvWindow = options.recvWindow ?? 8192;
  const maxSockets = options.maxSockets ?? 8;
  const names = options.names ?? {};
  const tickStart = performance.now() - (2 ** 32 - (options.tickOffset ?? 3000));
  const violations: string[] = [];
  const stats = { wouldBlock: 0, maxWrite: 0, writes: 0, activeSockets: 0, resolverServers: [] as string[][] };
  const open = new Set<{ close(): void }>();

  /** A TCP pcb: one node socket, counted against maxSockets while it lives. */
  function track(socket: net.Socket): void {
    stats.activeSockets++;
    socket.once("close", () => stats.activeSockets--);
  }

  class EmuTCP implements PlatformTCP {
    #socket: net.Socket | undefined;
    /** The pcb is gone (reset or failed): reading remoteAddress would fault on lwIP. */
    #freed = false;
    #chunks: Buffer[] = [];
    #unread = 0;
    #paused = false;
    #unacked = 0;
    #ready = false;
    #error = false;
    /** FIN or reset arrived; reported once the unread bytes are read. */
    #gone = false;
    #finReceived = false;
    #closed = false;
    #triggered = 0;
    #callbacks: PlatformTCPOptions | undefined;
    #remote: { address: string; port: number } | undefined;
    /** The `target` option, as Moddable stores it: a property of the instance. */
    target: unknown;

    constructor(options?: PlatformTCPOptions, accepted?: net.Socket) {
      if (accepted) {
        // A connection from a listener, not adopted yet: no callbacks, reads nothing yet.
        this.#attach(accepted);
        this.#ready = true;
        return;
      }
      if (!options) throw new Error("no options");
      this.#callbacks = options;
      if ("target" in options) this.target = options.target;
      if ("from" in options) {
        const from = options.from as EmuTCP;
        from.#handOver(this);
        return;
      }
      if (!net.isIPv4(options.address)) throw new Error("invalid address");
      if (!(options.port >= 0 && options.port <= 65535)) throw new RangeError("invalid port");
      if (stats.activeSockets >= maxSockets) throw new RangeError("no socket");
      const socket = net.connect({ host: options.address, port: options.port, allowHalfOpen: true, noDelay: options.nodelay === true });
      this.#attach(socket);
      socket.once("connect", () => {
        if (this.#closed) return;
        this.#ready = true;
        this.#remote = { address: ipv4(socket.remoteAddress) ?? options.address, port: socket.remotePort ?? options.port };
        this.#trigger(WRITABLE);
      });
    }

    #attach(socket: net.Socket): void {
      this.#socket = socket;
      open.add(this);
      track(socket);
      socket.on("data", this.#onData);
      socket.on("end", this.#onEnd);
      socket.on("error", this.#onSocketError);
      socket.on("close", this.#onClose);
      if (socket.remoteAddress) this.#remote = { address: ipv4(socket.remoteAddress)!, port: socket.remotePort! };
    }

    /** new TCP({ from }): the accepted socket's state moves to `to`, and this one is closed. */
    #handOver(to: EmuTCP): void {
      if (this.#closed || !this.#socket) throw new Error("invalid from");
      const socket = this.#socket;
      to.#socket = socket;
      to.#chunks = this.#chunks;
      to.#unread = this.#unread;
      to.#ready = this.#ready;
      to.#remote = this.#remote;
      to.#gone = this.#gone;
      to.#freed = this.#freed;
      to.#finReceived = this.#finReceived;
      open.delete(this);
      open.add(to);
      socket.off("data", this.#onData).off("end", this.#onEnd).off("error", this.#onSocketError).off("close", this.#onClose);
      socket.on("data", to.#onData).on("end", to.#onEnd).on("error", to.#onSocketError).on("close", to.#onClose);
      this.#socket = undefined;
      this.#closed = true;
      socket.resume();
      let t = 0;
      if (to.#callbacks?.onWritable) t |= WRITABLE;
      if (to.#unread > 0) t |= READABLE;
      if (to.#gone) t |= ERROR;
      if (t) to.#trigger(t);
    }

    read(count?: number): ArrayBuffer | undefined {
      if (this.#closed) throw new Error("closed");
      if (this.#unread === 0) return undefined;
      const n = count === undefined ? this.#unread : count;
      if (!(n > 0) || n > this.#unread) throw new Error("invalid");
      const out = new Uint8Array(n);
      let at = 0;
      while (at < n) {
        const c = this.#chunks[0]!;
        const take = Math.min(c.length, n - at);
        out.set(c.subarray(0, take), at);
        at += take;
        if (take === c.length) this.#chunks.shift();
        else this.#chunks[0] = c.subarray(take);
      }
      this.#unread -= n;
      if (this.#paused && this.#unread <= recvWindow && this.#socket) {
        this.#paused = false;
        this.#socket.resume();
      }
      if (this.#unread === 0 && this.#gone) this.#trigger(ERROR);
      return out.buffer;
    }

    write(data: PlatformBytes): number | undefined {
      if (this.#closed) throw new Error("closed");
      if (!this.#ready) throw new Error("not ready");
      const socket = this.#socket;
      if (this.#error || this.#freed || !socket) return undefined;
      const bytes = bytesOf(data);
      const free = sendBuffer - this.#unacked;
      if (bytes.length > free) {
        stats.wouldBlock++;
        violations.push(`write of ${bytes.length} bytes with ${free} writable ("would block")`);
        throw new Error("would block");
      }
      stats.writes++;
      stats.maxWrite = Math.max(stats.maxWrite, bytes.length);
      this.#unacked += bytes.length;
      socket.write(Buffer.from(bytes), () => {
        this.#unacked -= bytes.length;
        if (!this.#finReceived) this.#trigger(WRITABLE); // tcpSent; removed after FIN
      });
      return sendBuffer - this.#unacked;
    }

    close(): void {
      if (this.#closed) return;
      this.#closed = true;
      this.#callbacks = undefined;
      open.delete(this);
      const socket = this.#socket;
      this.#socket = undefined;
      if (!socket || socket.destroyed) return;
      if (this.#unread > 0) {
        socket.resetAndDestroy(); // unread bytes: tcp_close sends RST
        return;
      }
      socket.removeAllListeners("data");
      socket.on("data", () => socket.resetAndDestroy()); // closed for receiving: RST
      socket.on("error", () => undefined);
      socket.end();
      setTimeout(() => socket.destroy(), 5000).unref();
    }

    get remoteAddress(): string | undefined {
      if (this.#freed) {
        violations.push("remoteAddress read after the connection was reset (faults on lwIP)");
        throw new Error("pcb freed");
      }
      return this.#remote?.address;
    }

    get remotePort(): number | undefined {
      if (this.#freed) {
        violations.push("remotePort read after the connection was reset (faults on lwIP)");
        throw new Error("pcb freed");
      }
      return this.#remote?.port;
    }

    #trigger(bits: number): void {
      if (this.#closed) return;
      const was = this.#triggered;
      this.#triggered |= bits;
      if (!was) setImmediate(this.#deliver);
    }

    /** tcpDeliver */
    #deliver = (): void => {
      const t = this.#triggered;
      this.#triggered = 0;
      const cb = this.#callbacks;
      if (this.#closed || !cb) return;
      if (t & ERROR) {
        this.#error = true;
        this.#ready = false;
      }
      if (t & READABLE && this.#unread > 0) {
        cb.onReadable?.call(this, this.#unread);
        if (this.#closed) return;
      }
      if (this.#unread > 0 && this.#error) return; // the error waits for the unread bytes
      if (!this.#error) {
        if (t & WRITABLE && this.#ready) cb.onWritable?.call(this, sendBuffer - this.#unacked);
      } else cb.onError?.call(this);
    };

    #onData = (chunk: Buffer): void => {
      if (this.#closed) return;
      this.#chunks.push(chunk);
      this.#unread += chunk.length;
      if (this.#unread > recvWindow && !this.#paused) {
        this.#paused = true;
        this.#socket?.pause();
      }
      this.#trigger(READABLE);
    };

    #onEnd = (): void => {
      this.#finReceived = true;
      this.#gone = true;
      this.#trigger(ERROR);
    };

    #onSocketError = (): void => {
      this.#freed = this.#ready; // a failed connect has no pcb to read either
      this.#gone = true;
      this.#trigger(ERROR);
    };

    #onClose = (hadError: boolean): void => {
      if (!hadError && !this.#finReceived && !this.#gone) this.#onSocketError();
    };
  }

  class EmuListener implements PlatformListener {
    #server: net.Server;
    #pending: EmuTCP[] = [];
    #closed = false;
    #triggered = false;
    #port: number;

    constructor(o: PlatformListenerOptions) {
      const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true });
      server.on("error", () => undefined); // a failed bind is reported by the throw below
      server.listen(o.port ?? 0); // every interface, as lwIP (address is ignored there too)
      const bound = server.address();
      if (bound === null || typeof bound !== "object") {
        server.close();
        throw new Error("socket bind");
      }
      this.#server = server;
      this.#port = bound.port;
      open.add(this);
      server.on("connection", (socket: net.Socket) => {
        if (this.#closed || stats.activeSockets >= maxSockets) {
          socket.resetAndDestroy();
          return;
        }
        this.#pending.push(new EmuTCP(undefined, socket));
        if (o.onReadable && !this.#triggered) {
          this.#triggered = true;
          setImmediate(() => {
            this.#triggered = false;
            if (!this.#closed && this.#pending.length) o.onReadable!(this.#pending.length);
          });
        }
      });
    }

    read(): PlatformTCP | undefined {
      return this.#pending.shift();
    }

    close(): void {
      if (this.#closed) return;
      this.#closed = true;
      open.delete(this);
      this.#server.close();
      for (const p of this.#pending) p.close();
      this.#pending = [];
    }

    get port(): number {
      return this.#port;
    }
  }

  class EmuUDP implements PlatformUDP {
    #socket: dgram.Socket;
    #queue: PlatformDatagram[] = [];
    #closed = false;
    #triggered = false;

    constructor(o: PlatformUDPOptions) {
      const port = o.port ?? 0;
      if (port !== 0 && boundUdpPorts.has(port)) throw new Error("bind failed");
      const socket = dgram.createSocket("udp4");
      this.#socket = socket;
      socket.on("error", (e) => violations.push(`UDP bind of port ${port} failed late: ${e.message}`));
      socket.bind(port);
      if (port) boundUdpPorts.add(port);
      socket.on("close", () => boundUdpPorts.delete(port));
      open.add(this);
      socket.on("message", (msg, rinfo) => {
        if (this.#closed) return;
        const data = new Uint8Array(msg).slice().buffer as PlatformDatagram;
        data.address = rinfo.address;
        data.port = rinfo.port;
        this.#queue.push(data);
        if (o.onReadable && !this.#triggered) {
          this.#triggered = true;
          setImmediate(() => {
            this.#triggered = false;
            if (!this.#closed && this.#queue.length) o.onReadable!(this.#queue.length);
          });
        }
      });
    }

    read(): PlatformDatagram | undefined {
      return this.#queue.shift();
    }

    write(data: PlatformBytes, address: string, port: number): void {
      // xs_udp_write: the buffer first ("invalid buffer" for anything else), then address and port
      if (!(data instanceof ArrayBuffer) && !ArrayBuffer.isView(data)) throw new TypeError("invalid buffer");
      if (typeof address !== "string" || !net.isIPv4(address)) throw new RangeError("invalid IP address");
      this.#socket.send(Buffer.from(bytesOf(data)), port, address);
    }

    close(): void {
      if (this.#closed) return;
      this.#closed = true;
      open.delete(this);
      this.#socket.close();
    }
  }

  class EmuResolver implements PlatformResolver {
    #timers = new Set<NodeJS.Timeout>();
    constructor(servers: string[]) {
      if (!servers.length) throw new Error("no DNS servers");
      stats.resolverServers.push(servers);
    }
    resolve(request: PlatformResolveRequest): void {
      const t = setTimeout(() => {
        this.#timers.delete(t);
        const address = names[request.host];
        if (address) request.onResolved(request.host, address);
        else request.onError(request.host);
      }, 5);
      this.#timers.add(t);
    }
    close(): void {
      for (const t of this.#timers) clearTimeout(t);
      this.#timers.clear();
    }
  }

  return {
    tcp: (o) => new EmuTCP(o),
    listener: (o) => new EmuListener(o),
    udp: (o) => new EmuUDP(o),
    resolver: (servers) => new EmuResolver(servers),
    tls: options.tls === false ? undefined : emulatedTLS(violations, options.tls),
    Timer: {
      set: (callback, ms = 0) => setTimeout(callback, ms),
      clear: (timer) => clearTimeout(timer as NodeJS.Timeout),
    },
    ticks: () => Math.floor(performance.now() - tickStart) | 0,
    dnsServers: () => ["10.0.0.53"],
    violations,
    stats,
    shutdown() {
      for (const s of [...open]) s.close();
    },
  };
}

/** UDP ports bound by emulated sockets in this process (lwIP would refuse a second bind). */
const boundUdpPorts = new Set<number>();
