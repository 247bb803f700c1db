/**
 * The sender cosocket: an unconnected cosocket of each connection that writes what the client
 * sends on its own initiative, one packet at a time, suspended by the connection's flow control.
 * In order (`next`): after CONNACK what must be resent (subscriptions the server lost,
 * unanswered SUBSCRIBE/UNSUBSCRIBE, in-flight PUBLISH with DUP and PUBREL [MQTT-4.4.0-1]), then
 * the outgoing queue in order — a QoS 1/2 publication at its head waits while the in-flight
 * window is full [MQTT-3.3.4-7], and what is queued behind it waits too — then a DISCONNECT
 * asked for by `disconnect()`. With nothing it may send it `disable()`s itself; the client's
 * `_wake` enables it.
 *
 * Acknowledgements and PINGREQ are not the sender's: the reader and the keepalive timer write
 * those directly, so a full queue never holds them back.
 */
import type { Socket } from "../cosock.js";
import { MqttError } from "../errors.js";
import { encode } from "../packet/index.js";
import type { MqttClient } from "../client.js";
import type { Connection } from "./connection.js";
import { inflightWindow, jobStep, publishStep, type PublishJob } from "./publish-out.js";
import { requestStep, type RequestJob } from "./subscribe.js";

/** An entry of the client's outgoing queue. */
export type Job = PublishJob | RequestJob;

/** One step of the sender: bytes to write, and what to do once they are written or not. */
export interface Step {
  bytes: Uint8Array;
  sent?: () => void;
  failed?: (e: unknown) => void;
}

/** The sender cosocket of `conn` (`rt.event(runSender, client, conn)` at CONNACK). */
export async function runSender(self: Socket, c: MqttClient, conn: Connection): Promise<void> {
  while (!conn.closed) {
    const step = next(c, conn);
    if (!step) {
      await self.disable();
      continue;
    }
    try {
      await c._write(conn, step.bytes);
    } catch (e) {
      step.failed?.(e);
      return; // the reader ends the connection
    }
    step.sent?.();
  }
}

/** The sender's next step: resends first, then the queue (within the in-flight window), then DISCONNECT. */
function next(c: MqttClient, conn: Connection): Step | undefined {
  const v = c.options.protocolVersion;
  while (conn.resend.length) {
    const item = conn.resend.shift()!;
    if ("state" in item) {
      if (c.session.inflight.get(item.packetId) !== item) continue; // completed meanwhile
      if (item.state === "pubrel") return { bytes: encode({ type: "pubrel", packetId: item.packetId, reasonCode: 0 }, v) };
      const step = publishStep(c, conn, item, true);
      if (step) return step;
      continue;
    }
    if (item.packetId && c._requests.get(item.packetId) !== item) continue;
    return requestStep(c, item);
  }
  let job = c._queue.peek();
  while (job) {
    if (job.kind === "publish" && job.msg.qos > 0 && c.session.inflight.size >= inflightWindow(c, conn)) break;
    c._queue.shift();
    if (job.kind === "request") return requestStep(c, job.req);
    const step = jobStep(c, conn, job);
    if (step) return step;
    job = c._queue.peek(); // that one was refused; on to the next
  }
  // DISCONNECT once nothing queued can go out now (what waits for the in-flight window stays)
  const d = c._disconnect;
  if (d) {
    c._disconnect = undefined;
    return {
      bytes: encode(d, v),
      sent: () => conn.end(new MqttError("closed", "disconnected by the client")),
      failed: () => conn.end(new MqttError("closed", "disconnected by the client")),
    };
  }
  return undefined;
}
