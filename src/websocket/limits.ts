/**
 * Defaults of the WebSocket codec, named in one place. A frame or message of exactly the cap is
 * accepted; one byte more is refused with close code 1009.
 */
export interface WebSocketLimits {
  /** Largest frame payload accepted (inclusive), and the size `fragment` cuts messages to. */
  maxFrame: number;
  /** Largest whole message `MessageAssembler` builds (inclusive). */
  maxMessage: number;
  /**
   * A connection on which nothing arrived from the peer and no message was sent for this long
   * (ms) is closed with 1001 ("idle"); 0: never. Pings and pongs count as traffic.
   */
  idleTimeout: number;
  /**
   * Keepalive (ms; 0: off): when nothing arrived from the peer and no message was sent for this
   * long, a ping is sent.
   */
  pingInterval: number;
  /**
   * A peer that sends nothing (not even the pong) within this long (ms) after a keepalive ping is
   * dead: the connection is aborted and reads fail with a `WebSocketError` of close code 1006.
   */
  pongTimeout: number;
}

export const wsDefaults: Readonly<WebSocketLimits> = Object.freeze({
  maxFrame: 65536,
  maxMessage: 65536,
  idleTimeout: 300000,
  pingInterval: 0,
  pongTimeout: 10000,
});

/** True when `n` can be used as a byte limit: a non-negative safe integer. */
export function isByteLimit(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}
