/**
 * The MQTT client against a scripted server (fake-broker.ts, which parses and generates with
 * mqtt-packet): keepalive failure against a peer that stops answering, server keepalive, receive
 * maximum, topic aliases both ways, reason codes and strings, resend with DUP after a reconnect,
 * bad packets from the server, the bounded outgoing queue, and what goes into CONNECT.
 */
import { createServer, type AddressInfo } from "node:net";
import { decodeUtf8 } from "../../src/index.js";
import { type MqttClient, MqttError, type DisconnectInfo } from "../../modules/mqtt/index.js";
import { type FakeBroker, scriptedBrokers, type FakeConnection } from "./fake-broker.js";
import { Inbox, next } from "./helpers.js";

const brokers = scriptedBrokers();
const { fake, client } = brokers;

/** Connects `c` to the fake broker, which answers CONNACK (with `connack`); the server's side and the CONNECT it read. */
async function connectTo(c: MqttClient, f: FakeBroker, connack?: Parameters<FakeConnection["accept"]>[0]) {
  const connected = c.connect();
  const conn = await f.connection();
  const connect = await conn.accept(connack);
  await connected;
  return { conn, connect };
}

async function rejection(p: Promise<unknown>): Promise<MqttError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(MqttError);
    return e as MqttError;
  }
  throw new Error("expected a rejection");
}

