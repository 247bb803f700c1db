/**
 * The MQTT client against a real mosquitto started by the test, in MQTT 3.1.1 and MQTT 5:
 * QoS round trips, retained messages, wills, persistent sessions, reconnection, and no QoS 2
 * message lost or duplicated across a kill -9 of the broker.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Runtime, decodeUtf8 } from "../../src/index.js";
import { nodeHost } from "../../hosts/node/index.js";
import { MqttClient, MqttError, type DisconnectInfo, type MqttClientOptions, type ProtocolVersion } from "../../modules/mqtt/index.js";
import { itWithPeer } from "../support/peers.js";
import { Broker } from "./broker.js";
import { Inbox, next, quiet } from "./helpers.js";
import { PausingProxy } from "./proxy.js";

const itMosquitto = itWithPeer("mosquitto", "apt-get install mosquitto mosquitto-clients");

let rt: Runtime;
let clients: MqttClient[];
let brokers: Broker[];
let proxies: PausingProxy[];

beforeEach(() => {
  rt = new Runtime(nodeHost());
  clients = [];
  brokers = [];
  proxies = [];
});

afterEach(async () => {
  await Promise.all(clients.map((c) => c.close()));
  rt.shutdown();
  await Promise.all(proxies.map((p) => p.stop()));
  await Promise.all(brokers.map((b) => b.stop()));
});

async function broker(options: { persistence?: boolean } = {}): Promise<Broker> {
  const b = await Broker.start(options);
  brokers.push(b);
  return b;
}

function client(b: Broker, v: ProtocolVersion, options: Partial<MqttClientOptions> = {}): MqttClient {
  // options.port (a proxy's) wins over the broker's
  const c = new MqttClient(rt, { host: "127.0.0.1", port: b.port, protocolVersion: v, ...options });
  clients.push(c);
  return quiet(c);
}

/** A unique topic prefix per test. */
let seq = 0;
const topic = (name: string) => `cosock/${process.pid}/${++seq}/${name}`;

