/**
 * An MQTT 3.1.1 / 5 client on cosockets, shaped like the reference system's MQTT client. This
 * file holds the `MqttClient` class — its state, its public operations and the wiring between
 * them; each packet flow is a file of flows/, functions that take the client:
 *
 * | file | what it holds |
 * |---|---|
 * | `flows/connection.ts` | one connection: CONNECT, CONNACK, the read loop, which packet goes to which flow |
 * | `flows/sender.ts` | the sender cosocket: resends after a reconnect, the outgoing queue, DISCONNECT |
 * | `flows/publish-out.ts` | PUBLISH out: in-flight messages, PUBACK, PUBREC (→ PUBREL), PUBCOMP |
 * | `flows/publish-in.ts` | PUBLISH in: delivery, PUBACK, PUBREC, PUBREL (→ PUBCOMP) |
 * | `flows/subscribe.ts` | SUBSCRIBE, UNSUBSCRIBE, SUBACK, UNSUBACK, resubscribing |
 * | `flows/keepalive.ts` | PINGREQ / PINGRESP, the `idleTimeout` watchdog |
 * | `flows/aliases.ts` | MQTT 5 topic aliases, out and in |
 * | `flows/store.ts` | the session store: nothing is sent before the store has the session |
 *
 * How it works:
 * - The **connection cosocket** (`rt.event`) connects its own socket through the transport, sends
 *   CONNECT, and then reads: it decodes packets, delivers messages and writes the acknowledgements
 *   itself (so a slow network also slows its reading: back-pressure toward the server).
 * - The **sender cosocket** is an unconnected cosocket that drains the client's bounded outgoing
 *   queue into the connection. Its writes are suspended by the socket's flow control; when there
 *   is nothing it may send it `disable()`s itself, and publishers `enable()` it. A publish to a full
 *   queue is refused with `queuefull` — nothing is dropped silently.
 * - A keepalive timer sends PINGREQ every keepalive/2 and fails the connection after two
 *   unanswered (any packet from the server counts as an answer).
 * - When a connection is lost the client reconnects with exponential backoff, resumes the session
 *   (MQTT 5: Clean Start 0 on reconnects), resends in-flight QoS 1/2 messages with DUP and PUBRELs
 *   in their original order, re-sends unanswered SUBSCRIBE/UNSUBSCRIBE, and resubscribes when the
 *   server has no session for it.
 *
 * On the device a client lives as long as its connection, so it follows the XS memory rules
 * (docs/device.md, "Memory"): no `#private` methods (XS copies those into every instance; the
 * internal ones here are TypeScript-`private` or, for the flows, `@internal`, on the prototype),
 * and no closures per client — the cosockets are module functions started with the client as an
 * argument. Members marked `@internal` are for the flows, not for applications.
 */
import { isSocketError, type Payload, type Runtime } from "../cosock.js";
import { MqttError } from "./errors.js";
import {
  encode,
  type DisconnectPacket,
  type Packet,
  type Properties,
  type QoS,
  type SubscribePacket,
  type UnsubscribePacket,
  type UserProperties,
} from "./packet/index.js";
import { mqttDefaults, type MqttClientOptions, type MqttOptions } from "./options.js";
import { OutQueue } from "./queue.js";
import { Session, type Done, type PublishResult, type SubscriptionRecord } from "./session.js";
import { Connection, startConnection } from "./flows/connection.js";
import { publishJob, type PublishJob } from "./flows/publish-out.js";
import type { Job } from "./flows/sender.js";
import { flush } from "./flows/store.js";
import { requestJob, subscribePacket, unsubscribePacket, type Request } from "./flows/subscribe.js";

export type ClientState = "idle" | "connecting" | "connected" | "reconnecting" | "closing" | "closed";

/** A message received from the server. */
export interface Message {
  topic: string;
  payload: Uint8Array;
  qos: QoS;
  retain: boolean;
  /** The server says it may have sent this message before. */
  dup: boolean;
  /** MQTT 5 properties: userProperties, subscriptionIdentifiers, contentType, responseTopic, ... */
  properties?: Properties;
}

export interface ConnectInfo {
  sessionPresent: boolean;
  reasonCode: number;
  /** The CONNACK's MQTT 5 properties (server limits, assigned client id, reason string, ...). */
  properties?: Properties;
  clientId: string;
}

export interface DisconnectInfo {
  /** Why the connection ended. */
  error: MqttError;
  /** A reconnection is scheduled after `delay` ms. */
  reconnecting: boolean;
  delay?: number;
}