describe.each([4, 5] as const)("MQTT v%i", (v) => {
  it("keepalive: PINGREQ every keepalive/2; a server that stops answering is detected after 2 missed", async () => {
    const f = await fake(v);
    const c = client(f, { keepalive: 1 });
    const { conn } = await connectTo(c, f); // CONNACK, and then silence
    const start = Date.now();
    const closed = next<MqttError>(c, "close");
    const reason = await closed;
    const elapsed = Date.now() - start;
    expect(reason.code).toBe("timeout");
    expect(reason.reasonCode).toBe(0x8d);
    expect(conn.packets.filter((p) => p.cmd === "pingreq")).toHaveLength(2);
    expect(elapsed).toBeGreaterThanOrEqual(1400);
    expect(elapsed).toBeLessThan(3000);
    await conn.closed();
    expect(c.state).toBe("closed");
  });

  it("keepalive: answered PINGREQs keep the connection; a lost one with reconnect on leads to a new connection", async () => {
    const f = await fake(v);
    const c = client(f, { keepalive: 1, reconnect: { delay: 20, maxDelay: 100, factor: 2 } });
    const { conn } = await connectTo(c, f);
    for (let i = 0; i < 2; i++) {
      await conn.next("pingreq");
      conn.send({ cmd: "pingresp" });
    }
    expect(c.state).toBe("connected");
    const lost = next<DisconnectInfo>(c, "disconnect"); // now stop answering
    const info = await lost;
    expect(info).toMatchObject({ reconnecting: true, delay: 20 });
    expect(info.error.code).toBe("timeout");
    const again = await f.connection();
    await again.accept();
    await next(c, "connect");
  });

  it('a "disconnect" listener can stop the reconnection by closing the client', async () => {
    const f = await fake(v);
    const c = client(f, { reconnect: { delay: 20, maxDelay: 100, factor: 2 } });
    c.on("disconnect", () => void c.close());
    const { conn } = await connectTo(c, f);
    const closed = next<MqttError | undefined>(c, "close");
    conn.destroy();
    expect(await closed).toBeUndefined(); // closed by the user, not by a failure
    expect(c.state).toBe("closed");
    await expect(c.publish("t", "x")).rejects.toMatchObject({ code: "closed" });
  });

  it("in-flight QoS 1 and 2 messages are resent after a reconnect: PUBLISH with DUP, PUBREL where PUBREC came", async () => {
    const f = await fake(v);
    const c = client(f, {
      reconnect: { delay: 20, maxDelay: 100, factor: 2 },
      clientId: "resend",
      cleanStart: v === 4 ? false : true,
      sessionExpiry: v === 5 ? 60 : 0,
    });
    const connected = c.connect();
    const first = await f.connection();
    const connect1 = await first.accept();
    expect(connect1.clean).toBe(v === 5); // MQTT 5 Clean Start on the first connect only
    await connected;
    const q1 = c.publish("r/one", "first", { qos: 1 });
    const q2 = c.publish("r/two", "second", { qos: 2 });
    const p1 = await first.next("publish");
    const p2 = await first.next("publish");
    expect([p1.dup, p2.dup]).toEqual([false, false]);
    first.send({ cmd: "pubrec", messageId: p2.messageId });
    await first.next("pubrel");
    first.destroy(); // the connection drops: PUBACK for one and PUBCOMP for two never came
    const second = await f.connection();
    const connect2 = await second.accept({ sessionPresent: true });
    expect(connect2.clean).toBe(false);
    const r1 = await second.next();
    expect(r1).toMatchObject({ cmd: "publish", dup: true, qos: 1, messageId: p1.messageId, topic: "r/one" });
    expect(decodeUtf8(r1.payload as Uint8Array)).toBe("first");
    const r2 = await second.next();
    expect(r2).toMatchObject({ cmd: "pubrel", messageId: p2.messageId });
    second.send({ cmd: "puback", messageId: p1.messageId });
    second.send({ cmd: "pubcomp", messageId: p2.messageId });
    expect((await q1).reasonCode).toBe(0);
    expect((await q2).reasonCode).toBe(0);
    expect(c.stat().inflight).toBe(0);
  });

  it("an incoming QoS 2 message resent after a reconnect is delivered once", async () => {
    const f = await fake(v);
    const c = client(f, {
      reconnect: { delay: 20, maxDelay: 100, factor: 2 },
      clientId: "dedupe",
      cleanStart: false,
      sessionExpiry: v === 5 ? 60 : 0,
    });
    const inbox = new Inbox(c);
    const { conn: first } = await connectTo(c, f);
    first.send({ cmd: "publish", topic: "d/x", payload: Buffer.from("once"), qos: 2, messageId: 5, dup: false, retain: false });
    await first.next("pubrec");
    first.destroy(); // before PUBREL
    const second = await f.connection();
    await second.accept({ sessionPresent: true });
    second.send({ cmd: "publish", topic: "d/x", payload: Buffer.from("once"), qos: 2, messageId: 5, dup: true, retain: false });
    await second.next("pubrec");
    second.send({ cmd: "pubrel", messageId: 5 });
    await second.next("pubcomp");
    second.send({ cmd: "publish", topic: "d/x", payload: Buffer.from("next"), qos: 2, messageId: 5, dup: false, retain: false });
    await inbox.count(2);
    expect(inbox.texts).toEqual(["once", "next"]);
  });

  it("subscriptions are restored when the server has no session after a reconnect", async () => {
    const f = await fake(v);
    const c = client(f, { reconnect: { delay: 20, maxDelay: 100, factor: 2 } });
    const { conn: first } = await connectTo(c, f);
    const sub = c.subscribe(["s/a", "s/b/#"], { qos: 1 });
    const s1 = await first.next("subscribe");
    first.send({ cmd: "suback", messageId: s1.messageId, granted: [1, 1] });
    await sub;
    first.destroy();
    const second = await f.connection();
    await second.accept({ sessionPresent: false });
    const topics: string[] = [];
    for (let i = 0; i < 2; i++) {
      const s = await second.next("subscribe");
      topics.push(...s.subscriptions.map((x: { topic: string; qos: number }) => `${x.topic}@${x.qos}`));
      second.send({ cmd: "suback", messageId: s.messageId, granted: [1] });
    }
    expect(topics.sort()).toEqual(["s/a@1", "s/b/#@1"]);
  });

  it("the outgoing queue is bounded: a full queue refuses with queuefull, nothing is dropped", async () => {
    const f = await fake(v);
    const c = client(f, { queuelen: 200 });
    const accepted: Promise<unknown>[] = [];
    let refused: MqttError | undefined;
    for (let i = 0; i < 100 && !refused; i++) {
      const p = c.publish("q/t", `message ${String(i).padStart(3, "0")}`, { qos: 1 });
      try {
        await Promise.race([p, Promise.resolve()]); // a refusal is immediate
      } catch (e) {
        refused = e as MqttError;
        break;
      }
      accepted.push(p);
    }
    expect(refused?.code).toBe("queuefull");
    expect(refused!.queued).toBeGreaterThanOrEqual(200);
    expect(c.trypublish("q/t", "no room")).toBe(c.stat().queued);
    expect(c.stat().queuedMessages).toBe(accepted.length);
    // once connected, every accepted message leaves in order
    const { conn } = await connectTo(c, f);
    for (let i = 0; i < accepted.length; i++) {
      const p = await conn.next("publish");
      expect(decodeUtf8(p.payload as Uint8Array)).toBe(`message ${String(i).padStart(3, "0")}`);
      conn.send({ cmd: "puback", messageId: p.messageId });
    }
    await Promise.all(accepted);
    expect(c.trypublish("q/t", "room again")).toBe(true);
  });

  it("the sender cosocket is suspended by the connection's flow control; publishers then see a full queue", async () => {
    const f = await fake(v);
    const c = client(f, { queuelen: 65536 });
    const { conn } = await connectTo(c, f);
    conn.socket.pause(); // the server stops reading: the kernel buffers fill, then our socket's queue
    const payload = new Uint8Array(16384).fill(0x61);
    let accepted = 0;
    let full: true | number = true;
    for (let i = 0; i < 5000 && full === true; i++) {
      full = c.trypublish("fc/t", payload);
      if (full === true) accepted++;
      if (i % 4 === 3) await new Promise((r) => setImmediate(r)); // let the sender and the host run
    }
    expect(typeof full).toBe("number");
    expect(full).toBeGreaterThanOrEqual(65536);
    expect(brokers.rt.stat().suspendedWriters).toBe(1); // the sender, waiting on the connection's queue
    expect(c.stat().queuedMessages).toBeGreaterThan(0);
    const err = await c.publish("fc/t", "one more").catch((e: MqttError) => e);
    expect(err).toMatchObject({ code: "queuefull" });
    conn.socket.resume();
    await conn.signal.until(
      () => conn.packets.filter((p) => p.cmd === "publish").length === accepted,
      `${accepted} PUBLISH packets`,
      30000,
    );
    expect(c.stat()).toMatchObject({ queued: 0, queuedMessages: 0 });
  });

  it("a malformed packet from the server ends the connection (MQTT 5: DISCONNECT 0x81 first)", async () => {
    const f = await fake(v);
    const c = client(f);
    const { conn } = await connectTo(c, f);
    const closed = next<MqttError>(c, "close");
    conn.sendRaw([0x36, 0x03, 0x00, 0x01, 0x61]); // PUBLISH with QoS 3
    const e = await closed;
    expect(e.code).toBe("malformed");
    expect(e.reasonCode).toBe(0x81);
    if (v === 5) expect(await conn.next("disconnect")).toMatchObject({ reasonCode: 0x81 });
    await conn.closed();
  });

  it("a packet over our maximum packet size ends the connection (0x95)", async () => {
    const f = await fake(v);
    const c = client(f, { maxPacketSize: 1024 });
    const connected = c.connect();
    const conn = await f.connection();
    const connect = await conn.accept();
    if (v === 5) expect(connect.properties?.maximumPacketSize).toBe(1024);
    await connected;
    const closed = next<MqttError>(c, "close");
    conn.send({ cmd: "publish", topic: "big", payload: Buffer.alloc(2000), qos: 0, dup: false, retain: false });
    const e = await closed;
    expect(e.code).toBe("packettoolarge");
    expect(e.reasonCode).toBe(0x95);
    if (v === 5) expect(await conn.next("disconnect")).toMatchObject({ reasonCode: 0x95 });
  });

  it("a packet out of order (a second CONNACK) is a protocol error", async () => {
    const f = await fake(v);
    const c = client(f);
    const { conn } = await connectTo(c, f);
    const closed = next<MqttError>(c, "close");
    conn.send(
      v === 5 ? { cmd: "connack", sessionPresent: false, reasonCode: 0 } : { cmd: "connack", sessionPresent: false, returnCode: 0 },
    );
    expect((await closed).reasonCode).toBe(0x82);
  });

  it("a refused CONNACK rejects connect() with the reason", async () => {
    const f = await fake(v);
    const c = client(f, { username: "u", password: "wrong" });
    const connected = c.connect();
    const conn = await f.connection();
    const connect = await conn.next("connect");
    expect(connect.username).toBe("u");
    expect(Buffer.from(connect.password as Uint8Array).toString()).toBe("wrong");
    if (v === 5) conn.send({ cmd: "connack", sessionPresent: false, reasonCode: 0x86, properties: { reasonString: "bad password" } });
    else conn.send({ cmd: "connack", sessionPresent: false, returnCode: 4 });
    const e = await rejection(connected);
    expect(e.code).toBe("connectionrefused");
    expect(e.reasonCode).toBe(0x86);
    if (v === 5) expect(e.reasonString).toBe("bad password");
    expect(c.state).toBe("closed");
  });

  it("no CONNACK in time rejects connect() with timeout; a refused TCP connection with connectionlost", async () => {
    const f = await fake(v);
    const c = client(f, { connectTimeout: 300 });
    const connected = c.connect();
    await f.connection(); // accepts TCP, never answers
    expect((await rejection(connected)).code).toBe("timeout");
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
    const port = (s.address() as AddressInfo).port;
    await new Promise<void>((r) => s.close(() => r()));
    const d = client(f, { port });
    const e = await rejection(d.connect());
    expect(e.code).toBe("connectionlost");
    expect(e.message).toMatch(/cannotconnect/);
  });

  it("QoS 2: a PUBREC of success is reported as pubrecReason 0 (3.1.1's PUBREC has no reason code)", async () => {
    const f = await fake(v);
    const c = client(f);
    const { conn } = await connectTo(c, f);
    const r = c.publish("q2/ok", "x", { qos: 2 });
    const p = await conn.next("publish");
    conn.send({ cmd: "pubrec", messageId: p.messageId });
    await conn.next("pubrel");
    conn.send({ cmd: "pubcomp", messageId: p.messageId });
    expect(await r).toEqual({ reasonCode: 0, pubrecReason: 0 });
  });
});

