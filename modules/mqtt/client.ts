/**
 * An MQTT 3.1.1 / 5 client on cosockets, shaped like the reference system's MQTT client:
 *
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
 */
import { isSocketError, toBytes, type Payload, type Runtime, type Socket } from "../cosock.js";
import { MqttError, protocolError } from "./errors.js";
import {
  PacketDecoder,
  checkTopicFilter,
  encode,
  publishSize,
  reasonName,
  type AckPacket,
  type ConnackPacket,
  type ConnectPacket,
  type DisconnectPacket,
  type Packet,
  type Properties,
  type ProtocolVersion,
  type PublishPacket,
  type QoS,
  type SubackPacket,
  type SubscribePacket,
  type UnsubackPacket,
  type UnsubscribePacket,
  type UserProperties,
} from "./packet/index.js";
import { propertiesLength } from "./packet/properties.js";
import { mqttDefaults, type MqttClientOptions, type MqttOptions } from "./options.js";
import { OutQueue } from "./queue.js";
import { Session, type Done, type InflightMessage, type OutgoingMessage, type PublishResult, type SubscriptionRecord } from "./session.js";
import type { MqttStream } from "./transport.js";

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
}

interface Events {
  connect: ConnectInfo;
  message: Message;
  disconnect: DisconnectInfo;
  close: MqttError | undefined;
  error: MqttError;
}

type Listener<T> = (value: T) => unknown;

/** A SUBSCRIBE or UNSUBSCRIBE awaiting its acknowledgement (re-sent on reconnect). */
interface Request {
  packet: SubscribePacket | UnsubscribePacket;
  /** Assigned when first sent. */
  packetId: number;
  done?: Done<SubscribeResult>;
  records?: SubscriptionRecord[];
}

type Job =
  | { kind: "publish"; msg: OutgoingMessage; done?: Done<PublishResult>; size: number }
  | { kind: "request"; req: Request; size: number };

/** One step of the sender: bytes to write, and what to do once they are written or not. */
interface Step {
  bytes: Uint8Array;
  sent?: () => void;
  failed?: (e: unknown) => void;
}

const PINGREQ = new Uint8Array([0xc0, 0]);
const V4_CONNACK_TO_V5 = [0, 0x84, 0x85, 0x88, 0x86, 0x87];

/** The state of one network connection. */
class Connection {
  sock!: Socket;
  stream!: MqttStream;
  sender: Socket | undefined;
  readonly decoder: PacketDecoder;
  established = false;
  closed = false;
  /** Set by whoever ends the connection on purpose, before closing the socket. */
  endReason: MqttError | undefined;
  /** What to resend first after CONNACK: subscriptions, unanswered requests, in-flight messages. */
  resend: (InflightMessage | Request)[] = [];
  // the server's limits, from CONNACK
  receiveMaximum = 65535;
  maxPacketSize = Infinity;
  topicAliasMaximum = 0;
  maximumQoS: QoS = 2;
  retainAvailable = true;
  keepalive = 0;
  readonly outAliases = new Map<string, number>();
  readonly inAliases = new Map<number, string>();
  /** PINGREQs sent since the server was last heard from. */
  pings = 0;
  cancelPing: (() => void) | undefined;

  constructor(version: ProtocolVersion, maxPacketSize: number) {
    this.decoder = new PacketDecoder({ protocolVersion: version, maxPacketSize });
  }
}

function hex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

function failure(code: number, reasonString: string | undefined, what: string): MqttError {
  const e = new MqttError("refused", `${what}${reasonString ? `: ${reasonString}` : ""}`, code);
  if (reasonString !== undefined) e.reasonString = reasonString;
  return e;
}

export class MqttClient {
  readonly rt: Runtime;
  readonly options: Readonly<MqttOptions>;
  readonly session: Session;
  #state: ClientState = "idle";
  #conn: Connection | undefined;
  #queue = new OutQueue<Job>();
  #requests = new Map<number, Request>();
  #listeners = new Map<keyof Events, Set<Listener<never>>>();
  /** Waiting `connect()` calls. */
  #waiters: Done<ConnectInfo>[] = [];
  /** A `connect()` from idle/closed fails at its first failed attempt instead of retrying. */
  #failFast = false;
  /** The next attempt is the first of a `connect()` call (MQTT 5 Clean Start applies). */
  #fresh = true;
  #closeWaiters: Done<void>[] = [];
  #cancelRetry: (() => void) | undefined;
  #failures = 0;
  #disconnect: DisconnectPacket | undefined;
  #info: ConnectInfo | undefined;
  #stats = { connects: 0, disconnects: 0, sent: 0, received: 0 };
  /** The session changed in a way the store must see before the next packet goes out. */
  #dirty = false;
  /** The store's save in progress (an asynchronous store). */
  #saving: Promise<void> | undefined;

