/**
 * `Session.save()` / `Session.restore()` on their own: round trips (properties, empty payloads,
 * both in-flight states, subscriptions with and without MQTT 5 options), and refusal of bytes
 * that are not a whole saved session, with a clear error and no session. Engine-neutral (no Node
 * APIs): it runs on XS too (tools/xs/suites.ts).
 */
import { Session } from "../../modules/mqtt/session.js";
import { MqttError } from "../../modules/mqtt/errors.js";

function sample(): Session {
  const s = new Session("dev-ü-1");
  s.allocate(() => false); // the counter moves on: 1 used
  s.allocate(() => false);
  s.inflight.set(7, { topic: "a/b", payload: Uint8Array.of(1, 2, 3), qos: 1, retain: false, packetId: 7, state: "publish" });
  s.inflight.set(3, {
    topic: "c/ü",
    payload: new Uint8Array(0),
    qos: 2,
    retain: true,
    packetId: 3,
    state: "pubrel",
    properties: {
      userProperties: [
        ["k", "v"],
        ["k", "w"],
      ],
      contentType: "text/plain",
      responseTopic: "r/t",
      correlationData: Uint8Array.of(9, 8),
      payloadFormatIndicator: 1,
      messageExpiryInterval: 60,
    },
  });
  s.inflight.set(65535, {
    topic: "big",
    payload: new Uint8Array(70000).fill(0x5a),
    qos: 2,
    retain: false,
    packetId: 65535,
    state: "publish",
  });
  s.incoming.add(1);
  s.incoming.add(65535);
  s.subscriptions.set("x/#", { topic: "x/#", qos: 2 }); // as an MQTT 3.1.1 client records it
  s.subscriptions.set("y/+", {
    topic: "y/+",
    qos: 1,
    noLocal: true,
    retainAsPublished: true,
    retainHandling: 2,
    subscriptionIdentifier: 42,
    userProperties: [["u", "p"]],
  });
  return s;
}

function plain(s: Session): unknown {
  return {
    clientId: s.clientId,
    inflight: [...s.inflight.entries()].map(([k, m]) => [
      k,
      {
        ...m,
        payload: Array.from(m.payload),
        properties: m.properties && {
          ...m.properties,
          correlationData: m.properties.correlationData && Array.from(m.properties.correlationData),
        },
      },
    ]),
    incoming: [...s.incoming],
    subscriptions: [...s.subscriptions.entries()],
  };
}

function refusal(data: Uint8Array): MqttError {
  try {
    Session.restore(data);
  } catch (e) {
    expect(e).toBeInstanceOf(MqttError);
    return e as MqttError;
  }
  throw new Error("restore did not refuse");
}

describe("Session.save / Session.restore", () => {
  it("round trip: client id, in-flight messages in both states with properties and empty payloads, incoming ids, subscriptions", () => {
    const s = sample();
    const r = Session.restore(s.save());
    expect(plain(r)).toEqual(plain(s));
    // in the original order, with no publisher's promise
    expect([...r.inflight.keys()]).toEqual([7, 3, 65535]);
    expect([...r.inflight.values()].some((m) => "done" in m)).toBe(false);
    expect(r.inflight.get(3)!.payload.length).toBe(0);
    // the packet identifier counter continues where it was, skipping what is in flight
    expect(r.allocate(() => false)).toBe(4); // 3 is in flight
    expect(s.allocate(() => false)).toBe(4);
    // saving again gives the same bytes
    expect(Array.from(Session.restore(r.save()).save())).toEqual(Array.from(r.save()));
  });

  it("an empty session, and a server-assignable empty client id", () => {
    const r = Session.restore(new Session("").save());
    expect(plain(r)).toEqual(plain(new Session("")));
    expect(r.allocate(() => false)).toBe(1);
  });

  it("the counter wraps and is kept at 65535", () => {
    const s = new Session("c");
    for (let i = 0; i < 65534; i++) s.allocate(() => false);
    const r = Session.restore(s.save());
    expect(r.allocate(() => false)).toBe(65535);
    expect(r.allocate(() => false)).toBe(1);
  });

  it("refuses foreign, corrupted, truncated and extended bytes with a clear error", () => {
    const good = sample().save();
    expect(refusal(new Uint8Array(0)).message).toMatch(/not a stored MQTT session: wrong magic/);
    expect(refusal(Uint8Array.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x31, 0x7d, 0, 0, 0])).message).toMatch(/wrong magic/);
    const other = good.slice();
    other[4] = 2;
    expect(refusal(other).message).toMatch(/format 2 is not supported/);
    for (const i of [5, 20, 100, good.length - 40, good.length - 1]) {
      const bad = good.slice();
      bad[i] ^= 0x10;
      expect(refusal(bad).message).toMatch(/checksum mismatch/);
    }
    expect(refusal(good.subarray(0, good.length - 1)).message).toMatch(/checksum mismatch/);
    expect(refusal(good.subarray(0, 8)).message).toMatch(/not a stored MQTT session/);
    expect(refusal(null as unknown as Uint8Array).message).toMatch(/expected a Uint8Array/);
    expect(refusal(refusal(good.subarray(0, 3)) as unknown as Uint8Array).code).toBe("incorrectuse");
  });

  it("refuses well-checksummed bytes whose content is impossible", () => {
    // re-sign edited bytes, as a store of another program with the same magic might hold
    const sign = (b: Uint8Array): Uint8Array => {
      let h = 0x811c9dc5;
      const end = b.length - 4;
      for (let i = 0; i < end; i++) h = Math.imul(h ^ b[i], 0x01000193);
      h >>>= 0;
      b[end] = h >>> 24;
      b[end + 1] = (h >>> 16) & 255;
      b[end + 2] = (h >>> 8) & 255;
      b[end + 3] = h & 255;
      return b;
    };
    const s = new Session("c");
    s.inflight.set(5, { topic: "t", payload: Uint8Array.of(1), qos: 1, retain: false, packetId: 5, state: "publish" });
    const good = s.save();
    // layout: magic(4) format(1) next(2) id(2+1) count(2) state(1) length(4) PUBLISH...
    const pubrelQoS1 = good.slice();
    pubrelQoS1[12] = 1;
    expect(refusal(sign(pubrelQoS1)).message).toMatch(/in-flight state 1 for QoS 1/);
    const longer = good.slice();
    longer[16] += 1; // the PUBLISH's stored length runs into what follows
    expect(refusal(sign(longer)).message).toMatch(/not a stored MQTT session/);
    const zero = good.slice();
    zero[5] = 0;
    zero[6] = 0;
    expect(refusal(sign(zero)).message).toMatch(/packet identifier 0/);
    const extra = new Uint8Array(good.length + 1);
    extra.set(good.subarray(0, good.length - 4));
    expect(refusal(sign(extra)).message).toMatch(/1 bytes after the end/);
  });
});
