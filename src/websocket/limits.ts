/**
 * Defaults of the WebSocket codec, named in one place. A frame or message of exactly the cap is
 * accepted; one byte more is refused with close code 1009.
 */
export interface WebSocketLimits {
  /** Largest frame payload accepted (inclusive), and the size `fragment` cuts messages to. */
  maxFrame: number;
  /** Largest whole message `MessageAssembler` builds (inclusive). */
  maxMessage: number;
}

export const wsDefaults: Readonly<WebSocketLimits> = Object.freeze({
  maxFrame: 65536,
  maxMessage: 65536,
});

/** True when `n` can be used as a byte limit: a non-negative safe integer. */
export function isByteLimit(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}
