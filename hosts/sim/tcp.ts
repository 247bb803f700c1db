import type { Endpoint, HostErrorReason, TCP, TCPAdoptOptions, TCPCallbacks, TCPConnectOptions } from "../../src/host.js";
import { checkPort, isIPv4, LOOPBACK } from "./address.js";
import type { SimEvent } from "./clock.js";
import { Connection } from "./connection.js";
import type { SimCore } from "./core.js";
import type { SimHost } from "./host.js";
import { SimPending } from "./listener.js";

/** How long a connect to an address no host has takes to fail with "unreachable". */
export const UNREACHABLE_TIMEOUT = 3000;

export type TcpPhase = "connecting" | "open" | "closed" | "failed";

/**
 * One end of a simulated TCP connection (the object `Host.tcp` returns).
 * Callbacks are taken from the options at construction and always invoked
 * from events, never from inside a method call.
 */
export class SimTcp implements TCP {
  phase: TcpPhase = "connecting";
  /** end() was called: no more writes. */
  ended = false;
  conn: Connection | undefined;
  local: Endpoint | undefined;
  remote: Endpoint | undefined;
  /** Pending connect attempt and what frees its port if the attempt is abandoned. */
  connectEvent: SimEvent | undefined;
  abandon: (() => void) | undefined;
  /** Option values set with setOption (recorded only). */
  readonly options = { nodelay: false, keepalive: false, keepaliveIdle: 0, keepaliveInterval: 0 };

  private failure: HostErrorReason | undefined;
  private callbacks: {
    onReadable: TCPCallbacks["onReadable"] | undefined;
    onWritable: TCPCallbacks["onWritable"] | undefined;
    onEnd: TCPCallbacks["onEnd"] | undefined;
    onError: TCPCallbacks["onError"] | undefined;
    target: unknown;
  };

  constructor(
    private readonly core: SimCore,
    options: TCPCallbacks & { nodelay?: boolean },
  ) {
    this.callbacks = {
      onReadable: options.onReadable,
      onWritable: options.onWritable,
      onEnd: options.onEnd,
      onError: options.onError,
      target: options.target,
    };
    this.options.nodelay = options.nodelay === true;
  }

  /**
   * Without `max`: every unread byte (one array). With `max`: at most that
   * many. Undefined when nothing is unread (or the socket is not open).
   * The result is the caller's to keep.
   */
  read(max?: number): Uint8Array | undefined {
    if (this.phase !== "open" || this.conn === undefined || this.conn.dead) return undefined;
    return this.conn.read(this, max);
  }

  write(data: Uint8Array): number {
    const conn = this.usable("write");
    if (this.ended) throw new Error("write after end");
    return conn.write(this, data);
  }

  end(): void {
    if (this.phase === "closed" || this.phase === "failed") return;
    const conn = this.usable("end");
    if (this.ended) return;
    this.ended = true;
    conn.end(this);
  }

  close(): void {
    const phase = this.phase;
    if (phase === "closed") return;
    this.phase = "closed";
    if (phase === "connecting") {
      this.core.clock.cancel(this.connectEvent);
      this.connectEvent = undefined;
      this.abandon?.();
      this.abandon = undefined;
      return;
    }
    if (phase === "open") this.conn?.close(this);
  }

  /** Closes and resets the connection: the peer fails with "reset"; bytes in flight are lost. */
  reset(): void {
    if (this.phase !== "open") return this.close();
    this.phase = "closed"; // no FIN first: the peer must not read an orderly end
    this.conn?.reset();
  }

  setOption(name: "nodelay" | "keepalive", on: boolean, idleMs?: number, intervalMs?: number): boolean {
    if (name === "nodelay") {
      this.options.nodelay = on;
      return true;
    }
    if (name === "keepalive") {
      this.options.keepalive = on;
      this.options.keepaliveIdle = idleMs ?? 0;
      this.options.keepaliveInterval = intervalMs ?? 0;
      return true;
    }
    return false;
  }

  // ---- called by the connection, from events ----

  // The emit methods call the application's callback themselves (not through SimCore.invokeOn
  // and its rest arguments): the runtime's whole readiness chain (dispatcher, socket, parsers,
  // answers written back) runs on top of this frame, and on XS the device's stack is 384 slots.

