/**
 * The MQTT client against a hostile broker: a remaining length of 256 MiB followed by 100 bytes
 * (the decoder's buffer grows with what arrives, the header alone is refused with
 * `packettoolarge`), packets only a client may send (CONNECT, SUBSCRIBE, UNSUBSCRIBE, PINGREQ),
 * and a broker that turns keepalive off and then goes silent, or stalls in the middle of a packet
 * (the `idleTimeout` watchdog, in virtual time on the simulated network). After each, the same
 * client is served normally by a well-behaved broker.
 */
import { Runtime, type Socket } from "../../src/index.js";
import { SimNetwork } from "../../hosts/sim/index.js";
import {
  BODY_STEP,
  MQTT_MAX_PACKET,
  MqttClient,
  PacketDecoder,
  encode,
  mqttDefaults,
  mqttDeviceDefaults,
  type DisconnectInfo,
} from "../../modules/mqtt/index.js";
import { type FakeBroker, scriptedBrokers } from "../mqtt/fake-broker.js";
import { next, quiet } from "../mqtt/helpers.js";
import { until } from "../support/util.js";

/** A PUBLISH header announcing the largest remaining length MQTT can express (268 435 455 bytes). */
const HUGE_PUBLISH = [0x30, 0xff, 0xff, 0xff, 0x7f];

describe("PacketDecoder: memory grows with the bytes that arrived, not with the header", () => {
  it("256 MiB announced and 100 bytes sent: about 1 KiB held; the buffer stays within max(BODY_STEP, 2 × received)", () => {
    const d = new PacketDecoder({ protocolVersion: 5, maxPacketSize: MQTT_MAX_PACKET, side: "client" });
    expect(d.push(Uint8Array.from([...HUGE_PUBLISH, ...new Array(100).fill(0x61)]))).toEqual([]);
    expect(d.buffered).toBe(105);
    expect(d.allocated).toBeGreaterThanOrEqual(100);
    expect(d.allocated).toBeLessThanOrEqual(BODY_STEP);
    let peak = 0;
    const chunk = new Uint8Array(1460);
    for (let received = 100; received < 1 << 20; received += chunk.length) {
      d.push(chunk);
      peak = Math.max(peak, d.allocated);
      expect(d.allocated).toBeLessThanOrEqual(Math.max(BODY_STEP, 2 * (d.buffered - 5)));
    }
    expect(peak).toBeLessThan(3 << 20); // 1 MiB received: under 3 MiB held, not 256 MiB
  });

  it("a packet spanning many small reads decodes byte for byte, and the buffer ends at its exact size", () => {
    const payload = Uint8Array.from({ length: 300000 }, (_, i) => (i * 7) & 0xff);
    const bytes = encode({ type: "publish", topic: "t/big", payload, qos: 1, packetId: 7, retain: false, dup: false }, 5);
    const d = new PacketDecoder({ protocolVersion: 5, side: "client" });
    const out = [];
    for (let i = 0; i < bytes.length; i += 1000) out.push(...d.push(bytes.subarray(i, i + 1000)));
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ type: "publish", topic: "t/big", packetId: 7 });
    expect(Buffer.from((out[0] as { payload: Uint8Array }).payload).equals(Buffer.from(payload))).toBe(true);
    expect(d.allocated).toBe(0);
    expect(d.buffered).toBe(0);
  });

  it("refuses a packet over maxPacketSize from its header, before any of its body, and holds nothing after", () => {
    const d = new PacketDecoder({ protocolVersion: 5, maxPacketSize: 8192 });
    expect(() => d.push(Uint8Array.from(HUGE_PUBLISH))).toThrow(
      /packettoolarge: PUBLISH of 268435460 bytes is over the maximum packet size 8192/,
    );
    expect(d.error).toMatchObject({ code: "packettoolarge", reasonCode: 0x95 });
    expect(d.allocated).toBe(0);
  });

  it("the defaults: 1 MiB on the desktop, 8 KiB on the device, both announced under MQTT's own maximum", () => {
    expect(mqttDefaults.maxPacketSize).toBe(1 << 20);
    expect(mqttDeviceDefaults.maxPacketSize).toBe(8192);
    expect(mqttDefaults.idleTimeout).toBe(0);
    expect(MQTT_MAX_PACKET).toBe(268435460);
  });
});

