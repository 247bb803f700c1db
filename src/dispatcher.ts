/**
 * The select-style dispatcher: one per runtime. Host readiness callbacks mark a socket ready;
 * the dispatcher services ready sockets in FIFO order, at most `turnBudget` per turn, and defers
 * the rest to a later turn (after the host's pending I/O) so that one busy socket cannot starve
 * the others. Servicing a socket resumes its waiting coroutines (FIFO within the socket).
 * It also owns the timers (read timeouts, sleeps, connect and linger timeouts).
 */
import type { Host, Timer } from "./host.js";
import { Queue } from "./base/queue.js";

export interface Serviced {
  /** True while queued for service (managed by the dispatcher). */
  inReadyQueue: boolean;
  service(): void;
}

export class Dispatcher {
  readonly host: Host;
  readonly #queue = new Queue<Serviced>();
  #running = false;
  #deferred = false;
  #timers = 0;
  #turns = 0;
  #deferredTurns = 0;
  #budget: number;
  #log: (m: string) => void;

  constructor(host: Host, turnBudget: number, log: (m: string) => void) {
    this.host = host;
    this.#budget = turnBudget;
    this.#log = log;
  }

  /** Marks `s` ready; services it now unless a turn is running or deferred already. */
  ready(s: Serviced): void {
    if (s.inReadyQueue) return;
    s.inReadyQueue = true;
    this.#queue.push(s);
    if (!this.#running && !this.#deferred) this.#turn();
  }

  #turn = (): void => {
    this.#deferred = false;
    this.#running = true;
    this.#turns++;
    let budget = this.#budget;
    const q = this.#queue;
    try {
      let s: Serviced | undefined;
      while (budget-- > 0 && (s = q.shift())) {
        s.inReadyQueue = false;
        try {
          s.service();
        } catch (e) {
          this.#log(`cosock: socket service failed: ${(e as Error)?.stack ?? e}`);
        }
      }
    } finally {
      this.#running = false;
    }
    if (q.length > 0) {
      this.#deferred = true;
      this.#deferredTurns++;
      this.host.defer(this.#turn);
    }
  };

  /** Runs `fn` after `ms`; returns a cancel function. */
  timer(ms: number, fn: () => void): () => void {
    this.#timers++;
    let t: Timer | undefined = this.host.setTimer(
      () => {
        t = undefined;
        this.#timers--;
        fn();
      },
      Math.max(0, ms),
    );
    return () => {
      if (t === undefined) return;
      this.host.clearTimer(t);
      t = undefined;
      this.#timers--;
    };
  }

  get pendingTimers(): number {
    return this.#timers;
  }

  get turns(): number {
    return this.#turns;
  }

  /** Turns that left ready sockets for a later turn (the budget ran out). */
  get deferredTurns(): number {
    return this.#deferredTurns;
  }

  get queued(): number {
    return this.#queue.length;
  }
}
