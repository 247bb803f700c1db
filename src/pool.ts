/**
 * The worker pool: the seed's thread pool (`ba.thread`) for blocking-style jobs. At most `size`
 * jobs run at once; a running job keeps its slot while it awaits; further jobs wait in FIFO order,
 * at most `queue` of them (then `run` throws `busy`).
 */
import { SocketError } from "./errors.js";

export interface PoolOptions {
  size: number;
  queue: number;
}

interface Job {
  run: () => unknown;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

export class WorkerPool {
  readonly size: number;
  readonly maxQueued: number;
  #busy = 0;
  #waiting: Job[] = [];
  #done = 0;

  constructor(options: PoolOptions) {
    if (!(options.size >= 1)) throw new SocketError("incorrectuse", "a pool needs at least one slot");
    this.size = options.size;
    this.maxQueued = options.queue;
  }

  /**
   * Runs `job(...args)` in a slot of the pool; resolves with its result. Throws `busy` at once
   * (nothing is queued) when `queue` jobs are already waiting.
   */
  run<A extends unknown[], T>(job: (...args: A) => T | Promise<T>, ...args: A): Promise<T> {
    if (this.#busy >= this.size && this.#waiting.length >= this.maxQueued)
      throw new SocketError("busy", `worker pool queue full (${this.maxQueued} jobs waiting)`);
    return new Promise<T>((resolve, reject) => {
      const j: Job = { run: () => job(...args), resolve: resolve as (v: unknown) => void, reject };
      if (this.#busy < this.size) this.#start(j);
      else this.#waiting.push(j);
    });
  }

  #start(j: Job): void {
    this.#busy++;
    let p: Promise<unknown>;
    try {
      p = Promise.resolve(j.run());
    } catch (e) {
      p = Promise.reject(e);
    }
    p.then(j.resolve, j.reject).finally(() => {
      this.#busy--;
      this.#done++;
      const next = this.#waiting.shift();
      if (next) this.#start(next);
    });
  }

  stat(): { size: number; busy: number; queued: number; done: number } {
    return { size: this.size, busy: this.#busy, queued: this.#waiting.length, done: this.#done };
  }
}