describe("the client against a broker that misbehaves (loopback, scripted broker)", () => {
  const brokers = scriptedBrokers({ keepalive: 0 });
  const { fake, client } = brokers;

  async function connectTo(c: MqttClient, f: FakeBroker, properties?: Record<string, unknown>) {
    const connected = c.connect();
    const conn = await f.connection();
    const connect = await conn.accept({ properties });
    await connected;
    return { conn, connect };
  }

  /** After a hostile connection: the same client, connected again, publishes and receives normally. */
  async function servedAfter(c: MqttClient, f: FakeBroker): Promise<void> {
    const { conn } = await connectTo(c, f);
    const done = c.publish("after", "ok", { qos: 1 });
    const pub = await conn.next("publish");
    expect(Buffer.from(pub.payload).toString()).toBe("ok");
    conn.send({ cmd: "puback", messageId: pub.messageId, reasonCode: 0 });
    await expect(done).resolves.toMatchObject({ reasonCode: 0 });
    expect(c.stat().buffered).toBe(0);
  }

  for (const v of [4, 5] as const) {
    it(`v${v}: default options, keepalive off, 256 MiB announced and 100 bytes sent → packettoolarge at once${v === 5 ? ", DISCONNECT 0x95" : ""}`, async () => {
      const f = await fake(v);
      const c = client(f);
      const { conn, connect } = await connectTo(c, f, v === 5 ? { serverKeepAlive: 0 } : undefined);
      if (v === 5) expect(connect.properties?.maximumPacketSize).toBe(1 << 20); // the server was told
      const lost = next<DisconnectInfo>(c, "disconnect", 5000);
      const before = process.memoryUsage().arrayBuffers;
      conn.sendRaw([...HUGE_PUBLISH, ...new Array(100).fill(0x61)]);
      const { error } = await lost;
      expect(error).toMatchObject({ code: "packettoolarge", reasonCode: 0x95 });
      expect(error.message).toMatch(/PUBLISH of 268435460 bytes is over the maximum packet size 1048576/);
      expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 << 20);
      if (v === 5) expect(await conn.next("disconnect")).toMatchObject({ reasonCode: 0x95 });
      await conn.closed();
      await servedAfter(c, f);
    });
  }

  it("maxPacketSize raised to MQTT's maximum: the 100 bytes cost about 1 KiB, not 256 MiB", async () => {
    const f = await fake(5);
    const c = client(f, { maxPacketSize: MQTT_MAX_PACKET, idleTimeout: 2000 });
    const { conn, connect } = await connectTo(c, f, { serverKeepAlive: 0 });
    expect(connect.properties?.maximumPacketSize).toBeUndefined(); // nothing under MQTT's own limit to announce
    const before = process.memoryUsage().arrayBuffers;
    conn.sendRaw([...HUGE_PUBLISH, ...new Array(100).fill(0x61)]);
    await until(brokers.rt, () => c.stat().buffered > 0, 5000, "the client to buffer the 100 bytes");
    expect(c.stat().buffered).toBeLessThanOrEqual(BODY_STEP);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 << 20);
    // the broker never finishes the packet: the watchdog ends the connection and the buffer goes
    const { error } = await next<DisconnectInfo>(c, "disconnect", 10000);
    expect(error).toMatchObject({ code: "timeout" });
    expect(c.stat().buffered).toBe(0);
  });

  const clientOnly: [string, number[]][] = [
    ["CONNECT", [...encode({ type: "connect", protocolVersion: 5, clientId: "x", cleanStart: true, keepalive: 0 }, 5)]],
    ["SUBSCRIBE", [0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 0x61, 0x00]],
    ["UNSUBSCRIBE", [0xa2, 0x05, 0x00, 0x01, 0x00, 0x01, 0x61]],
    ["PINGREQ", [0xc0, 0x00]],
  ];
  for (const [name, bytes] of clientOnly) {
    it(`v5: a broker that sends ${name} → protocolerror naming it, DISCONNECT 0x82`, async () => {
      const f = await fake(5);
      const c = client(f);
      const { conn } = await connectTo(c, f);
      const lost = next<DisconnectInfo>(c, "disconnect", 5000);
      conn.sendRaw(bytes);
      const { error } = await lost;
      expect(error).toMatchObject({ code: "protocolerror", reasonCode: 0x82 });
      expect(error.message).toContain(`broker sent ${name}`);
      expect(await conn.next("disconnect")).toMatchObject({ reasonCode: 0x82 });
      await servedAfter(c, f);
    });
  }

  it("v4: a broker that answers CONNECT with a CONNECT (garbage) → protocolerror, not an unsupported-protocol message", async () => {
    const f = await fake(4);
    const c = client(f);
    const connected = c.connect();
    const conn = await f.connection();
    await conn.next("connect");
    conn.sendRaw([0x10, 0x03, 0x00, 0x00, 0x00]);
    const e = await connected.then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toMatchObject({ code: "protocolerror" });
    expect(String((e as Error).message)).toMatch(/broker sent CONNECT/);
    expect(String((e as Error).message)).not.toMatch(/unsupported protocol/);
  });
});