  constructor(rt: Runtime, options: MqttClientOptions) {
    this.rt = rt;
    const o = { ...mqttDefaults, ...options } as MqttOptions;
    if (o.protocolVersion !== 4 && o.protocolVersion !== 5) throw new MqttError("incorrectuse", `unsupported protocol version ${o.protocolVersion}`);
    if (!o.host) throw new MqttError("incorrectuse", "host is required");
    if (o.protocolVersion === 4 && o.sessionExpiry) throw new MqttError("incorrectuse", "sessionExpiry needs MQTT 5 (3.1.1: use cleanStart false)");
    o.port ??= o.transport.defaultPort;
    o.clientId ??= o.session?.clientId ?? `cosock-${hex(rt.host.randomBytes(4))}`;
    this.options = Object.freeze(o);
    this.session = o.session ?? new Session(o.clientId);
    if (o.session) o.session.clientId = o.clientId;
  }

  get state(): ClientState {
    return this.#state;
  }

  get connected(): boolean {
    return this.#state === "connected";
  }

  // ---------------------------------------------------------------- events

  /** Listens: "connect", "message", "disconnect" (each lost connection), "close" (the client stopped), "error". */
  on<K extends keyof Events>(event: K, fn: Listener<Events[K]>): this {
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(fn as Listener<never>);
    return this;
  }

  off<K extends keyof Events>(event: K, fn: Listener<Events[K]>): this {
    this.#listeners.get(event)?.delete(fn as Listener<never>);
    return this;
  }

  #emit<K extends keyof Events>(event: K, value: Events[K]): unknown[] {
    const set = this.#listeners.get(event) as Set<Listener<Events[K]>> | undefined;
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
    if (this.#state === "closing") return Promise.reject(new MqttError("incorrectuse", "the client is closing"));
    if (this.#state === "connected") return Promise.resolve(this.#info!);
    const p = new Promise<ConnectInfo>((resolve, reject) => this.#waiters.push({ resolve, reject }));
    if (this.#state === "idle" || this.#state === "closed") {
      this.#failFast = true;
      this.#fresh = true;
      this.#failures = 0;
      this.#disconnect = undefined;
      this.#attempt();
    }
    return p;
  }

  #attempt(): void {
    this.#cancelRetry = undefined;
    this.#state = this.#stats.connects > 0 && !this.#failFast ? "reconnecting" : "connecting";
    const conn = new Connection(this.options.protocolVersion, this.options.maxPacketSize);
    this.#conn = conn;
    try {
      this.rt.event(this.#run, conn);
    } catch (e) {
      this.#ended(conn, e); // the runtime is shut down
    }
  }

  /** The connection cosocket. */
  #run = async (sock: Socket, conn: Connection): Promise<void> => {
    conn.sock = sock;
    let error: unknown;
    try {
      const o = this.options;
      conn.stream = await o.transport.open(sock, o.host, o.port!, { timeout: o.connectTimeout });
      if (conn.endReason) return; // closed while connecting
      await this.#write(conn, this.#connectPacket());
      await this.#readLoop(conn);
    } catch (e) {
      error = e;
    } finally {
      this.#ended(conn, error);
    }
  };

  #connectPacket(): ConnectPacket {
    const o = this.options;
    const v = o.protocolVersion;
    const p: ConnectPacket = {
      type: "connect",
      protocolVersion: v,
      clientId: this.session.clientId,
      cleanStart: v === 5 ? this.#fresh && o.cleanStart : o.cleanStart,
      keepalive: o.keepalive,
    };
    if (o.username !== undefined) p.username = o.username;
    if (o.password !== undefined) p.password = toBytes(o.password);
    if (o.will) {
      const w = o.will;
      p.will = { topic: w.topic, payload: toBytes(w.payload), qos: w.qos ?? 0, retain: w.retain ?? false };
      if (w.properties) p.will.properties = w.properties;
    }
    if (v === 5) {
      const props: Properties = {};
      if (o.sessionExpiry) props.sessionExpiryInterval = o.sessionExpiry;
      if (o.receiveMaximum !== 65535) props.receiveMaximum = o.receiveMaximum;
      if (o.maxPacketSize < mqttDefaults.maxPacketSize) props.maximumPacketSize = o.maxPacketSize;
      if (o.topicAliasMaximum) props.topicAliasMaximum = o.topicAliasMaximum;
      if (o.userProperties) props.userProperties = o.userProperties;
      if (Object.keys(props).length) p.properties = props;
    }
    return p;
  }

