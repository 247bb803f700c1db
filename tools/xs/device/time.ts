/**
 * Stand-in for Moddable's `time` module in the XS app test: `Time.set(seconds)` records the
 * clock the app sets (the ntp and sntp apps set it), so the test can check it.
 */
const Time = {
  /** Seconds since 1970 the app set last; undefined: never set. */
  setTo: undefined as number | undefined,
  set(seconds: number): void {
    Time.setTo = seconds;
  },
};
export default Time;
