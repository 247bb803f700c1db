/**
 * A program restart (a device reboot) in the middle of QoS 1/2 exchanges with a real mosquitto:
 * the old "process" (a client on its own Runtime, with a store standing for the flash) is
 * abandoned without DISCONNECT, and a brand-new client on a new Runtime, built from the stored
 * bytes, finishes the session. A filtering proxy puts the old session in a precise state first.
 *
 * Each scenario also runs as a control that does not restore the stored session (a new client
 * with the same id and a fresh `Session`): it must lose (publisher) or duplicate (subscriber)
 * messages, which shows the scenario reaches the cases the stored session is for.
 */
import { Runtime, decodeUtf8 } from "../../src/index.js";
import { nodeHost } from "../../hosts/node/index.js";
import { MqttClient, Session, type MqttClientOptions, type ProtocolVersion, type QoS } from "../../modules/mqtt/index.js";
import { itWithPeer } from "../support/peers.js";
import { Broker } from "./broker.js";
import { FilterProxy, PUBACK, PUBCOMP, PUBREC, PUBREL } from "./filter-proxy.js";
import { Inbox, quiet } from "./helpers.js";

const itMosquitto = itWithPeer("mosquitto", "apt-get install mosquitto mosquitto-clients");

/** The flash: keeps the last bytes saved. A dead process saves nothing more. */
class FlashStore {
  data: Uint8Array | undefined;
  saves = 0;
  dead = false;
  save(data: Uint8Array): void {
    if (this.dead) return;
    this.data = data;
    this.saves++;
  }
  get session(): Session {
    return Session.restore(this.data!);
  }
}

let runtimes: Runtime[];
let clients: MqttClient[];
let brokers: Broker[];
let proxies: FilterProxy[];

beforeEach(() => {
  runtimes = [];
  clients = [];
  brokers = [];
  proxies = [];
});

afterEach(async () => {
  await Promise.all(clients.map((c) => c.close()));
  for (const rt of runtimes) rt.shutdown();
  await Promise.all(proxies.map((p) => p.stop()));
  await Promise.all(brokers.map((b) => b.stop()));
});

/** A "process": a client on its own runtime. */
function proc(port: number, v: ProtocolVersion, options: Partial<MqttClientOptions>): { rt: Runtime; client: MqttClient } {
  const rt = new Runtime(nodeHost());
  runtimes.push(rt);
  const client = quiet(new MqttClient(rt, { host: "127.0.0.1", port, protocolVersion: v, ...options }));
  clients.push(client);
  return { rt, client };
}