  async #readLoop(conn: Connection): Promise<void> {
    const deadline = this.rt.host.now() + this.options.connectTimeout;
    for (;;) {
      let data: Uint8Array | null;
      if (!conn.established) {
        const left = deadline - this.rt.host.now();
        try {
          if (left <= 0) throw new MqttError("timeout", `no CONNACK within ${this.options.connectTimeout} ms`);
          data = await conn.stream.read(left);
        } catch (e) {
          if (isSocketError(e, "timeout")) throw new MqttError("timeout", `no CONNACK within ${this.options.connectTimeout} ms`);
          throw e;
        }
      } else data = await conn.stream.read();
      if (data === null) throw new MqttError("connectionlost", "the server closed the connection");
      conn.pings = 0; // the server is alive
      for (const p of conn.decoder.feed(data)) {
        this.#stats.received++;
        if (conn.endReason) return;
        if (conn.established) await this.#handle(conn, p);
        else if (p.type === "connack") this.#onConnack(conn, p);
        else throw protocolError(`expected CONNACK, got ${p.type.toUpperCase()}`);
        if (this.#dirty) await this.#flush(conn); // completions and subscriptions, without waiting for a write
      }
    }
  }

  #onConnack(conn: Connection, p: ConnackPacket): void {
    const o = this.options;
    const v = o.protocolVersion;
    const props = p.properties ?? {};
    if (p.reasonCode !== 0) {
      const code = v === 5 ? p.reasonCode : (V4_CONNACK_TO_V5[p.reasonCode] ?? 0x80);
      const e = new MqttError("connectionrefused", `${reasonName(p.reasonCode, v === 4)}${props.reasonString ? `: ${props.reasonString}` : ""}`, code);
      if (props.reasonString !== undefined) e.reasonString = props.reasonString;
      throw e;
    }
    conn.established = true;
    conn.receiveMaximum = props.receiveMaximum ?? 65535;
    conn.maxPacketSize = props.maximumPacketSize ?? Infinity;
    conn.topicAliasMaximum = o.topicAliases ? (props.topicAliasMaximum ?? 0) : 0;
    conn.maximumQoS = props.maximumQoS ?? 2;
    conn.retainAvailable = props.retainAvailable !== 0;
    conn.keepalive = props.serverKeepAlive ?? o.keepalive;
    if (props.assignedClientIdentifier) {
      this.session.clientId = props.assignedClientIdentifier;
      this.#touch();
    }

    // what to send before anything queued: lost subscriptions, unanswered requests, in-flight messages
    if (!p.sessionPresent) {
      if (this.session.incoming.size) this.#touch();
      this.session.incoming.clear();
      if (o.resubscribe) {
        for (const r of this.session.subscriptions.values()) {
          const { subscriptionIdentifier, userProperties, ...sub } = r;
          const properties: Properties = {};
          if (subscriptionIdentifier !== undefined) properties.subscriptionIdentifier = subscriptionIdentifier;
          if (userProperties) properties.userProperties = userProperties;
          const packet: SubscribePacket = { type: "subscribe", packetId: 0, subscriptions: [sub] };
          if (v === 5 && Object.keys(properties).length) packet.properties = properties;
          conn.resend.push({ packet, packetId: 0, records: [r] });
        }
      }
    }
    // one by one, not push(...values): a call's arguments are on the stack (XS: a slot each; a
    // device has 384), and maxInflight or a restored session may hold hundreds
    for (const r of this.#requests.values()) conn.resend.push(r);
    for (const m of this.session.inflight.values()) conn.resend.push(m);

    this.#state = "connected";
    this.#stats.connects++;
    this.#failures = 0;
    this.#failFast = false;
    this.#fresh = false;
    conn.sender = this.rt.event(this.#sender, conn);
    if (conn.keepalive > 0) this.#startPinger(conn);
    const info: ConnectInfo = { sessionPresent: p.sessionPresent, reasonCode: p.reasonCode, clientId: this.session.clientId };
    if (p.properties) info.properties = p.properties;
    this.#info = info;
    for (const w of this.#waiters.splice(0)) w.resolve(info);
    this.#emit("connect", info);
  }

  #startPinger(conn: Connection): void {
    const interval = (conn.keepalive * 1000) / 2;
    const tick = (): void => {
      conn.cancelPing = undefined;
      if (conn.closed) return;
      if (conn.pings >= 2) {
        this.#end(conn, new MqttError("timeout", `the server did not answer 2 PINGREQs (keepalive ${conn.keepalive} s)`, 0x8d));
        return;
      }
      conn.pings++;
      try {
        conn.stream.trywrite(PINGREQ); // a full queue counts as unanswered too
        this.#stats.sent++;
      } catch {
        /* the reader sees the failure */
      }
      conn.cancelPing = this.rt.dispatcher.timer(interval, tick);
    };
    conn.cancelPing = this.rt.dispatcher.timer(interval, tick);
  }

  /** Ends a connection on purpose: the reader wakes with `socketclosed` and `reason` is used. */
  #end(conn: Connection, reason: MqttError): void {
    conn.endReason ??= reason;
    conn.sock?.close();
  }

