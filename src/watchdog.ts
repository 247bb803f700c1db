/**
 * Idle timeouts and keepalives (the WebSocket's): one timer per runtime for all the connections
 * it watches, not one per connection, ticking every `period` ms while any is watched. Each tick
 * asks every watched connection to check itself; one that answers false (closing or closed)
 * leaves the watch, and the timer stops with the last one.
 */
import type { Dispatcher } from "./dispatcher.js";
import type { Host } from "./host.js";

/** What the watchdog asks of a connection. */
export interface Watched {
  /** Checks idleness and keepalive at `now`; false: the connection leaves the watch. */
  watchTick(now: number): boolean;
}

/** The longest tick: a closed connection leaves the watch (and its timer stops) within this. */
const MAX_PERIOD = 1000;

export class Watchdog {
  readonly #host: Host;
  readonly #dispatcher: Dispatcher;
  readonly #watched = new Set<Watched>();
  #period = MAX_PERIOD;
  #cancel: (() => void) | undefined;

  constructor(host: Host, dispatcher: Dispatcher) {
    this.#host = host;
    this.#dispatcher = dispatcher;
  }

  /** Connections watched now. */
  get size(): number {
    return this.#watched.size;
  }

  /** Watches `w`; `interval` is its shortest timeout (the tick is at most half of it). */
  watch(w: Watched, interval: number): void {
    this.#watched.add(w);
    const period = Math.max(1, Math.min(MAX_PERIOD, Math.floor(interval / 2)));
    if (period < this.#period) {
      this.#period = period;
      this.#stop();
    }
    if (!this.#cancel) this.#arm();
  }

  /** Stops watching `w`; the timer stops with the last one. */
  unwatch(w: Watched): void {
    if (this.#watched.delete(w) && this.#watched.size === 0) this.#stop();
  }

  #stop(): void {
    this.#cancel?.();
    this.#cancel = undefined;
    if (this.#watched.size === 0) this.#period = MAX_PERIOD;
  }

  #arm(): void {
    this.#cancel = this.#dispatcher.timer(this.#period, () => {
      this.#cancel = undefined;
      const now = this.#host.now();
      for (const w of this.#watched) if (!w.watchTick(now)) this.#watched.delete(w);
      if (this.#watched.size > 0) this.#arm();
      else this.#period = MAX_PERIOD;
    });
  }
}
