/**
 * A rate limit for log lines: at most `limit` lines per `interval` ms are passed on; the rest are
 * counted, and one summary line says how many were suppressed when their interval ends. A flood
 * of bad connections therefore costs at most `limit` + 1 lines per interval, and nothing is lost
 * silently: the summary names the count.
 */
import type { Runtime } from "../cosock.js";

export class LogLimiter {
  #count = 0;
  #suppressed = 0;
  #windowEnd = 0;
  #cancel: (() => void) | undefined;

  constructor(
    private readonly rt: Runtime,
    private readonly out: (message: string) => void,
    private readonly limit: number,
    private readonly interval: number,
    private readonly what: string,
  ) {}

  /** Log lines suppressed so far (all intervals). */
  total = 0;

  /** Passes `message` on, or counts it when `limit` lines were passed on in this interval. */
  log = (message: string): void => {
    if (!(this.limit > 0 && this.interval > 0)) return this.out(message); // no limit
    const now = this.rt.host.now();
    if (now >= this.#windowEnd && this.#suppressed === 0) {
      this.#windowEnd = now + this.interval;
      this.#count = 0;
    }
    if (this.#count < this.limit) {
      this.#count++;
      this.out(message);
      return;
    }
    this.total++;
    if (this.#suppressed++ === 0) this.#cancel = this.rt.dispatcher.timer(Math.max(1, this.#windowEnd - now), () => this.flush());
  };

  /** Writes the summary of the lines suppressed so far (at the end of their interval, or at close). */
  flush(): void {
    this.#cancel?.();
    this.#cancel = undefined;
    const k = this.#suppressed;
    if (k === 0) return;
    this.#suppressed = 0;
    this.#windowEnd = 0; // a new interval starts with the next line
    this.out(`${this.what}: ${k} more log line${k === 1 ? "" : "s"} suppressed (at most ${this.limit} per ${this.interval} ms)`);
  }
}