describe.each([4, 5] as const)("MQTT v%i against mosquitto", (v) => {
  itMosquitto("QoS 0, 1 and 2 round trips in both directions", async () => {
    const b = await broker();
    const t = topic("qos");
    const sub = client(b, v, { clientId: `sub-${v}` });
    const pub = client(b, v, { clientId: `pub-${v}` });
    const inbox = new Inbox(sub);
    const pubInbox = new Inbox(pub);
    await sub.connect();
    await pub.connect();
    expect((await sub.subscribe(`${t}/#`, { qos: 2 })).reasonCodes).toEqual([2]);
    expect((await pub.subscribe(`${t}/back`, { qos: 2 })).reasonCodes).toEqual([2]);
    const results = await Promise.all(([0, 1, 2] as const).map((qos) => pub.publish(`${t}/q${qos}`, `hello ${qos}`, { qos })));
    for (const r of results) expect(r.reasonCode).toBe(0);
    expect(results.map((r) => r.pubrecReason)).toEqual([undefined, undefined, 0]); // QoS 2 only
    const got = await inbox.count(3);
    expect(got.map((m) => [m.topic, decodeUtf8(m.payload), m.qos, m.retain])).toEqual([
      [`${t}/q0`, "hello 0", 0, false],
      [`${t}/q1`, "hello 1", 1, false],
      [`${t}/q2`, "hello 2", 2, false],
    ]);
    // the other direction, with a binary payload
    const bin = Uint8Array.from({ length: 3000 }, (_, i) => (i * 7) & 255);
    await sub.publish(`${t}/back`, bin, { qos: 2 });
    await sub.publish(`${t}/back`, "one", { qos: 1 });
    const back = await pubInbox.count(2);
    expect(back[0].payload).toEqual(bin);
    expect(back[0].qos).toBe(2);
    expect(decodeUtf8(back[1].payload)).toBe("one");
    // a subscription at QoS 1 downgrades a QoS 2 publication
    const t1 = topic("downgrade");
    expect((await sub.subscribe(t1, { qos: 1 })).reasonCodes).toEqual([1]);
    await pub.publish(t1, "x", { qos: 2 });
    expect((await inbox.find((m) => m.topic === t1)).qos).toBe(1);
    expect(sub.stat()).toMatchObject({ state: "connected", inflight: 0, queued: 0, requests: 0 });
    expect(pub.stat().inflight).toBe(0);
    // many messages pipelined through the in-flight window (16) and the queue; MQTT orders
    // messages of one QoS on one topic (a QoS 2 message is forwarded at PUBREL, so QoS levels interleave)
    const many = await Promise.all(
      Array.from({ length: 300 }, (_, i) => pub.publish(`${t}/many${i % 3}`, String(i), { qos: (i % 3) as 0 | 1 | 2 })),
    );
    expect(many).toHaveLength(300);
    await inbox.count(6 + 300); // 3 + its own 2 on back + 1 downgraded
    for (const q of [0, 1, 2]) {
      const got = inbox.messages.filter((m) => m.topic === `${t}/many${q}`);
      expect(got.map((m) => decodeUtf8(m.payload))).toEqual(Array.from({ length: 100 }, (_, i) => String(i * 3 + q)));
      expect(got.every((m) => m.qos === q)).toBe(true);
    }
    // unsubscribe: nothing more arrives (a later message on another topic comes first)
    await sub.unsubscribe(`${t}/#`);
    await pub.publish(`${t}/q1`, "after", { qos: 1 });
    await pub.publish(t1, "marker", { qos: 1 });
    await inbox.find((m) => decodeUtf8(m.payload) === "marker");
    expect(inbox.texts).not.toContain("after");
    await pub.disconnect();
    expect(pub.state).toBe("closed");
  });

  itMosquitto("retained messages reach later subscribers, and are cleared by an empty retained message", async () => {
    const b = await broker();
    const t = topic("retained");
    const pub = client(b, v);
    await pub.connect();
    await pub.publish(t, "last value", { qos: 1, retain: true });
    const sub = client(b, v);
    const inbox = new Inbox(sub);
    await sub.connect();
    await sub.subscribe(t, { qos: 1 });
    const [m] = await inbox.count(1);
    expect([decodeUtf8(m.payload), m.retain, m.qos]).toEqual(["last value", true, 1]);
    // a live message is not retained-flagged
    await pub.publish(t, "live", { qos: 1, retain: true });
    expect((await inbox.count(2))[1].retain).toBe(false);
    await pub.publish(t, "", { qos: 1, retain: true }); // clears
    await inbox.count(3);
    const late = client(b, v);
    const lateInbox = new Inbox(late);
    await late.connect();
    await late.subscribe([t, `${t}-marker`], { qos: 1 });
    await pub.publish(`${t}-marker`, "m", { qos: 1 });
    await lateInbox.find((x) => x.topic === `${t}-marker`);
    expect(lateInbox.messages.filter((x) => x.topic === t)).toHaveLength(0);
  });

  itMosquitto("the will is published when the connection drops without DISCONNECT, not after DISCONNECT", async () => {
    const b = await broker();
    const t = topic("will");
    const watcher = client(b, v);
    const inbox = new Inbox(watcher);
    await watcher.connect();
    await watcher.subscribe(`${t}/#`, { qos: 1 });
    const will = {
      topic: `${t}/dying`,
      payload: "gone",
      qos: 1 as const,
      retain: false,
      properties: v === 5 ? { contentType: "text/plain", userProperties: [["why", "crash"]] as [string, string][] } : undefined,
    };
    // a graceful disconnect: no will (the marker published after it arrives, the will does not)
    const polite = client(b, v, { will: { ...will, topic: `${t}/polite` } });
    await polite.connect();
    await polite.disconnect();
    await watcher.publish(`${t}/marker`, "m", { qos: 1 });
    await inbox.find((m) => m.topic === `${t}/marker`);
    // an abrupt end: the TCP connection is closed without DISCONNECT
    const dying = client(b, v, { will, reconnect: false });
    await dying.connect();
    const closed = next(dying, "close");
    await dying.close();
    await closed;
    const m = await inbox.find((x) => x.topic === `${t}/dying`);
    expect(decodeUtf8(m.payload)).toBe("gone");
    expect(m.qos).toBe(1);
    if (v === 5) expect(m.properties).toMatchObject({ contentType: "text/plain", userProperties: [["why", "crash"]] });
    expect(inbox.messages.some((x) => x.topic === `${t}/polite`)).toBe(false);
  });

  itMosquitto("a persistent session is restored with the QoS 1 and 2 messages queued while away", async () => {
    const b = await broker();
    const t = topic("persist");
    const id = `persist-${v}-${process.pid}`;
    const session = v === 5 ? { cleanStart: true, sessionExpiry: 300 } : { cleanStart: false };
    const first = client(b, v, { clientId: id, ...session });
    expect((await first.connect()).sessionPresent).toBe(false);
    await first.subscribe(`${t}/#`, { qos: 2 });
    await first.disconnect();

    const pub = client(b, v);
    await pub.connect();
    for (let i = 0; i < 5; i++) await pub.publish(`${t}/one`, `q1-${i}`, { qos: 1 });
    for (let i = 0; i < 5; i++) await pub.publish(`${t}/two`, `q2-${i}`, { qos: 2 });

    // the same client id resumes the session (MQTT 5: Clean Start 0) and subscribes to nothing
    const again = client(b, v, { clientId: id, cleanStart: false, sessionExpiry: v === 5 ? 300 : 0 });
    const inbox = new Inbox(again);
    expect((await again.connect()).sessionPresent).toBe(true);
    const got = await inbox.count(10);
    expect(got.map((m) => decodeUtf8(m.payload)).sort()).toEqual(
      [...Array.from({ length: 5 }, (_, i) => `q1-${i}`), ...Array.from({ length: 5 }, (_, i) => `q2-${i}`)].sort(),
    );
    expect(got.filter((m) => m.qos === 2)).toHaveLength(5);
    // the restored subscription keeps working
    await pub.publish(`${t}/one`, "live", { qos: 1 });
    await inbox.find((m) => decodeUtf8(m.payload) === "live");
    // and the same client object reconnects into the same session
    await again.disconnect();
    await pub.publish(`${t}/one`, "while away", { qos: 1 });
    expect((await again.connect()).sessionPresent).toBe(true);
    await inbox.find((m) => decodeUtf8(m.payload) === "while away");
  });

  itMosquitto("reconnects with backoff after the broker dies, and resubscribes when the session is gone", async () => {
    const b = await broker();
    const t = topic("reconnect");
    const c = client(b, v, { reconnect: { delay: 50, maxDelay: 400, factor: 2 } });
    const inbox = new Inbox(c);
    await c.connect();
    await c.subscribe(t, { qos: 1 });
    const lost = next<DisconnectInfo>(c, "disconnect");
    await b.kill9();
    const info = await lost;
    expect(info.reconnecting).toBe(true);
    expect(info.error.code).toBe("connectionlost");
    expect(c.state).toBe("reconnecting");
    // messages published while disconnected wait in the queue
    const queued = c.publish(t, "queued while down", { qos: 1 });
    const back = next<{ sessionPresent: boolean }>(c, "connect");
    await b.run();
    expect((await back).sessionPresent).toBe(false); // no persistence: a new session
    await queued;
    // the subscription was restored: a message from another client arrives
    const other = client(b, v);
    await other.connect();
    await other.publish(t, "after restart", { qos: 1 });
    await inbox.find((m) => decodeUtf8(m.payload) === "after restart");
    expect(c.stat().connects).toBe(2);
  });

  itMosquitto(
    "no QoS 2 message is lost or duplicated, and no QoS 1 message lost, across a kill -9 and restart mid-stream",
    async () => {
      const b = await broker({ persistence: true });
      const proxy = await PausingProxy.start(b.port);
      proxies.push(proxy);
      const t = topic("kill");
      // mosquitto persists a session only if it was opened with Clean Start 0
      const opts: Partial<MqttClientOptions> = v === 5 ? { cleanStart: false, sessionExpiry: 3600 } : { cleanStart: false };
      const common = { ...opts, port: proxy.port, reconnect: { delay: 50, maxDelay: 500, factor: 2 }, keepalive: 10, connectTimeout: 3000 };
      const sub = client(b, v, { clientId: `kill-sub-${v}-${process.pid}`, ...common });
      const pub = client(b, v, { clientId: `kill-pub-${v}-${process.pid}`, ...common });
      const inbox = new Inbox(sub);
      await sub.connect();
      await sub.subscribe(`${t}/#`, { qos: 2 });
      await pub.connect();
      const N = 400;
      const results: Promise<unknown>[] = [];
      for (let i = 0; i < N; i++) results.push(pub.publish(`${t}/${i % 2 ? "two" : "one"}`, String(i), { qos: i % 2 ? 2 : 1 }));
      await inbox.count(N / 4, 20000);
      // Freeze the conversation mid-stream and let mosquitto save what it has acknowledged (it
      // answers before it saves, so without this a kill -9 loses messages it has acknowledged —
      // a loss no client can prevent). Then kill it with acknowledgements in flight both ways.
      proxy.pause();
      await proxy.quiet(250);
      await b.save();
      const inflightAtKill = pub.stat().inflight;
      const receivedAtKill = inbox.messages.length;
      await b.kill9();
      expect(inflightAtKill).toBeGreaterThan(0);
      expect(receivedAtKill).toBeLessThan(N);
      proxy.brokerKilled();
      await b.run();
      const outcomes = await Promise.allSettled(results);
      expect(outcomes.filter((o) => o.status === "rejected")).toEqual([]);
      // a marker sent after everything was acknowledged comes after any redelivery
      await pub.publish(`${t}/marker`, "end", { qos: 2 });
      await inbox.find((m) => m.topic === `${t}/marker`, "the marker", 20000);
      const counts = new Map<string, number>();
      for (const m of inbox.messages)
        if (m.topic !== `${t}/marker`) counts.set(decodeUtf8(m.payload), (counts.get(decodeUtf8(m.payload)) ?? 0) + 1);
      const lost = Array.from({ length: N }, (_, i) => String(i)).filter((k) => !counts.has(k));
      const duplicatedQoS2 = [...counts].filter(([k, n]) => Number(k) % 2 === 1 && n > 1);
      expect({ lost, duplicatedQoS2 }).toEqual({ lost: [], duplicatedQoS2: [] });
      expect(sub.stat().connects).toBeGreaterThanOrEqual(2);
      expect(pub.stat().connects).toBeGreaterThanOrEqual(2);
    },
    60000,
  );
});

