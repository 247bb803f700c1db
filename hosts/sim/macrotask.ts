/**
 * How the simulator yields to the host engine between two events: a real
 * macrotask, so that every microtask started by the previous event (promise
 * continuations of the code that reacted to it) has run before the next one.
 *
 * Uses `globalThis.setImmediate` when present (Node), else `globalThis.setTimeout`
 * (browsers, most XS hosts), else a chain of `PROMISE_HOPS` resolved promises:
 * in that last case application promise chains deeper than that may still be
 * running when the next event is processed.
 */
export type Macrotask = (fn: () => void) => void;

/** Promise hops per step when no timer function exists at all. */
export const PROMISE_HOPS = 64;

interface TimerGlobals {
  setImmediate?: (fn: () => void) => unknown;
  setTimeout?: (fn: () => void, ms: number) => unknown;
}

function noop(): void {}

/** Picks the macrotask primitive once (at network construction). */
export function findMacrotask(): Macrotask {
  const g = globalThis as unknown as TimerGlobals;
  const setImmediate = g.setImmediate;
  // The engine's own function, not a wrapper: a step is scheduled from whatever set the first
  // event, possibly deep in a coroutine's synchronous start (the clock calls it without a `this`).
  if (typeof setImmediate === "function") return setImmediate as Macrotask;
  const setTimeout = g.setTimeout;
  if (typeof setTimeout === "function") {
    return (fn) => {
      setTimeout.call(globalThis, fn, 0);
    };
  }
  return (fn) => {
    let p: Promise<void> = Promise.resolve();
    for (let i = 0; i < PROMISE_HOPS; i++) p = p.then(noop);
    void p.then(fn);
  };
}
