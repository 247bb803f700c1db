/**
 * The session store (the `store` option, docs/mqtt.md "Surviving a restart"): which changes of
 * the session must reach the store (`touch`), and bringing the store up to the session before
 * the next packet goes out (`flush`; the client's `_write` calls it before every packet).
 */
import { MqttError } from "../errors.js";
import type { MqttClient } from "../client.js";
import type { Connection } from "./connection.js";

/** Marks the session as changed for the `store`. */
export function touch(c: MqttClient): void {
  if (c.options.store) c._dirty = true;
}

/**
 * Brings the `store` up to the session in memory (and waits for a save in progress). The rule
 * (docs/mqtt.md): no packet is written while the store is behind the session — `_write` calls
 * this first — so what the server has been told is never ahead of what a restarted process
 * restores: a QoS 1/2 message is stored before its PUBLISH, its "pubrel" state before the
 * PUBREL (it must never be resent after it, MQTT 5 [MQTT-4.3.3-6]), an incoming QoS 2 identifier
 * before the PUBREC and its removal before the PUBCOMP (§4.3.3). Completions and subscription
 * changes are saved as soon as they are read. A store that fails ends the connection
 * (`storefailed`); the reconnection tries again.
 */
export async function flush(c: MqttClient, conn: Connection): Promise<void> {
  const store = c.options.store;
  if (!store) return;
  try {
    while (c._dirty || c._saving) {
      if (c._saving) {
        await c._saving;
        continue;
      }
      c._dirty = false;
      let r: void | Promise<void>;
      try {
        r = store.save(c.session.save());
      } catch (e) {
        c._dirty = true;
        throw e;
      }
      if (r && typeof (r as Promise<void>).then === "function") {
        const saving = Promise.resolve(r).then(
          () => {
            c._saving = undefined;
          },
          (e: unknown) => {
            c._saving = undefined;
            c._dirty = true;
            throw e;
          },
        );
        c._saving = saving;
        await saving;
      }
    }
  } catch (e) {
    const err =
      e instanceof MqttError && e.code === "storefailed"
        ? e
        : new MqttError("storefailed", `the session store failed: ${(e as Error)?.message ?? e}`);
    conn.end(err);
    throw err;
  }
}
