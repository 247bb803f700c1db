/**
 * The coroutine that owns a socket: `event()` runs it (the socket closes when it ends, or its
 * owner is told: `eventFor`), `detach()` hands the socket to another owner, `disable()` and
 * `enable()` suspend and resume it.
 */
import { SocketError } from "../errors.js";
import { settleWaiter, Waiter } from "../waiter.js";
import { ALIVE, MODE_R, MODE_S } from "./base.js";
import { SocketWriting } from "./write.js";
import type { CoMode, CoroutineOwner } from "./types.js";
import type { Socket } from "./socket.js";

export type Cosocket<A extends unknown[]> = (sock: Socket, ...args: A) => unknown;

export abstract class SocketCoroutines extends SocketWriting {
  /**
   * Runs `fn(this, ...args)` as this socket's coroutine: "r" (default) for an asynchronous socket,
   * "s" for a cosocket. Like the seed, a first argument of "r" or "s" is the mode. The function
   * runs at once until it first suspends; when it returns or throws, the socket is closed.
   */
  event<A extends unknown[]>(fn: Cosocket<A>, mode: CoMode, ...args: A): this;
  event<A extends unknown[]>(fn: Cosocket<A>, ...args: A): this;
  event(fn: Cosocket<unknown[]>, ...args: unknown[]): this {
    let mode: CoMode = "r";
    if (args[0] === "r" || args[0] === "s") mode = args.shift() as CoMode;
    return this.eventFor(this, fn as (owner: unknown, ...args: unknown[]) => unknown, mode, args);
  }

  /**
   * @internal `event()` on behalf of an object built on this socket (a WebSocket): runs
   * `fn(owner, ...args)` as this socket's coroutine; when it ends, `owner.coroutineEnded()` is
   * called (when `owner` is not the socket) instead of `close()` — it must close the socket.
   */
  eventFor<O>(owner: O, fn: (owner: O, ...args: unknown[]) => unknown, mode: CoMode, args: unknown[]): this {
    if (this._has(ALIVE)) throw new SocketError("incorrectuse", "this socket already has a coroutine");
    if (this._closed) throw new SocketError("socketclosed");
    this._setMode(mode);
    this._put(ALIVE, true);
    if ((owner as unknown) !== this) this._extra().owner = owner as unknown as CoroutineOwner;
    const generation = this._generation;
    let result: unknown;
    try {
      result = fn(owner, ...args);
    } catch (e) {
      this._finish(generation, e);
      return this;
    }
    // One function for both outcomes (each function is ~200 bytes on XS): an Error is a failure.
    const end = (outcome: unknown) => this._finish(generation, outcome);
    Promise.resolve(result).then(end, end);
    return this;
  }

  /** The coroutine ended with `outcome`: its return value or what it threw. */
  _finish(generation: number, outcome: unknown): void {
    if (outcome instanceof Error && !(outcome instanceof SocketError))
      this.rt.options.log(`cosock: coroutine failed: ${outcome.stack ?? outcome}`);
    if (generation !== this._generation) return; // the socket was handed to another owner
    this._put(ALIVE, false);
    const owner = this._x?.owner;
    if (owner) {
      this._x!.owner = undefined;
      owner.coroutineEnded();
    } else this.close();
  }

  /** Which coroutine owns the socket: `detach()` starts a new generation. */
  get _generation(): number {
    return this._x?.generation ?? 0;
  }

  _setMode(mode: CoMode | undefined): void {
    this._f = (this._f & ~(MODE_R | MODE_S)) | (mode === "s" ? MODE_S : mode === "r" ? MODE_R : 0);
  }

  /**
   * Hands the socket over: the running coroutine no longer owns it (its end will not close the
   * socket) and a new `event()` may be started on it. Used when a connection changes owner, as in
   * `req2sock` and `sock2req`.
   */
  detach(): void {
    const x = this._extra();
    x.generation = this._generation + 1;
    x.owner = undefined;
    this._put(ALIVE, false);
    this._setMode(undefined);
  }

  /** True while this socket's coroutine runs. */
  get alive(): boolean {
    return this._has(ALIVE);
  }

  /** The coroutine mode given to `event`, if any. */
  get mode(): CoMode | undefined {
    return this._has(MODE_S) ? "s" : this._has(MODE_R) ? "r" : undefined;
  }

  /**
   * Suspends the owner until `enable(...values)`; resolves with those values. If `enable` came
   * first, resolves at once with its values (no wake-up is lost).
   */
  disable(): Promise<unknown[]> {
    if (this._closed) return Promise.reject(new SocketError("socketclosed"));
    if (this._x?.disabled) return Promise.reject(new SocketError("incorrectuse", "already disabled"));
    const early = this._x?.enabledEarly;
    if (early) {
      this._x!.enabledEarly = undefined;
      return Promise.resolve(early);
    }
    const w = new Waiter<unknown[]>();
    this._extra().disabled = w;
    return w.promise;
  }

  /** Resumes a disabled owner with `values`; true if the socket's coroutine is still alive. */
  enable(...values: unknown[]): boolean {
    if (this._closed) return false;
    if (this._x?.disabled) settleWaiter(this._x, "disabled", undefined, values);
    else this._extra().enabledEarly = values;
    return this._has(ALIVE);
  }
}
