/** A suspended coroutine: the promise it awaits, with the means to resume it. */
export class Waiter<T> {
  readonly promise: Promise<T>;
  resolve!: (value: T) => void;
  reject!: (error: unknown) => void;
  /** Cancels the waiter's timeout, if it has one. */
  cancelTimer?: () => void;

  constructor() {
    this.promise = new Promise<T>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  settle(): void {
    if (this.cancelTimer) {
      this.cancelTimer();
      this.cancelTimer = undefined;
    }
  }
}

export const RESOLVED_TRUE: Promise<true> = Promise.resolve(true);

/**
 * Takes the waiter kept in `holder[key]`, clears the field and settles the waiter (its timeout
 * cancelled): rejected with `error` when one is given, else resolved with `value`. Nothing when
 * no waiter is kept there. The one way a socket's waiters are settled.
 */
export function settleWaiter<H extends object, K extends keyof H>(holder: H | undefined, key: K, error?: unknown, value?: unknown): void {
  const w = holder?.[key] as Waiter<unknown> | undefined;
  if (!w) return;
  holder![key] = undefined as H[K];
  w.settle();
  if (error !== undefined) w.reject(error);
  else w.resolve(value);
}
