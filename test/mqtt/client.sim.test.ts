/**
 * The MQTT client on the simulated network (virtual time), against a small broker running on the
 * runtime itself: a slow, lossy, tiny-window link; a link that goes silent (keepalive in virtual
 * time); connection resets mid-stream with resend and deduplication. Engine-neutral: it also runs
 * on XS (npm run test:xs -- --file test/mqtt/client.sim.test.ts).
 */
import { Runtime, decodeUtf8 } from "../../src/index.js";
import { SimNetwork, type LinkOptions } from "../../hosts/sim/index.js";
import {
  MqttClient,
  Session,
  type DisconnectInfo,
  type Message,
  type MqttClientOptions,
  type ProtocolVersion,
} from "../../modules/mqtt/index.js";
import { until } from "../support/util.js";
import { MiniBroker, matches } from "./mini-broker.js";

const BROKER = "10.0.0.1";
const BAD_LINK: LinkOptions = { latency: 5, jitter: 3, bandwidth: 200, sendBuffer: 512, recvWindow: 1024, loss: 0.02, rto: 50 };

interface World {
  sim: SimNetwork;
  brokerRt: Runtime;
  rt: Runtime;
  broker: MiniBroker;
  clients: MqttClient[];
  client(v: ProtocolVersion, options?: Partial<MqttClientOptions>): MqttClient;
  done(): Promise<void>;
}

async function world(seed: number, link?: LinkOptions): Promise<World> {
  const sim = new SimNetwork({ seed, link });
  const brokerRt = new Runtime(sim.host(BROKER));
  const rt = new Runtime(sim.host("10.0.0.2"));
  const broker = await MiniBroker.start(brokerRt, BROKER);
  const clients: MqttClient[] = [];
  return {
    sim,
    brokerRt,
    rt,
    broker,
    clients,
    client(v, options = {}) {
      const c = new MqttClient(rt, { host: BROKER, port: broker.port, protocolVersion: v, reconnect: false, ...options });
      clients.push(c);
      return c;
    },
    async done() {
      await Promise.all(clients.map((c) => c.close()));
      broker.stop();
      rt.shutdown();
      brokerRt.shutdown();
    },
  };
}

function collect(c: MqttClient): Message[] {
  const got: Message[] = [];
  c.on("message", (m) => void got.push(m));
  return got;
}

it("topic filters of the test broker", () => {
  expect(matches("a/+/c", "a/b/c")).toBe(true);
  expect(matches("a/#", "a")).toBe(true);
  expect(matches("a/#", "a/b/c")).toBe(true);
  expect(matches("a/+", "a/b/c")).toBe(false);
  expect(matches("a/b", "a/b/c")).toBe(false);
});

for (const v of [4, 5] as const) {
  describe(`MQTT v${v} on the simulated network`, () => {
    it("QoS 0, 1 and 2 over a slow, lossy, tiny-window link: everything arrives, in order per QoS", async () => {
      const w = await world(11, BAD_LINK);
      try {
        const sub = w.client(v, { clientId: "sub" });
        const pub = w.client(v, { clientId: "pub", queuelen: 1 << 17 }); // 60 KB published at once
        const got = collect(sub);
        await sub.connect();
        await sub.subscribe("s/#", { qos: 2 });
        await pub.connect();
        const payload = (i: number) => `${i}:` + "x".repeat(500);
        const results = await Promise.all(
          Array.from({ length: 120 }, (_, i) => pub.publish(`s/q${i % 3}`, payload(i), { qos: (i % 3) as 0 | 1 | 2 })),
        );
        expect(results).toHaveLength(120);
        await until(w.rt, () => got.length === 120, 600000, "120 messages");
        for (const q of [0, 1, 2]) {
          const texts = got.filter((m) => m.topic === `s/q${q}`).map((m) => decodeUtf8(m.payload));
          expect(texts).toEqual(Array.from({ length: 40 }, (_, i) => payload(i * 3 + q)));
        }
        expect(w.sim.stats().lostSegments).toBeGreaterThan(0);
      } finally {
        await w.done();
      }
    });

    it("keepalive: a link that goes silent is detected after two unanswered PINGREQs (1.5 × keepalive)", async () => {
      const w = await world(12);
      try {
        const c = w.client(v, { keepalive: 60 });
        await c.connect();
        const start = w.rt.host.now();
        let lost: DisconnectInfo | undefined;
        c.on("disconnect", (d) => void (lost = d));
        w.sim.connections()[0].stall(true);
        await until(w.rt, () => lost !== undefined, 200000, "the keepalive failure");
        const elapsed = w.rt.host.now() - start;
        expect(lost!.error.code).toBe("timeout");
        expect(elapsed).toBeGreaterThanOrEqual(90000);
        expect(elapsed).toBeLessThan(91000);
      } finally {
        await w.done();
      }
    });

    it("connection resets mid-stream: reconnection, resend with DUP, no QoS 2 message lost or duplicated", async () => {
      const w = await world(13, { latency: 2, bandwidth: 2000 });
      try {
        const common = { cleanStart: false, sessionExpiry: v === 5 ? 600 : 0, reconnect: { delay: 100, maxDelay: 1000, factor: 2 } };
        const sub = w.client(v, { clientId: "r-sub", ...common });
        const pub = w.client(v, { clientId: "r-pub", ...common });
        const got = collect(sub);
        await sub.connect();
        await sub.subscribe("r/#", { qos: 2 });
        await pub.connect();
        const N = 300;
        const results = Promise.all(
          Array.from({ length: N }, (_, i) => pub.publish(`r/${i % 2 ? "two" : "one"}`, String(i), { qos: i % 2 ? 2 : 1 })),
        );
        let resets = 0;
        for (const at of [50, 120, 200]) {
          await until(w.rt, () => got.length >= at, 600000, `${at} messages`);
          for (const c of w.sim.connections()) c.reset(); // both clients' connections
          resets++;
        }
        await results;
        await until(w.rt, () => new Set(got.map((m) => decodeUtf8(m.payload))).size === N, 600000, "every message");
        await pub.publish("r/marker", "end", { qos: 2 });
        await until(w.rt, () => got.some((m) => m.topic === "r/marker"), 600000, "the marker");
        const counts = new Map<string, number>();
        for (const m of got) counts.set(decodeUtf8(m.payload), (counts.get(decodeUtf8(m.payload)) ?? 0) + 1);
        const dupQoS2 = [...counts].filter(([k, n]) => Number(k) % 2 === 1 && n > 1);
        expect(dupQoS2).toEqual([]);
        expect(resets).toBe(3);
        expect(pub.stat().connects).toBe(4);
        expect(sub.stat().connects).toBe(4);
        expect(w.broker.publishes).toBeGreaterThan(N); // some were resent
      } finally {
        await w.done();
      }
    });
  });
}