describe("the idleTimeout watchdog (simulated network, virtual time)", () => {
  const BROKER = "10.0.0.1";

  /** A broker that answers CONNACK (MQTT 5, Server Keep Alive 0), then sends `then` and goes silent. */
  async function silentBroker(rt: Runtime, then: Uint8Array | undefined): Promise<{ port: number; socks: Socket[] }> {
    const listener = await rt.bind(0);
    const socks: Socket[] = [];
    listener.event(async (l: Socket) => {
      for (;;) {
        const s = await l.accept();
        if (!s) return;
        socks.push(s);
        s.event(async (sock: Socket) => {
          await sock.read(); // CONNECT
          await sock.write(encode({ type: "connack", sessionPresent: false, reasonCode: 0, properties: { serverKeepAlive: 0 } }, 5));
          if (then) await sock.write(then);
          while (await sock.read().catch(() => null)); // read until the client goes
        });
      }
    });
    return { port: listener.sockname()!.port, socks };
  }

  for (const [what, then] of [
    ["says nothing after CONNACK", undefined],
    ["stalls in the middle of a PUBLISH", Uint8Array.from([0x30, 0x20, 0x00, 0x01, 0x61])],
  ] as const) {
    it(`a server that turns keepalive off and ${what}: timeout after idleTimeout, never before; without it the connection stays`, async () => {
      const sim = new SimNetwork({ seed: 3 });
      const brokerRt = new Runtime(sim.host(BROKER));
      const rt = new Runtime(sim.host("10.0.0.2"));
      try {
        const { port } = await silentBroker(brokerRt, then);
        const watched = quiet(
          new MqttClient(rt, { host: BROKER, port, protocolVersion: 5, reconnect: false, keepalive: 30, idleTimeout: 5000 }),
        );
        const plain = quiet(new MqttClient(rt, { host: BROKER, port, protocolVersion: 5, reconnect: false, keepalive: 30 }));
        let lost: DisconnectInfo | undefined;
        let lostAt = 0;
        watched.on("close", (e) => {
          lost = { error: e!, reconnecting: false };
          lostAt = rt.host.now();
        });
        await watched.connect();
        const connectedAt = rt.host.now();
        await plain.connect();
        await until(rt, () => lost !== undefined, 60000, "the watchdog");
        expect(lost!.error).toMatchObject({ code: "timeout" });
        expect(lost!.error.message).toMatch(/no packet from the server for 5000 ms \(idleTimeout\)/);
        expect(lostAt - connectedAt).toBeGreaterThanOrEqual(5000);
        await rt.sleep(120000); // two minutes of silence: keepalive is off, no watchdog, still connected
        expect(plain.state).toBe("connected");
        await plain.close();
      } finally {
        rt.shutdown();
        brokerRt.shutdown();
      }
    });
  }
});
