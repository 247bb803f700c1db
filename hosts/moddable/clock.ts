/**
 * A monotonic millisecond clock from Moddable's `Time.ticks`, which is a 32-bit counter on
 * microcontrollers (it wraps after 49.7 days, and reads negative past 2^31 on some ports). Each
 * reading is taken as unsigned 32-bit; a reading below the previous one means the counter
 * wrapped, and 2^32 is added from then on. Correct as long as it is read at least once per wrap
 * period (the runtime's own timers see to that).
 */
const WRAP = 0x100000000;

export function monotonic(ticks: () => number): () => number {
  let last = -1;
  let base = 0;
  return () => {
    const t = ticks() >>> 0;
    if (t < last) base += WRAP;
    last = t;
    return base + t;
  };
}
