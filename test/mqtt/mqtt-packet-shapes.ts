/** Our packets to and from mqtt-packet's object shapes, for the cross-check. */
import type { Packet, Properties, ProtocolVersion } from "../../modules/mqtt/packet/index.js";

type MP = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const FLAGS = [
  "payloadFormatIndicator",
  "requestResponseInformation",
  "requestProblemInformation",
  "retainAvailable",
  "wildcardSubscriptionAvailable",
  "subscriptionIdentifiersAvailable",
  "sharedSubscriptionAvailable",
];

function propsToMP(p: Properties | undefined): MP | undefined {
  if (!p) return undefined;
  const out: MP = {};
  for (const [k, v] of Object.entries(p)) {
    if (k === "userProperties") {
      const o: MP = {};
      for (const [n, val] of v as [string, string][]) o[n] = n in o ? [...[o[n]].flat(), val] : val;
      out.userProperties = o;
    } else if (k === "subscriptionIdentifiers") out.subscriptionIdentifier = (v as number[]).length === 1 ? (v as number[])[0] : v;
    else if (FLAGS.includes(k)) out[k] = v === 1;
    else if (v instanceof Uint8Array) out[k] = Buffer.from(v);
    else out[k] = v;
  }
  return out;
}

function propsFromMP(p: MP | undefined, publish: boolean): Properties | undefined {
  if (!p || Object.keys(p).length === 0) return undefined;
  const out: MP = {};
  for (const [k, v] of Object.entries(p)) {
    if (k === "userProperties") {
      const pairs: [string, string][] = [];
      for (const [n, val] of Object.entries(v as MP)) for (const x of [val].flat()) pairs.push([n, x as string]);
      out.userProperties = pairs;
    } else if (k === "subscriptionIdentifier" && publish) out.subscriptionIdentifiers = [v].flat();
    else if (FLAGS.includes(k)) out[k] = v ? 1 : 0;
    else if (Buffer.isBuffer(v)) out[k] = new Uint8Array(v);
    else out[k] = v;
  }
  return out as Properties;
}

function clean<T extends MP>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}

export function toMP(p: Packet, v: ProtocolVersion): MP {
  switch (p.type) {
    case "connect":
      return clean({
        cmd: "connect",
        protocolId: "MQTT",
        protocolVersion: p.protocolVersion,
        clean: p.cleanStart,
        clientId: p.clientId,
        keepalive: p.keepalive,
        username: p.username,
        password: p.password && Buffer.from(p.password),
        will:
          p.will &&
          clean({
            topic: p.will.topic,
            payload: Buffer.from(p.will.payload),
            qos: p.will.qos,
            retain: p.will.retain,
            properties: propsToMP(p.will.properties),
          }),
        properties: propsToMP(p.properties),
      });
    case "connack":
      return clean({
        cmd: "connack",
        sessionPresent: p.sessionPresent,
        [v === 5 ? "reasonCode" : "returnCode"]: p.reasonCode,
        properties: propsToMP(p.properties),
      });
    case "publish":
      return clean({
        cmd: "publish",
        topic: p.topic,
        payload: Buffer.from(p.payload),
        qos: p.qos,
        dup: p.dup,
        retain: p.retain,
        messageId: p.packetId,
        properties: propsToMP(p.properties),
      });
    case "puback":
    case "pubrec":
    case "pubrel":
    case "pubcomp":
      return clean({
        cmd: p.type,
        messageId: p.packetId,
        reasonCode: v === 5 ? p.reasonCode : undefined,
        properties: propsToMP(p.properties),
      });
    case "subscribe":
      return clean({
        cmd: "subscribe",
        messageId: p.packetId,
        subscriptions: p.subscriptions.map((s) =>
          clean({ topic: s.topic, qos: s.qos, nl: s.noLocal, rap: s.retainAsPublished, rh: s.retainHandling }),
        ),
        properties: propsToMP(p.properties),
      });
    case "suback":
    case "unsuback":
      return clean({
        cmd: p.type,
        messageId: p.packetId,
        granted: v === 5 || p.type === "suback" ? p.reasonCodes : undefined,
        properties: propsToMP(p.properties),
      });
    case "unsubscribe":
      return clean({ cmd: "unsubscribe", messageId: p.packetId, unsubscriptions: p.topics, properties: propsToMP(p.properties) });
    case "pingreq":
    case "pingresp":
      return { cmd: p.type };
    case "disconnect":
    case "auth":
      return clean({ cmd: p.type, reasonCode: v === 5 ? p.reasonCode : undefined, properties: propsToMP(p.properties) });
  }
}

export function fromMP(o: MP, v: ProtocolVersion): Packet {
  const props = (publish = false) => propsFromMP(o.properties, publish);
  const withProps = <T extends MP>(p: T, pr: Properties | undefined): T => (pr ? { ...p, properties: pr } : p);
  const bytes = (x: unknown) => (x === undefined || x === null ? undefined : new Uint8Array(x as Buffer));
  switch (o.cmd) {
    case "connect": {
      const p: MP = {
        type: "connect",
        protocolVersion: o.protocolVersion,
        clientId: o.clientId,
        cleanStart: o.clean,
        keepalive: o.keepalive,
      };
      if (o.will)
        p.will = withProps(
          { topic: o.will.topic, payload: bytes(o.will.payload), qos: o.will.qos, retain: o.will.retain },
          propsFromMP(o.will.properties, false),
        );
      if (o.username !== undefined) p.username = o.username;
      if (o.password !== undefined) p.password = bytes(o.password);
      return withProps(p, props()) as Packet;
    }
    case "connack":
      return withProps(
        { type: "connack", sessionPresent: o.sessionPresent, reasonCode: v === 5 ? o.reasonCode : o.returnCode },
        props(),
      ) as Packet;
    case "publish": {
      const p: MP = { type: "publish", topic: o.topic, payload: bytes(o.payload), qos: o.qos, retain: o.retain, dup: o.dup };
      if (o.qos > 0) p.packetId = o.messageId;
      return withProps(p, props(true)) as Packet;
    }
    case "puback":
    case "pubrec":
    case "pubrel":
    case "pubcomp":
      return withProps({ type: o.cmd, packetId: o.messageId, reasonCode: o.reasonCode ?? 0 }, props()) as Packet;
    case "subscribe":
      return withProps(
        {
          type: "subscribe",
          packetId: o.messageId,
          subscriptions: o.subscriptions.map((s: MP) =>
            v === 5
              ? { topic: s.topic, qos: s.qos, noLocal: !!s.nl, retainAsPublished: !!s.rap, retainHandling: s.rh ?? 0 }
              : { topic: s.topic, qos: s.qos },
          ),
        },
        props(),
      ) as Packet;
    case "suback":
    case "unsuback":
      return withProps({ type: o.cmd, packetId: o.messageId, reasonCodes: o.granted ?? [] }, props()) as Packet;
    case "unsubscribe":
      return withProps({ type: "unsubscribe", packetId: o.messageId, topics: o.unsubscriptions }, props()) as Packet;
    case "pingreq":
    case "pingresp":
      return { type: o.cmd };
    case "disconnect":
    case "auth":
      return withProps({ type: o.cmd, reasonCode: o.reasonCode ?? 0 }, props()) as Packet;
  }
  throw new Error(`unknown mqtt-packet cmd ${o.cmd}`);
}