export interface PublishOptions {
  qos?: QoS;
  retain?: boolean;
  /** MQTT 5: payloadFormatIndicator, messageExpiryInterval, contentType, responseTopic, correlationData, userProperties. */
  properties?: Properties;
}

export interface SubscribeOptions {
  qos?: QoS;
  noLocal?: boolean;
  retainAsPublished?: boolean;
  retainHandling?: 0 | 1 | 2;
  /** MQTT 5: the identifier the server attaches to messages matching this subscription. */
  subscriptionIdentifier?: number;
  userProperties?: UserProperties;
}

export interface SubscribeResult {
  /** Per topic filter: the granted QoS (0, 1, 2) or a failure code (>= 0x80). */
  reasonCodes: number[];
  reasonString?: string;
  properties?: Properties;
}

export interface DisconnectOptions {
  /** MQTT 5 reason code (0: normal; 4: disconnect and publish the will). */
  reasonCode?: number;
  /** MQTT 5: a new session expiry (not allowed if the CONNECT had 0). */
  sessionExpiry?: number;
  reasonString?: string;
  userProperties?: UserProperties;
}

export interface ClientStat {
  state: ClientState;
  /** Bytes and messages waiting in the outgoing queue. */
  queued: number;
  queuedMessages: number;
  /** Outgoing QoS 1/2 messages awaiting completion. */
  inflight: number;
  /** Incoming QoS 2 messages awaiting PUBREL. */
  incoming: number;
  /** SUBSCRIBE/UNSUBSCRIBE awaiting their acknowledgement. */
  requests: number;
  /** Connections made (successful CONNACKs) and connections lost. */
  connects: number;
  disconnects: number;
  /** Packets written and read. */
  sent: number;
  received: number;
  /** Bytes the decoder holds for a packet from the server that spans reads (its buffer; 0 when none). */
  buffered: number;
}

interface Events {
  connect: ConnectInfo;
  message: Message;
  disconnect: DisconnectInfo;
  close: MqttError | undefined;
  error: MqttError;
}

type Listener<T> = (value: T) => unknown;

function hex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

/** Per connection on the device: follows the XS memory rules (docs/contributing.md). */
export class MqttClient {
  readonly rt: Runtime;
  readonly options: Readonly<MqttOptions>;
  readonly session: Session;
  /** @internal */
  _state: ClientState = "idle";
  /** @internal The current connection (or the attempt at one). */
  _conn: Connection | undefined;
  /** @internal The outgoing queue the sender drains. */
  readonly _queue = new OutQueue<Job>();
  /** @internal SUBSCRIBE/UNSUBSCRIBE sent and not yet acknowledged, by packet identifier. */
  readonly _requests = new Map<number, Request>();
  private readonly _listeners = new Map<keyof Events, Set<Listener<never>>>();
  /** @internal Waiting `connect()` calls. */
  _waiters: Done<ConnectInfo>[] = [];
  /** @internal A `connect()` from idle/closed fails at its first failed attempt instead of retrying. */
  _failFast = false;
  /** @internal The next attempt is the first of a `connect()` call (MQTT 5 Clean Start applies). */
  _fresh = true;
  private _closeWaiters: Done<void>[] = [];
  private _cancelRetry: (() => void) | undefined;
  /** @internal Failed attempts since the last CONNACK (the reconnection backoff). */
  _failures = 0;
  /** @internal The DISCONNECT `disconnect()` asked the sender to write. */
  _disconnect: DisconnectPacket | undefined;
  /** @internal The last CONNACK's information. */
  _info: ConnectInfo | undefined;
  /** @internal */
  readonly _stats = { connects: 0, disconnects: 0, sent: 0, received: 0 };
  /** @internal The session changed in a way the store must see before the next packet goes out. */
  _dirty = false;
  /** @internal The store's save in progress (an asynchronous store). */
  _saving: Promise<void> | undefined;

  constructor(rt: Runtime, options: MqttClientOptions) {
    this.rt = rt;
    const o = { ...mqttDefaults, ...options } as MqttOptions;
    if (o.protocolVersion !== 4 && o.protocolVersion !== 5)
      throw new MqttError("incorrectuse", `unsupported protocol version ${o.protocolVersion}`);
    if (!o.host) throw new MqttError("incorrectuse", "host is required");
    if (o.protocolVersion === 4 && o.sessionExpiry)
      throw new MqttError("incorrectuse", "sessionExpiry needs MQTT 5 (3.1.1: use cleanStart false)");
    o.port ??= o.transport.defaultPort;
    o.clientId ??= o.session?.clientId ?? `cosock-${hex(rt.host.randomBytes(4))}`;
    this.options = Object.freeze(o);
    this.session = o.session ?? new Session(o.clientId);
    if (o.session) o.session.clientId = o.clientId;
  }