  /** Called once per connection when its cosocket finishes. */
  #ended(conn: Connection, error: unknown): void {
    if (conn.closed) return;
    conn.closed = true;
    conn.cancelPing?.();
    conn.cancelPing = undefined;
    conn.sender?.close();
    if (this.#conn === conn) this.#conn = undefined;
    const reason = conn.endReason ?? this.#asMqttError(error);
    // tell an MQTT 5 server why we end the connection
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
    if (conn.established) this.#stats.disconnects++;

    if (this.#state === "closing") return this.#finish(undefined);
    if (this.#failFast || isSocketError(error, "sysshutdown")) return this.#finish(reason);
    const r = this.options.reconnect;
    if (r === false || reason.reasonCode === 0x8e /* session taken over: retrying would fight */) {
      this.#emit("disconnect", { error: reason, reconnecting: false });
      return this.#finish(reason);
    }
    const delay = Math.min(r.maxDelay, r.delay * Math.pow(r.factor, this.#failures));
    this.#failures++;
    this.#state = "reconnecting";
    this.#emit("disconnect", { error: reason, reconnecting: true, delay });
    if (this.#state !== "reconnecting") return; // a listener closed the client
    this.#cancelRetry = this.rt.dispatcher.timer(delay, () => this.#attempt());
  }

  #asMqttError(e: unknown): MqttError {
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
  #finish(reason: MqttError | undefined): void {
    this.#cancelRetry?.();
    this.#cancelRetry = undefined;
    this.#state = "closed";
    this.#disconnect = undefined;
    const err = reason ?? new MqttError("closed", "the client was closed");
    const refuse = (done: Done<never> | undefined) => done?.reject(err);
    for (const w of this.#waiters.splice(0)) w.reject(err);
    for (const job of this.#queue.drain()) refuse(job.kind === "publish" ? job.done : job.req.done);
    for (const req of this.#requests.values()) refuse(req.done);
    this.#requests.clear();
    for (const m of this.session.inflight.values()) {
      const d = m.done;
      m.done = undefined;
      refuse(d);
    }
    for (const w of this.#closeWaiters.splice(0)) w.resolve();
    this.#emit("close", reason);
  }

  // ---------------------------------------------------------------- the session store

  /** Marks the session as changed for the `store`. */
  #touch(): void {
    if (this.options.store) this.#dirty = true;
  }

  /**
   * Brings the `store` up to the session in memory (and waits for a save in progress). The rule
   * (docs/mqtt.md): no packet is written while the store is behind the session — `#write` calls
   * this first — so what the server has been told is never ahead of what a restarted process
   * restores: a QoS 1/2 message is stored before its PUBLISH, its "pubrel" state before the
   * PUBREL, an incoming QoS 2 identifier before the PUBREC and its removal before the PUBCOMP.
   * Completions and subscription changes are saved as soon as they are read. A store that fails
   * ends the connection (`storefailed`); the reconnection tries again.
   */
  async #flush(conn: Connection): Promise<void> {
    const store = this.options.store;
    if (!store) return;
    try {
      while (this.#dirty || this.#saving) {
        if (this.#saving) {
          await this.#saving;
          continue;
        }
        this.#dirty = false;
        let r: void | Promise<void>;
        try {
          r = store.save(this.session.save());
        } catch (e) {
          this.#dirty = true;
          throw e;
        }
        if (r && typeof (r as Promise<void>).then === "function") {
          const saving = Promise.resolve(r).then(
            () => {
              this.#saving = undefined;
            },
            (e: unknown) => {
              this.#saving = undefined;
              this.#dirty = true;
              throw e;
            },
          );
          this.#saving = saving;
          await saving;
        }
      }
    } catch (e) {
      const err = e instanceof MqttError && e.code === "storefailed" ? e : new MqttError("storefailed", `the session store failed: ${(e as Error)?.message ?? e}`);
      this.#end(conn, err);
      throw err;
    }
  }

  // ---------------------------------------------------------------- the sender cosocket

  #sender = async (self: Socket, conn: Connection): Promise<void> => {
    while (!conn.closed) {
      const step = this.#next(conn);
      if (!step) {
        await self.disable();
        continue;
      }
      try {
        await this.#write(conn, step.bytes);
      } catch (e) {
        step.failed?.(e);
        return; // the reader ends the connection
      }
      step.sent?.();
    }
  };

  async #write(conn: Connection, packet: Packet | Uint8Array): Promise<void> {
    const bytes = packet instanceof Uint8Array ? packet : encode(packet, this.options.protocolVersion);
    if (this.#dirty || this.#saving) await this.#flush(conn); // the store first (see #flush)
    await conn.stream.write(bytes);
    this.#stats.sent++;
  }

  #wake(conn: Connection | undefined = this.#conn): void {
    conn?.sender?.enable();
  }

  /** The sender's next step: resends first, then the queue (within the in-flight window), then DISCONNECT. */
  #next(conn: Connection): Step | undefined {
    const v = this.options.protocolVersion;
    while (conn.resend.length) {
      const item = conn.resend.shift()!;
      if ("state" in item) {
        if (this.session.inflight.get(item.packetId) !== item) continue; // completed meanwhile
        if (item.state === "pubrel") return { bytes: encode({ type: "pubrel", packetId: item.packetId, reasonCode: 0 }, v) };
        const step = this.#publishStep(conn, item, true);
        if (step) return step;
        continue;
      }
      if (item.packetId && this.#requests.get(item.packetId) !== item) continue;
      return this.#requestStep(item);
    }
    let job = this.#queue.peek();
    while (job) {
      if (job.kind === "publish" && job.msg.qos > 0 && this.session.inflight.size >= this.#window(conn)) break;
      this.#queue.shift();
      if (job.kind === "request") return this.#requestStep(job.req);
      const step = this.#jobStep(conn, job);
      if (step) return step;
      job = this.#queue.peek(); // that one was refused; on to the next
    }
    // DISCONNECT once nothing queued can go out now (what waits for the in-flight window stays)
    const d = this.#disconnect;
    if (d) {
      this.#disconnect = undefined;
      return {
        bytes: encode(d, v),
        sent: () => this.#end(conn, new MqttError("closed", "disconnected by the client")),
        failed: () => this.#end(conn, new MqttError("closed", "disconnected by the client")),
      };
    }
    return undefined;
  }

  #window(conn: Connection): number {
    return Math.max(1, Math.min(conn.receiveMaximum, this.options.maxInflight));
  }

  #requestStep(req: Request): Step {
    if (!req.packetId) {
      req.packetId = this.session.allocate((id) => this.#requests.has(id));
      req.packet.packetId = req.packetId;
      this.#requests.set(req.packetId, req);
    }
    return { bytes: encode(req.packet, this.options.protocolVersion) };
  }

  /** A queued publication becomes a packet (QoS 1/2: an in-flight message with a packet id). */
  #jobStep(conn: Connection, job: Job & { kind: "publish" }): Step | undefined {
    const m = job.msg;
    const limit = this.#limitError(conn, m);
    if (limit) {
      this.#refuse(job.done, limit, m.topic);
      return undefined;
    }
    if (m.qos === 0) {
      let bytes: Uint8Array;
      try {
        bytes = this.#encodePublish(conn, m, undefined, false);
      } catch (e) {
        this.#refuse(job.done, e as MqttError, m.topic);
        return undefined;
      }
      return { bytes, sent: () => job.done?.resolve({ reasonCode: 0 }), failed: (e) => job.done?.reject(this.#asMqttError(e)) };
    }
    const packetId = this.session.allocate((id) => this.#requests.has(id));
    const entry: InflightMessage = { ...m, qos: m.qos as 1 | 2, packetId, state: "publish" };
    if (job.done) entry.done = job.done;
    this.session.inflight.set(packetId, entry);
    this.#touch(); // saved before the PUBLISH is written
    const step = this.#publishStep(conn, entry, false);
    return step;
  }

  #publishStep(conn: Connection, entry: InflightMessage, dup: boolean): Step | undefined {
    try {
      return { bytes: this.#encodePublish(conn, entry, entry.packetId, dup) };
    } catch (e) {
      this.session.inflight.delete(entry.packetId);
      this.#touch();
      this.#refuse(entry.done, e as MqttError, entry.topic);
      return undefined;
    }
  }

  #limitError(conn: Connection, m: OutgoingMessage): MqttError | undefined {
    if (m.qos > conn.maximumQoS) return failure(0x9b, undefined, `QoS ${m.qos} is over the server's maximum QoS ${conn.maximumQoS}`);
    if (m.retain && !conn.retainAvailable) return failure(0x9a, undefined, "the server does not support retained messages");
    return undefined;
  }

  #refuse(done: Done<PublishResult> | undefined, e: MqttError, topic: string): void {
    if (done) done.reject(e);
    else this.#emit("error", new MqttError(e.code, `publish to "${topic}" not sent: ${e.message}`, e.reasonCode));
  }

  /** Encodes a PUBLISH for this connection, with an automatic topic alias where the server allows. */
  #encodePublish(conn: Connection, m: OutgoingMessage, packetId: number | undefined, dup: boolean): Uint8Array {
    const v = this.options.protocolVersion;
    const p: PublishPacket = { type: "publish", topic: m.topic, payload: m.payload, qos: m.qos, retain: m.retain, dup };
    if (packetId !== undefined) p.packetId = packetId;
    if (m.properties) p.properties = m.properties;
    let newAlias = false;
    if (v === 5 && conn.topicAliasMaximum > 0) {
      let alias = conn.outAliases.get(m.topic);
      if (alias !== undefined) p.topic = "";
      else if (conn.outAliases.size < conn.topicAliasMaximum) {
        alias = conn.outAliases.size + 1;
        conn.outAliases.set(m.topic, alias);
        newAlias = true;
      }
      if (alias !== undefined) p.properties = { ...m.properties, topicAlias: alias };
    }
    const bytes = encode(p, v);
    if (bytes.length > conn.maxPacketSize) {
      if (newAlias) conn.outAliases.delete(m.topic);
      throw new MqttError("packettoolarge", `PUBLISH of ${bytes.length} bytes is over the server's maximum packet size ${conn.maxPacketSize}`, 0x95);
    }
    return bytes;
  }

  // ---------------------------------------------------------------- the reader's packet handling

  async #handle(conn: Connection, p: Packet): Promise<void> {
    const v = this.options.protocolVersion;
    const inflight = this.session.inflight;
    switch (p.type) {
      case "publish":
        return this.#onPublish(conn, p);
      case "puback": {
        const m = inflight.get(p.packetId);
        if (m && m.qos === 1) return this.#completed(conn, m, p);
        return;
      }
      case "pubrec": {
        const m = inflight.get(p.packetId);
        if (m && m.qos === 2 && m.state === "publish" && p.reasonCode >= 0x80) return this.#completed(conn, m, p);
        if (m && m.qos === 2 && m.state === "publish") {
          m.state = "pubrel";
          m.pubrecReason = p.reasonCode; // reported with the PUBCOMP's (0x10: no matching subscribers)
          this.#touch(); // saved before the PUBREL is written: the PUBLISH must never be resent after it
        }
        const code = m || v === 4 ? 0 : 0x92;
        return this.#write(conn, { type: "pubrel", packetId: p.packetId, reasonCode: code });
      }
      case "pubcomp": {
        const m = inflight.get(p.packetId);
        if (m && m.qos === 2 && m.state === "pubrel") return this.#completed(conn, m, p);
        return;
      }
      case "pubrel": {
        const had = this.session.incoming.delete(p.packetId);
        if (had) this.#touch(); // saved before the PUBCOMP: the server may then reuse the identifier
        return this.#write(conn, { type: "pubcomp", packetId: p.packetId, reasonCode: had || v === 4 ? 0 : 0x92 });
      }
      case "suback":
      case "unsuback":
        return this.#onAck(conn, p);
      case "pingresp":
        return;
      case "disconnect": {
        const rs = p.properties?.reasonString;
        const e = new MqttError("disconnected", `the server disconnected${rs ? `: ${rs}` : ""}`, p.reasonCode);
        if (rs !== undefined) e.reasonString = rs;
        throw e;
      }
      default:
        throw protocolError(`a client does not accept ${p.type.toUpperCase()}`);
    }
  }

  /** A publication is complete: out of the session (and of the store, before its promise settles). */
  async #completed(conn: Connection, m: InflightMessage, p: AckPacket): Promise<void> {
    this.session.inflight.delete(m.packetId);
    this.#touch();
    if (this.#dirty) await this.#flush(conn);
    const rs = p.properties?.reasonString;
    if (p.reasonCode >= 0x80) this.#refuse(m.done, failure(p.reasonCode, rs, `publish to "${m.topic}" refused`), m.topic);
    else {
      const r: PublishResult = { reasonCode: p.reasonCode };
      if (m.pubrecReason !== undefined) r.pubrecReason = m.pubrecReason;
      if (rs !== undefined) r.reasonString = rs;
      if (p.properties) r.properties = p.properties;
      m.done?.resolve(r);
    }
    this.#wake(conn); // a slot of the in-flight window is free
  }

  async #onAck(conn: Connection, p: SubackPacket | UnsubackPacket): Promise<void> {
    const req = this.#requests.get(p.packetId);
    if (!req || (req.packet.type === "subscribe") !== (p.type === "suback")) return;
    this.#requests.delete(p.packetId);
    if (req.records || req.packet.type === "unsubscribe") this.#touch();
    if (req.records) {
      req.records.forEach((r, i) => {
        const code = p.reasonCodes[i] ?? 0x80;
        if (code < 0x80) this.session.subscriptions.set(r.topic, r);
        else {
          this.session.subscriptions.delete(r.topic);
          if (!req.done) this.#emit("error", failure(code, p.properties?.reasonString, `resubscribing to "${r.topic}" failed`));
        }
      });
    } else if (req.packet.type === "unsubscribe") for (const t of req.packet.topics) this.session.subscriptions.delete(t);
    if (this.#dirty) await this.#flush(conn); // stored before the caller hears of it
    const r: SubscribeResult = { reasonCodes: p.reasonCodes };
    if (p.properties?.reasonString !== undefined) r.reasonString = p.properties.reasonString;
    if (p.properties) r.properties = p.properties;
    req.done?.resolve(r);
  }

  async #onPublish(conn: Connection, p: PublishPacket): Promise<void> {
    const o = this.options;
    let topic = p.topic;
    if (o.protocolVersion === 5) {
      const alias = p.properties?.topicAlias;
      if (alias !== undefined) {
        if (alias > o.topicAliasMaximum) throw protocolError(`topic alias ${alias} is over our maximum ${o.topicAliasMaximum}`, 0x94);
        if (topic) conn.inAliases.set(alias, topic);
        else {
          const known = conn.inAliases.get(alias);
          if (known === undefined) throw protocolError(`topic alias ${alias} was never defined`);
          topic = known;
        }
      } else if (!topic) throw protocolError("PUBLISH without a topic name or alias");
    }
    const msg: Message = { topic, payload: p.payload, qos: p.qos, retain: p.retain, dup: p.dup };
    if (p.properties) msg.properties = p.properties;
    const id = p.packetId!;
    if (p.qos === 0) return this.#deliver(msg);
    if (p.qos === 1) {
      await this.#deliver(msg);
      return this.#write(conn, { type: "puback", packetId: id, reasonCode: 0 });
    }
    // QoS 2 (method B): deliver once, remember the id until PUBREL
    const incoming = this.session.incoming;
    if (!incoming.has(id)) {
      if (incoming.size >= o.receiveMaximum) throw protocolError(`more than ${o.receiveMaximum} QoS 2 messages in flight`, 0x93);
      incoming.add(id);
      this.#touch(); // saved after delivery, before the PUBREC
      await this.#deliver(msg);
    }
    return this.#write(conn, { type: "pubrec", packetId: id, reasonCode: 0 });
  }

  /** Gives a message to the "message" listeners; waits for those that return a promise. */
  async #deliver(msg: Message): Promise<void> {
    const results = this.#emit("message", msg);
    const pending = results.filter((r) => r && typeof (r as Promise<unknown>).then === "function") as Promise<unknown>[];
    if (pending.length === 0) return;
    for (const r of await Promise.allSettled(pending))
      if (r.status === "rejected") this.rt.options.log(`mqtt: a "message" listener failed: ${(r.reason as Error)?.stack ?? r.reason}`);
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
    let job: Job & { kind: "publish" };
    try {
      job = this.#publishJob(topic, payload, options);
      this.#checkRoom();
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise<PublishResult>((resolve, reject) => {
      job.done = { resolve, reject };
      this.#enqueue(job);
    });
  }

  /**
   * Publishes without a promise and without ever suspending, like a socket's `trywrite`: true when
   * queued, or the number of bytes queued when the queue is full (nothing is taken). A failure
   * later (refused by the server) is reported by the "error" event. Throws for bad arguments.
   */
  trypublish(topic: string, payload: Payload, options: PublishOptions = {}): true | number {
    const job = this.#publishJob(topic, payload, options);
    if (this.#queue.bytes >= this.options.queuelen && this.#queue.length > 0) return this.#queue.bytes;
    this.#enqueue(job);
    return true;
  }

  #checkState(): void {
    if (this.#state === "closing" || this.#state === "closed")
      throw new MqttError("closed", `the client is ${this.#state}; connect() again to use it`);
  }

  #checkRoom(): void {
    const q = this.#queue;
    if (q.bytes >= this.options.queuelen && q.length > 0) {
      const e = new MqttError("queuefull", `the outgoing queue holds ${q.bytes} bytes (queuelen ${this.options.queuelen})`);
      e.queued = q.bytes;
      throw e;
    }
  }

  #enqueue(job: Job): void {
    this.#queue.push(job);
    this.#wake();
  }

