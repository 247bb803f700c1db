/** What travels between two addresses: delay, rate, buffer sizes and faults. */
export interface LinkOptions {
  /** One-way delay in ms. Default 1. */
  latency?: number;
  /** Extra random delay per segment or datagram, 0..jitter ms (TCP stays in order). Default 0. */
  jitter?: number;
  /** Bytes per ms on the wire, per direction. Default Infinity. */
  bandwidth?: number;
  /** TCP sender's buffer: the maximum writable count. Default 8192. */
  sendBuffer?: number;
  /** TCP receiver's window: unread bytes it holds before the sender must stop. Default 16384. */
  recvWindow?: number;
  /** TCP segment size. Default 1436. */
  mss?: number;
  /**
   * TCP: probability a segment is lost and arrives only after `rto` more ms
   * (a retransmission: order kept, later segments wait behind it).
   * UDP: probability a datagram is dropped. Default 0.
   */
  loss?: number;
  /** TCP retransmission delay in ms. Default 200. */
  rto?: number;
  /** UDP only: probability a datagram is delivered twice. Default 0. */
  duplicate?: number;
  /** UDP only: probability a datagram is held back latency*3+1 ms so later ones overtake it. Default 0. */
  reorder?: number;
}

export type Link = Readonly<Required<LinkOptions>>;

export const LINK_DEFAULTS: Link = {
  latency: 1,
  jitter: 0,
  bandwidth: Infinity,
  sendBuffer: 8192,
  recvWindow: 16384,
  mss: 1436,
  loss: 0,
  rto: 200,
  duplicate: 0,
  reorder: 0,
};

const PROBABILITIES = new Set<string>(["loss", "duplicate", "reorder"]);
const AT_LEAST_ONE = new Set<string>(["sendBuffer", "recvWindow", "mss", "bandwidth"]);

/** `base` overridden by the fields `options` sets; throws RangeError on a bad value. */
export function mergeLink(base: Link, options: LinkOptions | undefined): Link {
  const out: Record<string, number> = { ...base };
  if (options === undefined) return out as unknown as Link;
  for (const key of Object.keys(LINK_DEFAULTS)) {
    const value = (options as Record<string, unknown>)[key];
    if (value === undefined) continue;
    if (typeof value !== "number" || Number.isNaN(value) || value < 0) {
      throw new RangeError(`link option ${key} must be a non-negative number`);
    }
    if (PROBABILITIES.has(key) && value > 1) throw new RangeError(`link option ${key} must be at most 1`);
    if (AT_LEAST_ONE.has(key) && value < 1) throw new RangeError(`link option ${key} must be at least 1`);
    if (key !== "bandwidth" && !Number.isFinite(value)) throw new RangeError(`link option ${key} must be finite`);
    out[key] = key === "sendBuffer" || key === "recvWindow" || key === "mss" ? Math.floor(value) : value;
  }
  return out as unknown as Link;
}

/** One direction of the wire between two addresses: serialises bytes at the link's bandwidth. */
export class Wire {
  private freeAt = 0;

  /** Puts `bytes` on the wire at `now` (behind whatever is still being sent); returns when the last bit leaves. */
  send(now: number, bytes: number, bandwidth: number): number {
    const start = this.freeAt > now ? this.freeAt : now;
    const done = bandwidth === Infinity ? start : start + bytes / bandwidth;
    this.freeAt = done;
    return done;
  }
}