describe("MQTT 5 with a scripted server", () => {
  it("CONNECT carries clean start, session expiry, will with properties, limits and user properties", async () => {
    const f = await fake(5);
    const c = client(f, {
      clientId: "dev-7",
      keepalive: 33,
      sessionExpiry: 120,
      receiveMaximum: 10,
      topicAliasMaximum: 4,
      userProperties: [["site", "lab"]],
      will: {
        topic: "dev/7/status",
        payload: "offline",
        qos: 1,
        retain: true,
        properties: { willDelayInterval: 5, contentType: "text/plain", userProperties: [["r", "1"]] },
      },
    });
    const { connect: p } = await connectTo(c, f);
    expect(p).toMatchObject({
      clientId: "dev-7",
      clean: true,
      keepalive: 33,
      protocolVersion: 5,
      properties: { sessionExpiryInterval: 120, receiveMaximum: 10, topicAliasMaximum: 4, userProperties: { site: "lab" } },
      will: {
        topic: "dev/7/status",
        qos: 1,
        retain: true,
        properties: { willDelayInterval: 5, contentType: "text/plain", userProperties: { r: "1" } },
      },
    });
    expect(Buffer.from(p.will.payload).toString()).toBe("offline");
  });

  it("server keepalive and receive maximum are honoured", async () => {
    const f = await fake(5);
    const c = client(f, { keepalive: 60 });
    const { conn } = await connectTo(c, f, { properties: { serverKeepAlive: 1, receiveMaximum: 2 } });
    const start = Date.now();
    // receive maximum 2: five QoS 1 messages, two in flight at a time
    const all = Array.from({ length: 5 }, (_, i) => c.publish("rm/t", String(i), { qos: 1 }));
    const a = await conn.next("publish");
    const b = await conn.next("publish");
    expect(c.stat()).toMatchObject({ inflight: 2, queuedMessages: 3 });
    conn.send({ cmd: "puback", messageId: a.messageId });
    const cc = await conn.next("publish");
    expect(decodeUtf8(cc.payload as Uint8Array)).toBe("2");
    expect(c.stat()).toMatchObject({ inflight: 2, queuedMessages: 2 });
    for (const m of [b, cc]) conn.send({ cmd: "puback", messageId: m.messageId });
    for (let i = 0; i < 2; i++) conn.send({ cmd: "puback", messageId: (await conn.next("publish")).messageId });
    await Promise.all(all);
    // server keepalive 1 s (ours was 60): PINGREQ every 500 ms
    await conn.next("pingreq");
    conn.send({ cmd: "pingresp" });
    await conn.next("pingreq");
    conn.send({ cmd: "pingresp" });
    expect(Date.now() - start).toBeLessThan(2500);
  });

  it("topic aliases both ways", async () => {
    const f = await fake(5);
    const c = client(f, { topicAliasMaximum: 16 });
    const inbox = new Inbox(c);
    const { conn } = await connectTo(c, f, { properties: { topicAliasMaximum: 2 } });
    for (const t of ["a/b", "a/b", "c", "d", "a/b", "d"]) await c.publish(t, "x");
    const got = [];
    for (let i = 0; i < 6; i++) {
      const p = await conn.next("publish");
      got.push([p.topic, p.properties?.topicAlias]);
    }
    expect(got).toEqual([
      ["a/b", 1],
      ["", 1],
      ["c", 2],
      ["d", undefined], // only 2 aliases allowed
      ["", 1],
      ["d", undefined],
    ]);
    // the server's aliases
    conn.send({
      cmd: "publish",
      topic: "long/topic/name",
      payload: Buffer.from("1"),
      qos: 0,
      dup: false,
      retain: false,
      properties: { topicAlias: 3 },
    });
    conn.send({ cmd: "publish", topic: "", payload: Buffer.from("2"), qos: 0, dup: false, retain: false, properties: { topicAlias: 3 } });
    await inbox.count(2);
    expect(inbox.messages.map((m) => [m.topic, decodeUtf8(m.payload)])).toEqual([
      ["long/topic/name", "1"],
      ["long/topic/name", "2"],
    ]);
    // an alias over our maximum: DISCONNECT 0x94
    const closed = next<MqttError>(c, "close");
    conn.send({ cmd: "publish", topic: "t", payload: Buffer.from("3"), qos: 0, dup: false, retain: false, properties: { topicAlias: 17 } });
    expect((await closed).reasonCode).toBe(0x94);
    expect(await conn.next("disconnect")).toMatchObject({ reasonCode: 0x94 });
  });

  it("QoS 2: the PUBREC's reason code is reported beside the PUBCOMP's; a failing PUBREC ends the flow with its code", async () => {
    const f = await fake(5);
    const c = client(f);
    const errors: MqttError[] = [];
    c.on("error", (e) => errors.push(e));
    const { conn } = await connectTo(c, f);
    // no matching subscribers: said in the PUBREC, the flow goes on to a PUBCOMP of 0
    const quiet2 = c.publish("q2/nobody", "x", { qos: 2 });
    const p = await conn.next("publish");
    conn.send({ cmd: "pubrec", messageId: p.messageId, reasonCode: 0x10 });
    expect(await conn.next("pubrel")).toMatchObject({ messageId: p.messageId, reasonCode: 0 });
    conn.send({ cmd: "pubcomp", messageId: p.messageId, reasonCode: 0, properties: { reasonString: "done" } });
    expect(await quiet2).toEqual({ reasonCode: 0, pubrecReason: 0x10, reasonString: "done", properties: { reasonString: "done" } });
    // a PUBREC of 0x80 or more: the publish is refused with that code, and no PUBREL follows
    const denied = c.publish("q2/denied", "y", { qos: 2 });
    const p2 = await conn.next("publish");
    conn.send({ cmd: "pubrec", messageId: p2.messageId, reasonCode: 0x87, properties: { reasonString: "not for you" } });
    const e = await rejection(denied);
    expect([e.code, e.reasonCode, e.reasonString]).toEqual(["refused", 0x87, "not for you"]);
    const after = c.publish("q2/after", "z", { qos: 1 });
    const p3 = await conn.next();
    expect(p3).toMatchObject({ cmd: "publish", topic: "q2/after" }); // not a PUBREL
    conn.send({ cmd: "puback", messageId: p3.messageId, reasonCode: 0 });
    expect(await after).toEqual({ reasonCode: 0 }); // QoS 1: no pubrecReason
    expect(c.stat().inflight).toBe(0);
    expect(errors).toEqual([]);
  });

  it("an alias the server never defined is a protocol error", async () => {
    const f = await fake(5);
    const c = client(f);
    const { conn } = await connectTo(c, f);
    const closed = next<MqttError>(c, "close");
    conn.send({ cmd: "publish", topic: "", payload: Buffer.from("?"), qos: 0, dup: false, retain: false, properties: { topicAlias: 2 } });
    expect((await closed).reasonCode).toBe(0x82);
  });

  it("reason codes and reason strings reach the caller", async () => {
    const f = await fake(5);
    const c = client(f, { reconnect: { delay: 5000, maxDelay: 5000, factor: 1 } });
    const errors: MqttError[] = [];
    c.on("error", (e) => errors.push(e));
    const { conn } = await connectTo(c, f, { properties: { maximumQoS: 1, retainAvailable: false, maximumPacketSize: 200 } });
    // refused by the server
    const pub = c.publish("rc/t", "x", { qos: 1 });
    const p = await conn.next("publish");
    conn.send({
      cmd: "puback",
      messageId: p.messageId,
      reasonCode: 0x87,
      properties: { reasonString: "not for you", userProperties: { a: "b" } },
    });
    const e = await rejection(pub);
    expect([e.code, e.reasonCode, e.reasonString]).toEqual(["refused", 0x87, "not for you"]);
    // accepted with a note
    const ok = c.publish("rc/t", "y", { qos: 1 });
    const p2 = await conn.next("publish");
    conn.send({ cmd: "puback", messageId: p2.messageId, reasonCode: 0x10, properties: { reasonString: "nobody listens" } });
    expect(await ok).toMatchObject({ reasonCode: 0x10, reasonString: "nobody listens" });
    // the server's limits from CONNACK
    expect((await rejection(c.publish("rc/t", "z", { qos: 2 }))).reasonCode).toBe(0x9b);
    expect((await rejection(c.publish("rc/t", "z", { retain: true }))).reasonCode).toBe(0x9a);
    expect((await rejection(c.publish("rc/t", new Uint8Array(300)))).reasonCode).toBe(0x95);
    // SUBACK codes and reason string
    const sub = c.subscribe(["ok/#", "denied/#"], { qos: 1, subscriptionIdentifier: 3, userProperties: [["u", "1"]] });
    const s = await conn.next("subscribe");
    expect(s.properties).toMatchObject({ subscriptionIdentifier: 3, userProperties: { u: "1" } });
    conn.send({ cmd: "suback", messageId: s.messageId, granted: [1, 0x87], properties: { reasonString: "partly" } });
    expect(await sub).toMatchObject({ reasonCodes: [1, 0x87], reasonString: "partly" });
    // the server disconnects with a reason
    const lost = next<DisconnectInfo>(c, "disconnect");
    conn.send({ cmd: "disconnect", reasonCode: 0x8b, properties: { reasonString: "maintenance" } });
    const info = await lost;
    expect([info.error.code, info.error.reasonCode, info.error.reasonString, info.reconnecting]).toEqual([
      "disconnected",
      0x8b,
      "maintenance",
      true,
    ]);
    expect(errors).toEqual([]);
  });

  it("disconnect() sends DISCONNECT with its reason code and properties after what is queued", async () => {
    const f = await fake(5);
    const c = client(f, { sessionExpiry: 30 });
    const { conn } = await connectTo(c, f);
    const sent = c.publish("bye/t", "last words");
    const done = c.disconnect({ reasonCode: 4, sessionExpiry: 0, reasonString: "going" });
    expect(decodeUtf8((await conn.next()).payload as Uint8Array)).toBe("last words");
    expect(await conn.next()).toMatchObject({
      cmd: "disconnect",
      reasonCode: 4,
      properties: { sessionExpiryInterval: 0, reasonString: "going" },
    });
    await sent;
    await done;
    await conn.closed();
    expect(c.state).toBe("closed");
  });
});
