import { isIPv4 } from "./address.js";
import type { SimConnection } from "./connection.js";
import { SimCore } from "./core.js";
import type { SimHooks } from "./core.js";
import { DEFAULT_EPOCH, SimHost } from "./host.js";
import type { LinkOptions } from "./link.js";
import { findMacrotask } from "./macrotask.js";

export interface SimNetworkOptions {
  /** PRNG seed (default 1): the same seed and the same program give identical runs. */
  seed?: number;
  /** Options for every pair of addresses not given to `link()`. */
  link?: LinkOptions;
  /** `wallClock()` at virtual time 0 (default 1_700_000_000_000). */
  epoch?: number;
  /** Where exceptions thrown by application callbacks go (see `SimNetwork.onCallbackError`). */
  onCallbackError?: (error: unknown) => void;
}

export interface SimStats {
  /** TCP data segments transmitted (FINs not counted). */
  segments: number;
  /** TCP segments that were lost once and arrived `rto` later. */
  lostSegments: number;
  /** UDP datagrams written. */
  datagrams: number;
  /** UDP copies lost: link loss, unknown host, unbound port, full receive queue. */
  droppedDatagrams: number;
  /** UDP extra copies created by `duplicate`. */
  duplicatedDatagrams: number;
  /** Events run so far. */
  events: number;
}

/**
 * A deterministic in-memory network on a virtual clock. Events run one per
 * real macrotask whenever any are pending, so tests just await and virtual
 * time flies.
 */
export class SimNetwork implements SimHooks {
  /** Called (from the connect event) when a TCP connection is established. */
  onConnection?: (c: SimConnection) => void;
  /**
   * Receives every exception thrown by an application callback (onReadable,
   * timers, …). Unset: the exception is rethrown from a fresh macrotask, i.e.
   * it becomes an uncaught exception as on a real host. Either way the
   * simulator's state is unaffected.
   */
  onCallbackError?: (error: unknown) => void;

  private readonly core: SimCore;
  private readonly epoch: number;

  constructor(options: SimNetworkOptions = {}) {
    this.core = new SimCore(this, options.seed ?? 1, options.link, findMacrotask());
    this.epoch = options.epoch ?? DEFAULT_EPOCH;
    if (options.onCallbackError !== undefined) this.onCallbackError = options.onCallbackError;
  }

  /** The host bound to `address` (created on first use; the same address gives the same host). */
  host(address: string): SimHost {
    let host = this.core.hosts.get(address);
    if (host === undefined) {
      if (!isIPv4(address) || address.startsWith("127.") || address === "0.0.0.0" || address === "255.255.255.255") {
        throw new TypeError(`SimNetwork.host: ${String(address)} is not a usable host address`);
      }
      host = new SimHost(this.core, address, this.epoch);
      this.core.hosts.set(address, host);
    }
    return host;
  }

  /**
   * Options for traffic between two addresses, both directions (a host talking
   * to itself: `link(a, a)`). Replaces earlier options for the pair; unset fields
   * come from the network's default link. Delays and faults apply to segments
   * and datagrams sent from now on; buffer sizes (sendBuffer, recvWindow, mss)
   * are fixed when a connection is established.
   */
  link(a: string, b: string, options: LinkOptions): void {
    this.core.setLink(a, b, options);
  }

  /** Adds a name `SimHost.resolve` knows. */
  dns(name: string, address: string): void {
    if (!isIPv4(address)) throw new TypeError(`SimNetwork.dns: ${String(address)} is not a numeric address`);
    this.core.names.set(name.toLowerCase(), address);
  }

  /** Virtual milliseconds. */
  get now(): number {
    return this.core.clock.now;
  }

  /**
   * Resolves when virtual time reaches now + ms, after every event due before
   * then (and those due at that time scheduled before this call) has run.
   */
  advance(ms: number): Promise<void> {
    const clock = this.core.clock;
    return new Promise((resolve) => {
      clock.after(ms, resolve);
    });
  }

  /** Resolves when no event remains pending — timers count, so a periodic timer keeps it waiting. */
  idle(): Promise<void> {
    return this.core.clock.idle();
  }

  /** Established TCP connections not yet finished, in creation order. */
  connections(): SimConnection[] {
    return this.core.connections.slice();
  }

  stats(): SimStats {
    return { ...this.core.counters, events: this.core.clock.processed };
  }
}
