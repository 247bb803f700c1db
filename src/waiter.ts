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
