/**
 * What a server process under test reports about itself: CPU time and memory during a
 * measurement window (sampled), and memory at rest after forced collections (for idle
 * connections; needs `--expose-gc`).
 */
import { setTimeout as sleep } from "node:timers/promises";

export interface WindowReport {
  /** User + system CPU time of the process during the window, ms. */
  cpuMs: number;
  wallMs: number;
  /** Resident set size: highest and mean sample, bytes. */
  rssPeak: number;
  rssMean: number;
  /** V8 heap used: highest and mean sample, bytes. */
  heapPeak: number;
  heapMean: number;
  /** ArrayBuffer memory (Buffers, Uint8Arrays) outside the V8 heap: highest sample, bytes. */
  buffersPeak: number;
  samples: number;
}

export class WindowSampler {
  #timer: NodeJS.Timeout | undefined;
  #cpu = process.cpuUsage();
  #t0 = 0;
  #n = 0;
  #rssPeak = 0;
  #rssSum = 0;
  #heapPeak = 0;
  #heapSum = 0;
  #buffersPeak = 0;
  /** Extra probe called with each sample (a writer's queue length, …). */
  probe: (() => void) | undefined;

  constructor(readonly intervalMs = 50) {}

  start(): void {
    this.stopTimer();
    this.#cpu = process.cpuUsage();
    this.#t0 = performance.now();
    this.#n = this.#rssPeak = this.#rssSum = this.#heapPeak = this.#heapSum = this.#buffersPeak = 0;
    this.#sample();
    this.#timer = setInterval(this.#sample, this.intervalMs);
  }

  stop(): WindowReport {
    this.#sample();
    this.stopTimer();
    const cpu = process.cpuUsage(this.#cpu);
    const n = Math.max(1, this.#n);
    return {
      cpuMs: (cpu.user + cpu.system) / 1000,
      wallMs: performance.now() - this.#t0,
      rssPeak: this.#rssPeak,
      rssMean: this.#rssSum / n,
      heapPeak: this.#heapPeak,
      heapMean: this.#heapSum / n,
      buffersPeak: this.#buffersPeak,
      samples: this.#n,
    };
  }

  stopTimer(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #sample = (): void => {
    const m = process.memoryUsage();
    this.#n++;
    this.#rssSum += m.rss;
    this.#heapSum += m.heapUsed;
    if (m.rss > this.#rssPeak) this.#rssPeak = m.rss;
    if (m.heapUsed > this.#heapPeak) this.#heapPeak = m.heapUsed;
    if (m.arrayBuffers > this.#buffersPeak) this.#buffersPeak = m.arrayBuffers;
    this.probe?.();
  };
}

export interface RestingMemory {
  rss: number;
  heapUsed: number;
  /** V8 heap committed (used or not): what the heap costs in RSS. */
  heapTotal: number;
  external: number;
  arrayBuffers: number;
}

/** Memory after full collections (a few, with pauses, so finalizers and weak callbacks run). */
export async function restingMemory(): Promise<RestingMemory> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("start the process with --expose-gc");
  for (let i = 0; i < 4; i++) {
    gc();
    await sleep(20);
  }
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers };
}
