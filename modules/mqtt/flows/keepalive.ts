/**
 * Keepalive (MQTT 5 §3.1.2.10, PINGREQ §3.12, PINGRESP §3.13) and the `idleTimeout` watchdog.
 *
 * - `startPinger`: once connected, a PINGREQ every keepalive/2 (the server's Server Keep Alive
 *   when it sent one, [MQTT-3.2.2-21]); two unanswered end the connection (`timeout`, 0x8D).
 * - PINGRESP needs no handler: any bytes from the server count as the answer — the read loop
 *   (connection.ts) sets `conn.pings` back to 0 for every read.
 * - `readIdle`: a read once connected; with `idleTimeout`, no whole packet from the server for
 *   that long ends the connection.
 */
import { isSocketError } from "../cosock.js";
import { MqttError } from "../errors.js";
import type { MqttClient } from "../client.js";
import type { Connection } from "./connection.js";

const PINGREQ = new Uint8Array([0xc0, 0]);

/** Starts the PINGREQ timer of a connection (stopped by `_ended` through `conn.cancelPing`). */
export function startPinger(c: MqttClient, conn: Connection): void {
  const interval = (conn.keepalive * 1000) / 2;
  const tick = (): void => {
    conn.cancelPing = undefined;
    if (conn.closed) return;
    if (conn.pings >= 2) {
      conn.end(new MqttError("timeout", `the server did not answer 2 PINGREQs (keepalive ${conn.keepalive} s)`, 0x8d));
      return;
    }
    conn.pings++;
    try {
      conn.stream.trywrite(PINGREQ); // a full queue counts as unanswered too
      c._stats.sent++;
    } catch {
      /* the reader sees the failure */
    }
    conn.cancelPing = c.rt.dispatcher.timer(interval, tick);
  };
  conn.cancelPing = c.rt.dispatcher.timer(interval, tick);
}

/** A read once connected: with `idleTimeout`, no whole packet from the server for that long ends the connection. */
export async function readIdle(c: MqttClient, conn: Connection): Promise<Uint8Array | null> {
  const idle = c.options.idleTimeout;
  if (!(idle > 0)) return conn.stream.read();
  const left = conn.heard + idle - c.rt.host.now();
  const silent = () => new MqttError("timeout", `no packet from the server for ${idle} ms (idleTimeout)`);
  if (left <= 0) throw silent();
  try {
    return await conn.stream.read(left);
  } catch (e) {
    throw isSocketError(e, "timeout") ? silent() : e;
  }
}