  get state(): ClientState {
    return this._state;
  }

  get connected(): boolean {
    return this._state === "connected";
  }

  // ---------------------------------------------------------------- events

  /** Listens: "connect", "message", "disconnect" (each lost connection), "close" (the client stopped), "error". */
  on<K extends keyof Events>(event: K, fn: Listener<Events[K]>): this {
    let set = this._listeners.get(event);
    if (!set) this._listeners.set(event, (set = new Set()));
    set.add(fn as Listener<never>);
    return this;
  }

  off<K extends keyof Events>(event: K, fn: Listener<Events[K]>): this {
    this._listeners.get(event)?.delete(fn as Listener<never>);
    return this;
  }

  /** @internal Calls the listeners of `event`; returns what they returned (promises, for "message"). */
  _emit<K extends keyof Events>(event: K, value: Events[K]): unknown[] {
    const set = this._listeners.get(event) as Set<Listener<Events[K]>> | undefined;
    const results: unknown[] = [];
    if (!set || set.size === 0) {
      if (event === "error") this.rt.options.log(`mqtt: ${(value as MqttError).message}`);
      return results;
    }
    for (const fn of [...set]) {
      try {
        results.push(fn(value));
      } catch (e) {
        this.rt.options.log(`mqtt: a "${event}" listener threw: ${(e as Error)?.stack ?? e}`);
      }
    }
    return results;
  }

  // ---------------------------------------------------------------- connecting

  /**
   * Connects; resolves with the CONNACK's information. A `connect()` from an idle or closed client
   * rejects if its first attempt fails (`cannotconnect` inside `connectionlost`, `connectionrefused`
   * with the reason code, `timeout`); once connected, lost connections are retried (`reconnect`).
   */
  connect(): Promise<ConnectInfo> {
    if (this._state === "closing") return Promise.reject(new MqttError("incorrectuse", "the client is closing"));
    if (this._state === "connected") return Promise.resolve(this._info!);
    const p = new Promise<ConnectInfo>((resolve, reject) => this._waiters.push({ resolve, reject }));
    if (this._state === "idle" || this._state === "closed") {
      this._failFast = true;
      this._fresh = true;
      this._failures = 0;
      this._disconnect = undefined;
      this._attempt();
    }
    return p;
  }

  /** @internal A connection attempt: from `connect()`, or the reconnection timer. */
  _attempt(): void {
    this._cancelRetry = undefined;
    this._state = this._stats.connects > 0 && !this._failFast ? "reconnecting" : "connecting";
    const conn = new Connection(this.options.protocolVersion, this.options.maxPacketSize);
    this._conn = conn;
    // The connection cosocket starts in a promise job of its own: connect() returns first, and the
    // cosocket's descent into the transport does not stack on its caller's frames (on XS an async
    // function called from another holds its frames until it first awaits; docs/device.md).
    Promise.resolve().then(() => startConnection(this, conn));
  }

  /** @internal Called once per connection when its cosocket finishes: reconnect, or stop. */
  _ended(conn: Connection, error: unknown): void {
    if (conn.closed) return;
    conn.closed = true;
    conn.cancelPing?.();
    conn.cancelPing = undefined;
    conn.sender?.close();
    if (this._conn === conn) this._conn = undefined;
    const reason = conn.endReason ?? this._asMqttError(error);
    // tell an MQTT 5 server why we end the connection (§4.13)
    if (
      conn.established &&
      this.options.protocolVersion === 5 &&
      !conn.endReason &&
      reason.reasonCode !== undefined &&
      (reason.code === "malformed" || reason.code === "protocolerror" || reason.code === "packettoolarge")
    ) {
      try {
        conn.stream.trywrite(encode({ type: "disconnect", reasonCode: reason.reasonCode }, 5));
      } catch {
        /* the connection is gone */
      }
    }
    conn.sock?.close();
    if (conn.established) this._stats.disconnects++;

    if (this._state === "closing") return this._finish(undefined);
    if (this._failFast || isSocketError(error, "sysshutdown")) return this._finish(reason);
    const r = this.options.reconnect;
    if (r === false || reason.reasonCode === 0x8e /* session taken over: retrying would fight */) {
      this._emit("disconnect", { error: reason, reconnecting: false });
      return this._finish(reason);
    }
    const delay = Math.min(r.maxDelay, r.delay * Math.pow(r.factor, this._failures));
    this._failures++;
    this._state = "reconnecting";
    this._emit("disconnect", { error: reason, reconnecting: true, delay });
    if (this._state !== "reconnecting") return; // a listener closed the client
    this._cancelRetry = this.rt.dispatcher.timer(delay, () => this._attempt());
  }

