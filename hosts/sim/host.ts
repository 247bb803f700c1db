import type {
  Host,
  Listener,
  ListenerOptions,
  TCP,
  TCPAdoptOptions,
  TCPConnectOptions,
  Timer,
  UDP,
  UDPOptions,
  Datagram,
  HostTLS,
} from "../../src/host.js";
import { ANY, isIPv4, LOOPBACK } from "./address.js";
import type { SimEvent } from "./clock.js";
import type { SimCore } from "./core.js";
import { SimListener } from "./listener.js";
import { PortTable } from "./ports.js";
import { adopt, connect } from "./tcp.js";
import { SimUdp } from "./udp.js";
import { relayed } from "./handover.js";
import { TLSStandIn } from "./tls-standin.js";

/** `wallClock()` is this epoch plus virtual time (unless the network was given another). */
export const DEFAULT_EPOCH = 1_700_000_000_000;

class SimTimer implements Timer {
  readonly __timer = true as const;
  constructor(readonly event: SimEvent) {}
}

/**
 * A host on the simulated network, bound to one numeric address. Everything
 * it reports happens in events on the network's virtual clock.
 */
export class SimHost implements Host {
  readonly name = "sim";
  readonly address: string;

  /** @internal */ readonly core: SimCore;
  /** @internal */ readonly tcpPorts = new PortTable();
  /** @internal */ readonly udpPorts = new PortTable();
  /** @internal */ readonly listeners = new Map<number, SimListener>();
  /** @internal */ readonly udpSockets = new Map<number, SimUdp>();
  private readonly epoch: number;
  /** TLS: a stand-in without cryptography (tls-standin.ts); both ends must be sim hosts. */
  readonly tls: HostTLS;

  /** @internal Use `SimNetwork.host(address)`. */
  constructor(core: SimCore, address: string, epoch: number) {
    this.core = core;
    this.address = address;
    this.epoch = epoch;
    this.tls = new TLSStandIn(this);
  }

  tcp(options: TCPConnectOptions | TCPAdoptOptions): TCP {
    // relayed: a connection can be handed over (STARTTLS, see handover.ts)
    return relayed(options, (o) => ("from" in o ? adopt(this, o) : connect(this, o)));
  }

  listener(options: ListenerOptions): Listener {
    return new SimListener(this, options);
  }

  udp(options: UDPOptions): UDP {
    return new SimUdp(this, options);
  }

  now(): number {
    return this.core.clock.now;
  }

  wallClock(): number {
    return this.epoch + this.core.clock.now;
  }

  setTimer(fn: () => void, ms: number): Timer {
    const core = this.core;
    return new SimTimer(core.clock.after(ms, () => core.invoke(fn)));
  }

  clearTimer(timer: Timer): void {
    if (timer instanceof SimTimer) this.core.clock.cancel(timer.event);
  }

  defer(fn: () => void): void {
    const core = this.core;
    core.clock.at(core.clock.now, () => core.invoke(fn));
  }

  randomBytes(n: number): Uint8Array {
    return this.core.entropy.bytes(n);
  }

  /**
   * Numeric addresses resolve at once; names (the network's `dns` table, plus
   * "localhost" → this host's address) after the default link's latency;
   * unknown names reject with an Error after the same delay.
   */
  resolve(name: string): Promise<string> {
    if (isIPv4(name)) return Promise.resolve(name);
    const core = this.core;
    const key = String(name).toLowerCase();
    const address = key === "localhost" ? this.address : core.names.get(key);
    return new Promise((resolve, reject) => {
      core.clock.after(core.defaultLink.latency, () => {
        if (address !== undefined) resolve(address);
        else reject(new Error(`cannot resolve "${name}"`));
      });
    });
  }

  // ---- internal ----

  /** Whether a socket on this host may bind `address`. */
  owns(address: string): boolean {
    return address === ANY || address === LOOPBACK || address === this.address;
  }

  /** The listener taking connections dialled to `address`:`port`, if any. */
  findListener(address: string, port: number): SimListener | undefined {
    const listener = this.listeners.get(port);
    return listener !== undefined && listener.accepts(address) ? listener : undefined;
  }

  /** A datagram sent to `address`:`port` on this host arrives (from an event). */
  deliverDatagram(address: string, port: number, datagram: Datagram): void {
    const socket = this.udpSockets.get(port);
    if (socket === undefined || !socket.accepts(address)) {
      this.core.counters.droppedDatagrams++;
      return;
    }
    socket.deliver(datagram);
  }
}