describe("MQTT 5 features against mosquitto", () => {
  itMosquitto("subscription identifiers, user properties, message properties, topic aliases and reason codes", async () => {
    const b = await broker();
    const t = topic("v5");
    const sub = client(b, 5);
    const pub = client(b, 5);
    const inbox = new Inbox(sub);
    await sub.connect();
    const info = await pub.connect();
    expect(info.properties?.topicAliasMaximum).toBeGreaterThan(0); // so pub uses aliases
    await sub.subscribe(`${t}/a/#`, { qos: 1, subscriptionIdentifier: 7 });
    await sub.subscribe(`${t}/+/x`, { qos: 1, subscriptionIdentifier: 9, userProperties: [["k", "v"]] });
    const props = {
      userProperties: [
        ["trace", "42"],
        ["trace", "43"],
      ] as [string, string][],
      contentType: "application/json",
      responseTopic: `${t}/reply`,
      correlationData: Uint8Array.of(1, 2, 3),
      payloadFormatIndicator: 1 as const,
      messageExpiryInterval: 60,
    };
    // three publications on the same topic: the second and third go out with the alias only.
    // mosquitto sends a copy per matching subscription, each with its identifier
    for (let i = 0; i < 3; i++) await pub.publish(`${t}/a/x`, `{"i":${i}}`, { qos: 1, properties: props });
    const got = await inbox.count(6);
    for (const m of got) {
      expect(m.topic).toBe(`${t}/a/x`);
      expect(m.properties).toMatchObject({ ...props, messageExpiryInterval: expect.any(Number) });
    }
    for (let i = 0; i < 3; i++) {
      const ids = got.filter((m) => decodeUtf8(m.payload) === `{"i":${i}}`).flatMap((m) => m.properties!.subscriptionIdentifiers!);
      expect(ids.sort()).toEqual([7, 9]);
    }
    // PUBACK 0x10: no matching subscribers
    const r = await pub.publish(`${t}/nobody`, "?", { qos: 1 });
    expect(r.reasonCode).toBe(0x10);
    // QoS 2: mosquitto 2.0 answers PUBREC 0 even with no subscriber (it routes the message at
    // PUBREL); a PUBREC of 0x10 from another broker is reported too (client.fake.test.ts)
    const r2 = await pub.publish(`${t}/nobody`, "?", { qos: 2 });
    expect(r2).toMatchObject({ reasonCode: 0, pubrecReason: 0 });
    expect(pub.stat().inflight).toBe(0);
    // UNSUBACK 0x11: no subscription existed
    expect((await sub.unsubscribe([`${t}/a/#`, `${t}/never`])).reasonCodes).toEqual([0, 0x11]);
  });

  itMosquitto("a publish the broker's ACL denies: QoS 2 ends at PUBREC 0x87, QoS 1 at PUBACK 0x87; the connection goes on", async () => {
    // the broker drops to its own user: the ACL file must be readable by it
    const dir = mkdtempSync(join(tmpdir(), "cosock-acl-"));
    chmodSync(dir, 0o755);
    const acl = join(dir, "acl");
    writeFileSync(acl, "topic readwrite open/#\n");
    chmodSync(acl, 0o644);
    try {
      const b = await Broker.start({ extra: [`acl_file ${acl}`] });
      brokers.push(b);
      const pub = client(b, 5);
      const errors: MqttError[] = [];
      pub.on("error", (e) => errors.push(e));
      await pub.connect();
      const e2 = await pub.publish("closed/a", "x", { qos: 2 }).catch((e: unknown) => e);
      expect(e2).toBeInstanceOf(MqttError);
      expect(e2).toMatchObject({ code: "refused", reasonCode: 0x87 });
      const e1 = await pub.publish("closed/a", "x", { qos: 1 }).catch((e: unknown) => e);
      expect(e1).toMatchObject({ code: "refused", reasonCode: 0x87 });
      expect(await pub.publish("open/a", "y", { qos: 2 })).toMatchObject({ reasonCode: 0, pubrecReason: 0 });
      expect(pub.stat()).toMatchObject({ state: "connected", inflight: 0 });
      expect(errors).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  itMosquitto("session expiry 0 ends the session at disconnect; a non-zero expiry keeps it", async () => {
    const b = await broker();
    const id = `expiry-${process.pid}`;
    const c = client(b, 5, { clientId: id, cleanStart: false, sessionExpiry: 0 });
    await c.connect();
    await c.subscribe(topic("e"), { qos: 1 });
    await c.disconnect();
    expect((await c.connect()).sessionPresent).toBe(false);
    await c.disconnect();
    const d = client(b, 5, { clientId: id, cleanStart: false, sessionExpiry: 60 });
    await d.connect();
    await d.disconnect();
    expect((await d.connect()).sessionPresent).toBe(true);
  });
});