  /** @internal What a failure is as an MqttError (socket errors are `connectionlost`). */
  _asMqttError(e: unknown): MqttError {
    if (e instanceof MqttError) return e;
    if (isSocketError(e)) {
      const m = new MqttError("connectionlost", e.message);
      (m as { cause?: unknown }).cause = e;
      return m;
    }
    this.rt.options.log(`mqtt: unexpected error: ${(e as Error)?.stack ?? e}`);
    return new MqttError("connectionlost", String((e as Error)?.message ?? e));
  }

  /** The client stops: everything still pending is refused (in-flight messages stay in the session). */
  private _finish(reason: MqttError | undefined): void {
    this._cancelRetry?.();
    this._cancelRetry = undefined;
    this._state = "closed";
    this._disconnect = undefined;
    const err = reason ?? new MqttError("closed", "the client was closed");
    const refuse = (done: Done<never> | undefined) => done?.reject(err);
    for (const w of this._waiters.splice(0)) w.reject(err);
    for (const job of this._queue.drain()) refuse(job.kind === "publish" ? job.done : job.req.done);
    for (const req of this._requests.values()) refuse(req.done);
    this._requests.clear();
    for (const m of this.session.inflight.values()) {
      const d = m.done;
      m.done = undefined;
      refuse(d);
    }
    for (const w of this._closeWaiters.splice(0)) w.resolve();
    this._emit("close", reason);
  }

  // ---------------------------------------------------------------- writing

  /** @internal Writes one packet on the connection, after the store has the session (flows/store.ts). */
  async _write(conn: Connection, packet: Packet | Uint8Array): Promise<void> {
    const bytes = packet instanceof Uint8Array ? packet : encode(packet, this.options.protocolVersion);
    if (this._dirty || this._saving) await flush(this, conn); // the store first
    await conn.stream.write(bytes);
    this._stats.sent++;
  }

  /** @internal Wakes the sender cosocket: there may be something for it to send. */
  _wake(conn: Connection | undefined = this._conn): void {
    conn?.sender?.enable();
  }

  // ---------------------------------------------------------------- the user's operations