describe("the session store (MQTT 5 on the simulated network)", () => {
  it("an asynchronous store: saves never overlap, every publish completes, the last save holds nothing in flight", async () => {
    const w = await world(21, { latency: 2 });
    try {
      let saving = 0;
      let overlapped = false;
      const saves: Uint8Array[] = [];
      const store = {
        async save(data: Uint8Array): Promise<void> {
          if (saving > 0) overlapped = true;
          saving++;
          await w.rt.sleep(3); // a slow flash write, in virtual time
          saves.push(data);
          saving--;
        },
      };
      const sub = w.client(5, { clientId: "as-sub" });
      const got = collect(sub);
      await sub.connect();
      await sub.subscribe("as/#", { qos: 2 });
      const pub = w.client(5, { clientId: "as-pub", cleanStart: false, sessionExpiry: 600, store });
      await pub.connect();
      const N = 20;
      await Promise.all(Array.from({ length: N }, (_, i) => pub.publish(`as/${i}`, String(i), { qos: i % 2 ? 2 : 1 })));
      await until(w.rt, () => got.length === N && saving === 0, 60000, "every message");
      expect(overlapped).toBe(false);
      expect(saves.length).toBeGreaterThan(N); // each message is saved in flight, then done
      const last = Session.restore(saves[saves.length - 1]!);
      expect(last.clientId).toBe("as-pub");
      expect(last.inflight.size).toBe(0);
      // some save in between held messages in flight
      expect(saves.some((b) => Session.restore(b).inflight.size > 0)).toBe(true);
    } finally {
      await w.done();
    }
  });

  it("a store that fails ends the connection with storefailed, sends nothing it could not save, and the reconnection tries again", async () => {
    const w = await world(22, { latency: 2 });
    try {
      let failing = true;
      const store = {
        save(): void {
          if (failing) throw new Error("flash full");
        },
      };
      const sub = w.client(5, { clientId: "sf-sub" });
      const got = collect(sub);
      await sub.connect();
      await sub.subscribe("sf/#", { qos: 1 });
      const pub = w.client(5, {
        clientId: "sf-pub",
        cleanStart: false,
        sessionExpiry: 600,
        store,
        reconnect: { delay: 50, maxDelay: 50, factor: 1 },
      });
      const errors: string[] = [];
      pub.on("disconnect", (d: DisconnectInfo) => void errors.push(String((d.error as { code?: string } | undefined)?.code)));
      await pub.connect();
      const sent = pub.publish("sf/a", "kept", { qos: 1 });
      await until(w.rt, () => errors.includes("storefailed"), 60000, "storefailed");
      await w.rt.sleep(200);
      expect(got).toHaveLength(0); // the PUBLISH it could not save never left
      failing = false; // the flash works again: the next connection saves, then sends
      await sent;
      await until(w.rt, () => got.length === 1, 60000, "the message");
      expect(decodeUtf8(got[0]!.payload)).toBe("kept");
      expect(pub.stat().connects).toBeGreaterThanOrEqual(2);
    } finally {
      await w.done();
    }
  });
});
