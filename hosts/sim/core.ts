import { Clock } from "./clock.js";
import type { Connection, SimConnection } from "./connection.js";
import type { SimHost } from "./host.js";
import { LINK_DEFAULTS, mergeLink, Wire } from "./link.js";
import type { Link, LinkOptions } from "./link.js";
import type { Macrotask } from "./macrotask.js";
import { Random } from "./random.js";

/** The application hooks a network owner may set. */
export interface SimHooks {
  onConnection?: ((c: SimConnection) => void) | undefined;
  onCallbackError?: ((error: unknown) => void) | undefined;
}

export interface Counters {
  segments: number;
  lostSegments: number;
  datagrams: number;
  droppedDatagrams: number;
  duplicatedDatagrams: number;
}

/**
 * The shared state of one simulated network: clock, random sources, links,
 * hosts, live connections and counters. Internal; `SimNetwork` is the face.
 */
export class SimCore {
  readonly clock: Clock;
  /** Draws for faults and delays (loss, jitter, duplication, reordering). */
  readonly faults: Random;
  /** Draws for `Host.randomBytes`, separate so that application use does not shift faults. */
  readonly entropy: Random;
  readonly counters: Counters = {
    segments: 0,
    lostSegments: 0,
    datagrams: 0,
    droppedDatagrams: 0,
    duplicatedDatagrams: 0,
  };
  readonly hosts = new Map<string, SimHost>();
  readonly names = new Map<string, string>();
  readonly connections: Connection[] = [];
  readonly defaultLink: Link;

  private readonly links = new Map<string, Link>();
  private readonly wires = new Map<string, Wire>();

  constructor(
    private readonly hooks: SimHooks,
    seed: number,
    link: LinkOptions | undefined,
    private readonly macrotask: Macrotask,
  ) {
    this.clock = new Clock(macrotask);
    this.faults = new Random(seed);
    this.entropy = new Random((seed ^ 0x5bd1e995) >>> 0);
    this.defaultLink = mergeLink(LINK_DEFAULTS, link);
  }

  setLink(a: string, b: string, options: LinkOptions): void {
    this.links.set(pairKey(a, b), mergeLink(this.defaultLink, options));
  }

  /** The options in force between two host addresses (either order). */
  link(a: string, b: string): Link {
    return this.links.get(pairKey(a, b)) ?? this.defaultLink;
  }

  /** The wire from one host address to another (one per direction, shared by all traffic). */
  wire(from: string, to: string): Wire {
    const key = `${from}>${to}`;
    let wire = this.wires.get(key);
    if (wire === undefined) {
      wire = new Wire();
      this.wires.set(key, wire);
    }
    return wire;
  }

  /**
   * Calls an application callback. An exception it throws does not unwind
   * into the simulator: it goes to `onCallbackError` when set, otherwise it is
   * rethrown from a fresh macrotask (an uncaught exception, as on a real host).
   */
  invoke<A extends unknown[]>(fn: ((...args: A) => void) | undefined, ...args: A): void {
    this.invokeOn(undefined, fn, ...args);
  }

  /** `invoke` with `target` as the callback's `this` (the seam's `target` option). */
  invokeOn<A extends unknown[]>(target: unknown, fn: ((...args: A) => void) | undefined, ...args: A): void {
    if (typeof fn !== "function") return;
    try {
      fn.apply(target, args);
    } catch (error) {
      this.callbackFailed(error);
    }
  }

  connectionOpened(c: Connection): void {
    this.connections.push(c);
    this.invoke(this.hooks.onConnection, c);
  }

  connectionFinished(c: Connection): void {
    const i = this.connections.indexOf(c);
    if (i >= 0) this.connections.splice(i, 1);
  }

  /** @internal An application callback threw `error` (see `invoke`). */
  callbackFailed(error: unknown): void {
    const handler = this.hooks.onCallbackError;
    if (typeof handler === "function") {
      try {
        handler(error);
        return;
      } catch (again) {
        error = again;
      }
    }
    this.macrotask(() => {
      throw error;
    });
  }
}

function pairKey(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}