  /**
   * Publishes. Resolves when done — QoS 0: handed to the connection; QoS 1: PUBACK; QoS 2:
   * PUBCOMP — with the server's reason code (for QoS 2 also the PUBREC's, `pubrecReason`).
   * Rejects with `queuefull` at once when the outgoing queue is full (nothing is taken),
   * `incorrectuse` for arguments that cannot be sent, `refused` when the server answers with a
   * failure code (a PUBREC's included), `closed` if the client stops first.
   */
  publish(topic: string, payload: Payload, options: PublishOptions = {}): Promise<PublishResult> {
    let job: PublishJob;
    try {
      this._checkState();
      job = publishJob(this, topic, payload, options);
      this._checkRoom();
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise<PublishResult>((resolve, reject) => {
      job.done = { resolve, reject };
      this._enqueue(job);
    });
  }

  /**
   * Publishes without a promise and without ever suspending, like a socket's `trywrite`: true when
   * queued, or the number of bytes queued when the queue is full (nothing is taken). A failure
   * later (refused by the server) is reported by the "error" event. Throws for bad arguments.
   */
  trypublish(topic: string, payload: Payload, options: PublishOptions = {}): true | number {
    this._checkState();
    const job = publishJob(this, topic, payload, options);
    if (this._queue.bytes >= this.options.queuelen && this._queue.length > 0) return this._queue.bytes;
    this._enqueue(job);
    return true;
  }

  private _checkState(): void {
    if (this._state === "closing" || this._state === "closed")
      throw new MqttError("closed", `the client is ${this._state}; connect() again to use it`);
  }

  private _checkRoom(): void {
    const q = this._queue;
    if (q.bytes >= this.options.queuelen && q.length > 0) {
      const e = new MqttError("queuefull", `the outgoing queue holds ${q.bytes} bytes (queuelen ${this.options.queuelen})`);
      e.queued = q.bytes;
      throw e;
    }
  }

  private _enqueue(job: Job): void {
    this._queue.push(job);
    this._wake();
  }

  /**
   * Subscribes to one or more topic filters (strings with `options`, or full subscriptions).
   * Resolves with the SUBACK's reason codes, one per filter: the granted QoS or a failure code.
   * Granted subscriptions are restored after a reconnect if the server lost the session.
   */
  subscribe(filters: string | string[] | SubscriptionRecord[], options: SubscribeOptions = {}): Promise<SubscribeResult> {
    try {
      this._checkState();
      const { packet, records } = subscribePacket(this, filters, options);
      return this._request(packet, records);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Unsubscribes; resolves with the UNSUBACK's reason codes (MQTT 5; empty in 3.1.1). */
  unsubscribe(filters: string | string[], options: { userProperties?: UserProperties } = {}): Promise<SubscribeResult> {
    try {
      this._checkState();
      return this._request(unsubscribePacket(this, filters, options), undefined);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  private _request(packet: SubscribePacket | UnsubscribePacket, records: SubscriptionRecord[] | undefined): Promise<SubscribeResult> {
    const job = requestJob(this, packet, records); // validates
    this._checkRoom();
    return new Promise<SubscribeResult>((resolve, reject) => {
      job.req.done = { resolve, reject };
      this._enqueue(job);
    });
  }

  /**
   * Disconnects gracefully: what is queued and may be sent now is sent, then DISCONNECT (MQTT 5
   * with `options`), then the connection is closed. Reconnection stops; what is still pending
   * is refused with `closed` (in-flight QoS 1/2 messages stay in `session`).
   */
  disconnect(options: DisconnectOptions = {}): Promise<void> {
    const v = this.options.protocolVersion;
    const packet: DisconnectPacket = { type: "disconnect", reasonCode: v === 5 ? (options.reasonCode ?? 0) : 0 };
    if (v === 5) {
      const props: Properties = {};
      if (options.sessionExpiry !== undefined) {
        // a session expiry at DISCONNECT cannot turn a CONNECT's 0 into one (MQTT 5 §3.14.2.2.2)
        if (!this.options.sessionExpiry && options.sessionExpiry)
          return Promise.reject(new MqttError("incorrectuse", "a session expiry cannot be set at DISCONNECT when CONNECT had none"));
        props.sessionExpiryInterval = options.sessionExpiry;
      }
      if (options.reasonString !== undefined) props.reasonString = options.reasonString;
      if (options.userProperties) props.userProperties = options.userProperties;
      if (Object.keys(props).length) packet.properties = props;
    }
    try {
      encode(packet, v);
    } catch (e) {
      return Promise.reject(e);
    }
    const conn = this._conn;
    if (!conn?.established || !conn.sender) return this.close();
    if (this._state === "closing") return this._whenClosed();
    this._state = "closing";
    this._disconnect = packet;
    const p = this._whenClosed();
    // if the connection cannot take the DISCONNECT in time, close it anyway
    const cancel = this.rt.dispatcher.timer(this.options.connectTimeout, () =>
      conn.end(new MqttError("closed", "disconnected by the client")),
    );
    p.then(cancel, cancel);
    this._wake(conn);
    return p;
  }

  /**
   * Closes at once, without DISCONNECT (the server publishes the will). Reconnection stops;
   * pending operations are refused with `closed`. Resolves when the client is closed.
   */
  close(): Promise<void> {
    if (this._state === "idle" || this._state === "closed") return Promise.resolve();
    const p = this._whenClosed();
    if (this._state === "closing" && this._conn) {
      this._conn.end(new MqttError("closed", "closed by the client"));
      return p;
    }
    this._state = "closing";
    const conn = this._conn;
    if (conn) conn.end(new MqttError("closed", "closed by the client"));
    else this._finish(undefined); // waiting to reconnect
    return p;
  }

  private _whenClosed(): Promise<void> {
    return new Promise<void>((resolve, reject) => this._closeWaiters.push({ resolve, reject }));
  }

  stat(): ClientStat {
    return {
      state: this._state,
      queued: this._queue.bytes,
      queuedMessages: this._queue.length,
      inflight: this.session.inflight.size,
      incoming: this.session.incoming.size,
      requests: this._requests.size,
      ...this._stats,
      buffered: this._conn?.decoder.allocated ?? 0,
    };
  }
}
