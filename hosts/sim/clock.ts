import type { Macrotask } from "./macrotask.js";

/** One scheduled thing: a segment arrival, a timer, a deferred function, … */
export interface SimEvent {
  readonly time: number;
  readonly seq: number;
  /** Cleared when the event runs or is cancelled. */
  fn: (() => void) | undefined;
}

function before(a: SimEvent, b: SimEvent): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}

/**
 * The virtual clock and its event queue, ordered by (time, sequence number).
 *
 * Auto-advance: whenever events are pending, one macrotask is scheduled; it
 * runs exactly one event (virtual time jumps to that event's time) and then
 * schedules the next macrotask. Never more than one macrotask is pending.
 */
export class Clock {
  /** Virtual milliseconds. */
  now = 0;
  /** Events run so far. */
  processed = 0;

  private readonly heap: SimEvent[] = [];
  private seq = 0;
  private live = 0;
  private cancelled = 0;
  private stepping = false;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly macrotask: Macrotask) {}

  /** Events waiting to run (cancelled ones excluded). */
  get pending(): number {
    return this.live;
  }

  /**
   * Schedules `fn` at virtual time `time` (never earlier than now). One frame down to the engine's
   * macrotask call (the heap insertion and the wake-up are written out here, not called): a timer
   * set from deep inside a coroutine's first synchronous stretch sits on top of everything below
   * it, and on XS the device's stack is 384 slots (docs/device.md, "As strict as the device").
   */
  at(time: number, fn: () => void): SimEvent {
    const event: SimEvent = { time: time > this.now ? time : this.now, seq: this.seq++, fn };
    // push: sift up from the end of the heap
    const heap = this.heap;
    let i = heap.length;
    heap.push(event);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent] as SimEvent;
      if (event.time > p.time || (event.time === p.time && event.seq > p.seq)) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = event;
    this.live++;
    // wake
    if (!this.stepping) {
      this.stepping = true;
      const macrotask = this.macrotask;
      macrotask(this.step);
    }
    return event;
  }

  /** Schedules `fn` `ms` virtual milliseconds from now (NaN and negatives count as 0). */
  after(ms: number, fn: () => void): SimEvent {
    return this.at(this.now + (ms > 0 ? ms : 0), fn);
  }

  cancel(event: SimEvent | undefined): void {
    if (event === undefined || event.fn === undefined) return;
    event.fn = undefined;
    this.live--;
    this.cancelled++;
    if (this.cancelled > 1024 && this.cancelled > this.live) this.compact();
  }

  /** Resolves at the first step that finds no event pending. */
  idle(): Promise<void> {
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve);
      this.wake();
    });
  }

  private wake(): void {
    if (this.stepping) return;
    this.stepping = true;
    const macrotask = this.macrotask;
    macrotask(this.step);
  }

  private readonly step = (): void => {
    this.stepping = false;
    const event = this.pop();
    if (event === undefined) {
      this.idled();
      return;
    }
    const fn = event.fn as () => void;
    event.fn = undefined;
    this.live--;
    this.now = event.time;
    this.processed++;
    if (this.live > 0 || this.idleWaiters.length > 0) this.wake();
    fn();
  };

  /** The queue ran dry: resolves `idle()`. (Not in `step`: every event runs on step's frame.) */
  private idled(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private pop(): SimEvent | undefined {
    while (this.heap.length > 0) {
      const top = this.heap[0] as SimEvent;
      const last = this.heap.pop() as SimEvent;
      if (this.heap.length > 0) {
        this.heap[0] = last;
        this.down(0);
      }
      if (top.fn !== undefined) return top;
      this.cancelled--;
    }
    return undefined;
  }

  private push(event: SimEvent): void {
    const heap = this.heap;
    let i = heap.length;
    heap.push(event);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(event, heap[parent] as SimEvent)) break;
      heap[i] = heap[parent] as SimEvent;
      i = parent;
    }
    heap[i] = event;
  }

  private down(i: number): void {
    const heap = this.heap;
    const n = heap.length;
    const item = heap[i] as SimEvent;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && before(heap[child + 1] as SimEvent, heap[child] as SimEvent)) child++;
      if (!before(heap[child] as SimEvent, item)) break;
      heap[i] = heap[child] as SimEvent;
      i = child;
    }
    heap[i] = item;
  }

  /** Drops cancelled events from the heap (they are otherwise removed lazily). */
  private compact(): void {
    const keep = this.heap.filter((e) => e.fn !== undefined);
    this.heap.length = 0;
    this.cancelled = 0;
    for (const e of keep) this.push(e);
  }
}