  #publishJob(topic: string, payload: Payload, options: PublishOptions): Job & { kind: "publish" } {
    this.#checkState();
    const v = this.options.protocolVersion;
    const qos = options.qos ?? 0;
    const msg: OutgoingMessage = { topic, payload: toBytes(payload), qos, retain: options.retain ?? false };
    const props = options.properties;
    if (props) {
      if (v === 4) throw new MqttError("incorrectuse", "PUBLISH properties need MQTT 5");
      if (props.topicAlias !== undefined) throw new MqttError("incorrectuse", "topic aliases are assigned by the client (option topicAliases)");
      if (props.subscriptionIdentifier !== undefined || props.subscriptionIdentifiers !== undefined)
        throw new MqttError("incorrectuse", "a client must not send subscription identifiers in PUBLISH");
      propertiesLength(props, "publish"); // validates
      msg.properties = props;
    }
    // validates topic, QoS and sizes; the size is what the message takes in the queue
    const size = publishSize({ type: "publish", ...msg, dup: false, packetId: qos > 0 ? 1 : undefined }, v);
    const conn = this.#conn;
    if (conn?.established) {
      const limit = this.#limitError(conn, msg);
      if (limit) throw limit;
      if (size > conn.maxPacketSize)
        throw new MqttError("packettoolarge", `PUBLISH of ${size} bytes is over the server's maximum packet size ${conn.maxPacketSize}`, 0x95);
    }
    return { kind: "publish", msg, size };
  }

  /**
   * Subscribes to one or more topic filters (strings with `options`, or full subscriptions).
   * Resolves with the SUBACK's reason codes, one per filter: the granted QoS or a failure code.
   * Granted subscriptions are restored after a reconnect if the server lost the session.
   */
  subscribe(filters: string | string[] | SubscriptionRecord[], options: SubscribeOptions = {}): Promise<SubscribeResult> {
    try {
      this.#checkState();
      const v = this.options.protocolVersion;
      const list = (Array.isArray(filters) ? filters : [filters]) as (string | SubscriptionRecord)[];
      const records: SubscriptionRecord[] = list.map((f) => {
        const r: SubscriptionRecord =
          typeof f === "string"
            ? { topic: f, qos: options.qos ?? 0 }
            : { ...f };
        if (typeof f === "string" && v === 5) {
          r.noLocal = options.noLocal ?? false;
          r.retainAsPublished = options.retainAsPublished ?? false;
          r.retainHandling = options.retainHandling ?? 0;
        }
        checkTopicFilter(r.topic);
        if (options.subscriptionIdentifier !== undefined) r.subscriptionIdentifier = options.subscriptionIdentifier;
        if (options.userProperties) r.userProperties = options.userProperties;
        return r;
      });
      const subscriptions = records.map(({ subscriptionIdentifier: _s, userProperties: _u, ...sub }) => sub);
      const packet: SubscribePacket = { type: "subscribe", packetId: 0, subscriptions };
      if (v === 5) {
        const properties: Properties = {};
        if (options.subscriptionIdentifier !== undefined) properties.subscriptionIdentifier = options.subscriptionIdentifier;
        if (options.userProperties) properties.userProperties = options.userProperties;
        if (Object.keys(properties).length) packet.properties = properties;
      } else if (options.subscriptionIdentifier !== undefined || options.userProperties)
        throw new MqttError("incorrectuse", "subscription identifiers and user properties need MQTT 5");
      return this.#request(packet, records);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Unsubscribes; resolves with the UNSUBACK's reason codes (MQTT 5; empty in 3.1.1). */
  unsubscribe(filters: string | string[], options: { userProperties?: UserProperties } = {}): Promise<SubscribeResult> {
    try {
      this.#checkState();
      const topics = Array.isArray(filters) ? filters : [filters];
      for (const t of topics) checkTopicFilter(t);
      const packet: UnsubscribePacket = { type: "unsubscribe", packetId: 0, topics };
      if (options.userProperties) {
        if (this.options.protocolVersion !== 5) throw new MqttError("incorrectuse", "user properties need MQTT 5");
        packet.properties = { userProperties: options.userProperties };
      }
      return this.#request(packet, undefined);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  #request(packet: SubscribePacket | UnsubscribePacket, records: SubscriptionRecord[] | undefined): Promise<SubscribeResult> {
    const size = encode({ ...packet, packetId: 1 }, this.options.protocolVersion).length; // validates
    this.#checkRoom();
    return new Promise<SubscribeResult>((resolve, reject) => {
      const req: Request = { packet, packetId: 0, done: { resolve, reject } };
      if (records) req.records = records;
      this.#enqueue({ kind: "request", req, size });
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
    const conn = this.#conn;
    if (!conn?.established || !conn.sender) return this.close();
    if (this.#state === "closing") return this.#closed();
    this.#state = "closing";
    this.#disconnect = packet;
    const p = this.#closed();
    // if the connection cannot take the DISCONNECT in time, close it anyway
    const cancel = this.rt.dispatcher.timer(this.options.connectTimeout, () => this.#end(conn, new MqttError("closed", "disconnected by the client")));
    p.then(cancel, cancel);
    this.#wake(conn);
    return p;
  }

  /**
   * Closes at once, without DISCONNECT (the server publishes the will). Reconnection stops;
   * pending operations are refused with `closed`. Resolves when the client is closed.
   */
  close(): Promise<void> {
    if (this.#state === "idle" || this.#state === "closed") return Promise.resolve();
    const p = this.#closed();
    if (this.#state === "closing" && this.#conn) {
      this.#end(this.#conn, new MqttError("closed", "closed by the client"));
      return p;
    }
    this.#state = "closing";
    const conn = this.#conn;
    if (conn) this.#end(conn, new MqttError("closed", "closed by the client"));
    else this.#finish(undefined); // waiting to reconnect
    return p;
  }

  #closed(): Promise<void> {
    return new Promise<void>((resolve, reject) => this.#closeWaiters.push({ resolve, reject }));
  }

  stat(): ClientStat {
    return {
      state: this.#state,
      queued: this.#queue.bytes,
      queuedMessages: this.#queue.length,
      inflight: this.session.inflight.size,
      incoming: this.session.incoming.size,
      requests: this.#requests.size,
      ...this.#stats,
    };
  }
}
