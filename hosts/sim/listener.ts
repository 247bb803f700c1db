import type { Listener, ListenerOptions, PendingConnection } from "../../src/host.js";
import { ANY, checkPort } from "./address.js";
import type { Connection } from "./connection.js";
import type { SimHost } from "./host.js";

/** An accepted connection waiting to be adopted with `Host.tcp({ from })`. */
export class SimPending implements PendingConnection {
  readonly __pending = true as const;
  adopted = false;

  constructor(
    readonly conn: Connection,
    readonly listener: SimListener,
  ) {}
}

type ListenerState = "binding" | "ready" | "failed" | "closed";

/**
 * A TCP listener bound to a port of one host. Binding is decided at once
 * (`port` is valid right after construction) and reported by an event:
 * onReady(), or onError("addrinuse") when the host already uses the port.
 */
export class SimListener implements Listener {
  readonly address: string;
  port: number;

  private state: ListenerState = "binding";
  private queue: SimPending[] = [];

  constructor(
    readonly host: SimHost,
    private readonly options: ListenerOptions,
  ) {
    const core = host.core;
    checkPort(options.port, true);
    this.address = options.address ?? ANY;
    this.port = options.port;
    let problem: string | undefined;
    if (!host.owns(this.address)) problem = "addrnotavail";
    else if (this.port !== 0 && host.tcpPorts.has(this.port)) problem = "addrinuse";
    if (problem === undefined) {
      if (this.port === 0) this.port = host.tcpPorts.ephemeral();
      else host.tcpPorts.take(this.port);
      host.listeners.set(this.port, this);
    }
    core.clock.at(core.clock.now, () => {
      if (this.state !== "binding") return;
      if (problem !== undefined) {
        this.state = "failed";
        core.invoke(this.options.onError, problem);
      } else {
        this.state = "ready";
        core.invoke(this.options.onReady);
      }
    });
  }

  /** Accepts connections to `address`:`port` (the address the client dialled). */
  accepts(address: string): boolean {
    return (this.state === "binding" || this.state === "ready") && (this.address === ANY || this.address === address);
  }

  read(): PendingConnection | undefined {
    for (;;) {
      const next = this.queue.shift();
      if (next === undefined) return undefined;
      if (!next.conn.dead) return next;
    }
  }

  /** Stops accepting; connections waiting in the queue are reset. */
  close(): void {
    if (this.state === "closed") return;
    const wasBound = this.host.listeners.get(this.port) === this;
    this.state = "closed";
    if (wasBound) {
      this.host.listeners.delete(this.port);
      this.host.tcpPorts.release(this.port);
    }
    const queue = this.queue;
    this.queue = [];
    for (const pending of queue) pending.conn.reset();
  }

  /** A connection completed its handshake: it waits here; onReadable(pending). */
  enqueue(conn: Connection): void {
    this.queue = this.queue.filter((p) => !p.conn.dead);
    this.queue.push(new SimPending(conn, this));
    this.host.core.invoke(this.options.onReadable, this.queue.length);
  }

  /** The pending connection was adopted without going through read(). */
  forget(pending: SimPending): void {
    const i = this.queue.indexOf(pending);
    if (i >= 0) this.queue.splice(i, 1);
  }
}