async function until(cond: () => boolean, what: string, limit = 15000): Promise<void> {
  const end = Date.now() + limit;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

let seq = 0;
const topic = (name: string) => `cosock/${process.pid}/restart/${++seq}/${name}`;

/** How many times each payload arrived. */
function counts(inboxes: Inbox[], skip: string): Map<string, number> {
  const c = new Map<string, number>();
  for (const inbox of inboxes)
    for (const m of inbox.messages) if (m.topic !== skip) c.set(decodeUtf8(m.payload), (c.get(decodeUtf8(m.payload)) ?? 0) + 1);
  return c;
}

describe.each([4, 5] as const)("MQTT v%i: the session survives a restart of the program", (v) => {
  const persist: Partial<MqttClientOptions> = v === 5 ? { cleanStart: false, sessionExpiry: 3600 } : { cleanStart: false };

  /**
   * The device dies (no DISCONNECT; the flash keeps what was last saved) and starts again: a new
   * runtime and client with the same id, from the stored session when `restore`.
   */
  function restart(old: { rt: Runtime }, flash: FlashStore, proxy: { port: number; passAll(): void }, id: string, restore: boolean) {
    flash.dead = true;
    old.rt.shutdown();
    const stored = flash.data!;
    proxy.passAll();
    const flashB = new FlashStore();
    const fresh = proc(proxy.port, v, {
      clientId: id,
      ...persist,
      store: flashB,
      ...(restore ? { session: Session.restore(stored) } : {}),
    });
    return { fresh, flashB };
  }

  async function publisherRestart(restore: boolean): Promise<{ lost: string[]; duplicatedQoS2: string[] }> {
    const b = await Broker.start();
    brokers.push(b);
    const proxy = await FilterProxy.start(b.port);
    proxies.push(proxy);
    const t = topic("pub");
    const sub = proc(b.port, v, {}).client;
    const inbox = new Inbox(sub);
    await sub.connect();
    await sub.subscribe(`${t}/#`, { qos: 2 });

    const id = `restart-pub-${v}-${restore}-${process.pid}`;
    const flash = new FlashStore();
    const old = proc(proxy.port, v, { clientId: id, ...persist, store: flash, reconnect: false });
    await old.client.connect();
    const sent: [string, QoS][] = [];
    const publish = (qos: 1 | 2) => {
      const payload = String(sent.length);
      sent.push([payload, qos]);
      return old.client.publish(`${t}/q${qos}`, payload, { qos });
    };
    // 1. PUBCOMPs are lost: QoS 2 messages stop in "pubrel" (the server has released them)
    proxy.drop.down.add(PUBCOMP);
    const acked: Promise<unknown>[] = [];
    for (let i = 0; i < 3; i++) {
      acked.push(publish(1));
      void publish(2);
    }
    await Promise.all(acked);
    await until(() => proxy.count("down", PUBCOMP) === 3, "3 PUBCOMPs");
    // 2. PUBACKs and PUBRECs are lost: the server has the messages, the client waits ("publish")
    proxy.drop.down.add(PUBACK).add(PUBREC);
    for (let i = 0; i < 3; i++) void publish(1), void publish(2);
    await until(() => proxy.count("down", PUBACK) === 3 && proxy.count("down", PUBREC) === 3, "3 PUBACKs and 3 PUBRECs");
    // 3. nothing reaches the server any more ("publish", the server never saw them)
    for (const type of [1, 3, 4, 5, 6, 7, 8, 10, 12, 14]) proxy.drop.up.add(type);
    for (let i = 0; i < 3; i++) void publish(1), void publish(2);
    await until(() => flash.data !== undefined && flash.session.inflight.size === 15, "15 messages in flight in the store");
    const states = [...flash.session.inflight.values()].map((m) => `${m.qos}:${m.state}`);
    expect(states.filter((s) => s === "2:pubrel")).toHaveLength(3);
    expect(states.filter((s) => s === "2:publish")).toHaveLength(6);
    expect(states.filter((s) => s === "1:publish")).toHaveLength(6);

    const { fresh, flashB } = restart(old, flash, proxy, id, restore);
    const errors: string[] = [];
    fresh.client.on("error", (e) => void errors.push(e.message));
    expect((await fresh.client.connect()).sessionPresent).toBe(true);
    await until(() => fresh.client.stat().inflight === 0, "the restored messages to complete");
    await fresh.client.publish(`${t}/marker`, "end", { qos: 2 });
    await inbox.find((m) => m.topic === `${t}/marker`, "the marker", 15000);
    if (restore) expect(flashB.session.inflight.size).toBe(0);
    // a PUBREL resent for a message the server completed may be answered 0x92 (MQTT 5): nothing else
    expect(errors.filter((e) => !/0x92/.test(e))).toEqual([]);
    const c = counts([inbox], `${t}/marker`);
    return {
      lost: sent.filter(([p]) => !c.has(p)).map(([p]) => p),
      duplicatedQoS2: sent.filter(([p, q]) => q === 2 && c.get(p)! > 1).map(([p]) => p),
    };
  }

  itMosquitto(
    "a publisher restarted from its stored session loses no QoS 1 message and no QoS 2 message, and duplicates no QoS 2 message",
    async () => {
      expect(await publisherRestart(true)).toEqual({ lost: [], duplicatedQoS2: [] });
    },
    30000,
  );

  itMosquitto(
    "control: without the stored session the same restart loses messages",
    async () => {
      expect((await publisherRestart(false)).lost.length).toBeGreaterThan(0);
    },
    30000,
  );

  async function subscriberRestart(restore: boolean): Promise<{ lost: string[]; duplicatedQoS2: string[]; qos1: number }> {
    const b = await Broker.start();
    brokers.push(b);
    const proxy = await FilterProxy.start(b.port);
    proxies.push(proxy);
    const t = topic("sub");
    const id = `restart-sub-${v}-${restore}-${process.pid}`;
    const flash = new FlashStore();
    const old = proc(proxy.port, v, { clientId: id, ...persist, store: flash, reconnect: false });
    const inboxA = new Inbox(old.client);
    await old.client.connect();
    await old.client.subscribe(`${t}/#`, { qos: 2 });
    expect(flash.session.subscriptions.has(`${t}/#`)).toBe(true);
    const pub = proc(b.port, v, {}).client;
    await pub.connect();
    const sent: [string, QoS][] = [];
    const publish = (qos: 1 | 2) => {
      const payload = String(sent.length);
      sent.push([payload, qos]);
      return pub.publish(`${t}/q${qos}`, payload, { qos });
    };
    // 1. PUBRELs are lost: the server has the PUBREC and will resend the PUBREL
    proxy.drop.down.add(PUBREL);
    for (let i = 0; i < 3; i++) await publish(2);
    await until(() => proxy.count("down", PUBREL) === 3, "3 PUBRELs");
    // 2. PUBRECs and PUBACKs are lost: the server will resend these PUBLISHes
    proxy.drop.up.add(PUBREC).add(PUBACK);
    for (let i = 0; i < 3; i++) await publish(2), await publish(1);
    await until(() => proxy.count("up", PUBREC) === 3 && proxy.count("up", PUBACK) === 3, "3 PUBRECs and 3 PUBACKs");
    expect(inboxA.messages).toHaveLength(9);
    expect(flash.session.incoming.size).toBe(6);

    const { fresh, flashB } = restart(old, flash, proxy, id, restore);
    const inboxB = new Inbox(fresh.client);
    expect((await fresh.client.connect()).sessionPresent).toBe(true);
    // the server finishes its QoS 2 exchanges (every PUBREL answered), then a marker after them
    await until(
      () => proxy.count("down", PUBREL) === 3 && fresh.client.stat().incoming === 0 && inboxB.messages.length >= (restore ? 3 : 6),
      "the resent exchanges",
    );
    await pub.publish(`${t}/marker`, "end", { qos: 2 });
    await inboxB.find((m) => m.topic === `${t}/marker`, "the marker", 15000);
    // the marker's PUBREL comes after the marker: then nothing is half-acknowledged, in memory or stored
    await until(() => fresh.client.stat().incoming === 0 && flashB.session.incoming.size === 0, "no incoming QoS 2 identifier left");
    const c = counts([inboxA, inboxB], `${t}/marker`);
    return {
      lost: sent.filter(([p]) => !c.has(p)).map(([p]) => p),
      duplicatedQoS2: sent.filter(([p, q]) => q === 2 && c.get(p)! > 1).map(([p]) => p),
      qos1: inboxB.messages.filter((m) => m.qos === 1).length,
    };
  }

  itMosquitto(
    "a subscriber restarted from its stored session with QoS 2 messages half-acknowledged delivers none of them twice",
    async () => {
      // the 3 QoS 1 messages whose PUBACK was lost come again (at least once)
      expect(await subscriberRestart(true)).toEqual({ lost: [], duplicatedQoS2: [], qos1: 3 });
    },
    30000,
  );

  itMosquitto(
    "control: without the stored session the same restart delivers QoS 2 messages twice",
    async () => {
      expect((await subscriberRestart(false)).duplicatedQoS2.length).toBeGreaterThan(0);
    },
    30000,
  );
});