  emitReadable(count: number): void {
    const cb = this.callbacks;
    const fn = cb.onReadable;
    if (!this.live() || typeof fn !== "function") return;
    try {
      fn.call(cb.target, count);
    } catch (error) {
      this.core.callbackFailed(error);
    }
  }

  emitWritable(count: number): void {
    const cb = this.callbacks;
    const fn = cb.onWritable;
    if (!this.live() || typeof fn !== "function") return;
    try {
      fn.call(cb.target, count);
    } catch (error) {
      this.core.callbackFailed(error);
    }
  }

  emitEnd(): void {
    if (this.live()) this.core.invokeOn(this.callbacks.target, this.callbacks.onEnd);
  }

  /** The socket is dead; onError once unless the application closed it first. */
  fail(reason: HostErrorReason): void {
    if (this.phase !== "open" && this.phase !== "connecting") return;
    this.phase = "failed";
    this.failure = reason;
    this.core.invokeOn(this.callbacks.target, this.callbacks.onError, reason);
  }

  /** @internal From now on this socket reports to `callbacks` only (handover.ts `takeOver`). */
  retarget(callbacks: TCPCallbacks): void {
    this.callbacks = {
      onReadable: callbacks.onReadable,
      onWritable: callbacks.onWritable,
      onEnd: callbacks.onEnd,
      onError: callbacks.onError,
      target: callbacks.target,
    };
  }

  private live(): boolean {
    return this.phase === "open" && this.conn !== undefined && !this.conn.dead;
  }

  private usable(what: string): Connection {
    switch (this.phase) {
      case "connecting":
        throw new Error("not connected");
      case "closed":
        throw new Error(`${what} on a closed socket`);
      case "failed":
        throw new Error(`${what} on a failed socket (${this.failure ?? "error"})`);
    }
    const conn = this.conn as Connection;
    if (conn.dead) throw new Error(`${what} on a reset connection`);
    return conn;
  }
}

/** `Host.tcp({ address, port })` on `host`. */
export function connect(host: SimHost, options: TCPConnectOptions): SimTcp {
  const core = host.core;
  const { address, port } = options;
  if (typeof address !== "string" || !isIPv4(address)) {
    throw new TypeError(`tcp: address must be a numeric IPv4 address, got ${String(address)}`);
  }
  checkPort(port, false);
  const end = new SimTcp(core, options);
  const loopback = address === LOOPBACK;
  const target = loopback ? host : core.hosts.get(address);
  const localPort = host.tcpPorts.ephemeral();
  const release = (): void => host.tcpPorts.release(localPort);
  end.local = { address: loopback ? LOOPBACK : host.address, port: localPort };
  end.remote = { address, port };
  end.abandon = release;

  if (target === undefined) {
    end.connectEvent = core.clock.after(UNREACHABLE_TIMEOUT, () => {
      end.connectEvent = undefined;
      end.abandon = undefined;
      release();
      end.fail("unreachable");
    });
    return end;
  }

  const link = core.link(host.address, target.address);
  end.connectEvent = core.clock.after(2 * link.latency, () => {
    end.connectEvent = undefined;
    end.abandon = undefined;
    const listener = target.findListener(address, port);
    if (listener === undefined) {
      release();
      end.fail("refused");
      return;
    }
    const sizes = core.link(host.address, target.address);
    const conn = new Connection(core, end, host.address, target.address, sizes, release);
    end.conn = conn;
    end.phase = "open";
    core.connectionOpened(conn);
    listener.enqueue(conn);
    conn.connected();
  });
  return end;
}

/** `Host.tcp({ from })` on `host`: wraps a pending connection from one of its listeners. */
export function adopt(host: SimHost, options: TCPAdoptOptions): SimTcp {
  const pending = options.from;
  if (!(pending instanceof SimPending)) throw new TypeError("tcp: `from` is not a pending connection of this host");
  if (pending.listener.host !== host) throw new Error("tcp: `from` belongs to another host");
  if (pending.adopted) throw new Error("tcp: this pending connection was already adopted");
  pending.adopted = true;
  pending.listener.forget(pending);
  const conn = pending.conn;
  const end = new SimTcp(host.core, options);
  end.conn = conn;
  end.local = { ...conn.server };
  end.remote = { ...conn.client };
  end.phase = "open";
  conn.adopt(end);
  return end;
}
