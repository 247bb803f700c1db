/**
 * The MQTT session state the client keeps across network connections (MQTT 5 §4.1): packet
 * identifiers in use, outgoing QoS 1/2 messages not yet completed (to resend with DUP after a
 * reconnect), incoming QoS 2 packet identifiers whose PUBREL has not come (so a resent PUBLISH is
 * not delivered twice), and the subscriptions to restore when the server has lost the session.
 * It lives in memory; pass `session` to a new client to continue it. `save()` gives it as bytes
 * and `Session.restore(bytes)` brings it back in another process (session-codec.ts); the client's
 * `store` option is told each time it changes in a way that matters (docs/mqtt.md).
 */
import type { Properties, QoS, Subscription, UserProperties } from "./packet/index.js";
import { decodeSession, encodeSession } from "./session-codec.js";

/** Settles the promise of a user operation. */
export interface Done<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
}

export interface OutgoingMessage {
  topic: string;
  payload: Uint8Array;
  qos: QoS;
  retain: boolean;
  properties?: Properties;
}

export interface InflightMessage extends OutgoingMessage {
  packetId: number;
  qos: 1 | 2;
  /** "publish": waiting for PUBACK/PUBREC; "pubrel": PUBREL sent, waiting for PUBCOMP. */
  state: "publish" | "pubrel";
  /** The publisher's promise (absent for `trypublish` and for messages of a resumed session). */
  done?: Done<PublishResult>;
  /** QoS 2: the PUBREC's reason code, kept for the result until the PUBCOMP (not stored). */
  pubrecReason?: number;
}

/** What a completed publish reports: the server's reason code, reason string and properties. */
export interface PublishResult {
  /**
   * The last acknowledgement's reason code (PUBACK for QoS 1, PUBCOMP for QoS 2): 0 (success) or,
   * for QoS 1, 0x10 (no matching subscribers); failures reject instead.
   */
  reasonCode: number;
  /**
   * QoS 2 only: the PUBREC's reason code, 0 (success) or 0x10 (no matching subscribers: MQTT 5
   * says so in the PUBREC, while the PUBCOMP that ends the flow is 0). Always 0 in MQTT 3.1.1.
   * A PUBREC of 0x80 or more ends the flow there: the publish rejects with that code.
   */
  pubrecReason?: number;
  reasonString?: string;
  properties?: Properties;
}

/** A subscription as the client restores it. */
export interface SubscriptionRecord extends Subscription {
  subscriptionIdentifier?: number;
  userProperties?: UserProperties;
}

/** Per connection on the device: follows the XS memory rules (docs/contributing.md). */
export class Session {
  /** The client identifier (set from the server's assigned identifier when it gave one). */
  clientId: string;
  /** Outgoing QoS 1/2 messages by packet identifier, in the order they were first sent. */
  readonly inflight = new Map<number, InflightMessage>();
  /** Incoming QoS 2 packet identifiers: delivered, PUBREC sent, PUBREL not yet received. */
  readonly incoming = new Set<number>();
  /** Acknowledged subscriptions by topic filter. */
  readonly subscriptions = new Map<string, SubscriptionRecord>();
  #nextId = 1;

  constructor(clientId: string) {
    this.clientId = clientId;
  }

  /**
   * The session as bytes for `Session.restore`: client identifier, packet identifier counter,
   * in-flight messages (without their publishers' promises), incoming QoS 2 identifiers and
   * subscriptions.
   */
  save(): Uint8Array {
    return encodeSession({
      clientId: this.clientId,
      nextId: this.#nextId,
      inflight: [...this.inflight.values()],
      incoming: [...this.incoming],
      subscriptions: [...this.subscriptions.values()],
    });
  }

  /**
   * A session from `save()`'s bytes. Throws an `incorrectuse` MqttError, and returns nothing, for
   * bytes that are not a whole saved session (foreign, corrupted, truncated, another format).
   */
  static restore(data: Uint8Array): Session {
    const d = decodeSession(data);
    const s = new Session(d.clientId);
    s.#nextId = d.nextId;
    for (const m of d.inflight) s.inflight.set(m.packetId, m);
    for (const id of d.incoming) s.incoming.add(id);
    for (const r of d.subscriptions) s.subscriptions.set(r.topic, r);
    return s;
  }

  /** A free packet identifier; `busy(id)` tells about identifiers held outside the session. */
  allocate(busy: (id: number) => boolean): number {
    for (let n = 0; n < 65535; n++) {
      const id = this.#nextId;
      this.#nextId = id === 65535 ? 1 : id + 1;
      if (!this.inflight.has(id) && !busy(id)) return id;
    }
    throw new Error("no free packet identifier"); // cannot happen: in-flight messages are bounded
  }
}
