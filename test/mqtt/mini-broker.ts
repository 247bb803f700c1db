/**
 * A small MQTT broker on the runtime itself (engine-neutral: it runs on the simulated network and
 * on XS), built on the codec's server side: sessions that survive a reconnect (Clean Start 0),
 * QoS 0/1/2 both ways with resend after a reconnect, topic filters with + and #, PINGRESP.
 * `silent` makes it answer CONNECT and then nothing (a peer that stops answering).
 */
import type { Runtime, Socket } from "../../src/index.js";
import { PacketDecoder, encode, type Packet, type ProtocolVersion, type PublishPacket, type QoS } from "../../modules/mqtt/packet/index.js";

interface Outgoing {
  packet: PublishPacket;
  state: "publish" | "pubrel";
}

interface Session {
  clientId: string;
  subs: Map<string, QoS>;
  outgoing: Map<number, Outgoing>;
  incoming: Set<number>;
  nextId: number;
  conn: Conn | undefined;
}

interface Conn {
  sock: Socket;
  version: ProtocolVersion;
  session: Session;
}

export function matches(filter: string, topic: string): boolean {
  const f = filter.split("/");
  const t = topic.split("/");
  for (let i = 0; i < f.length; i++) {
    if (f[i] === "#") return true;
    if (i >= t.length || (f[i] !== "+" && f[i] !== t[i])) return false;
  }
  return f.length === t.length;
}

export class MiniBroker {
  readonly sessions = new Map<string, Session>();
  silent = false;
  /** PUBLISH packets received from clients, DUP ones included. */
  publishes = 0;
  port = 0;
  listener!: Socket;

  private constructor(readonly rt: Runtime) {}

  static async start(rt: Runtime, intf: string): Promise<MiniBroker> {
    const b = new MiniBroker(rt);
    b.listener = await rt.bind(0, { intf });
    b.port = b.listener.sockname()!.port;
    void (async () => {
      for (;;) {
        const s = await b.listener.accept();
        if (!s) return;
        s.event(b.#serve, "s");
      }
    })();
    return b;
  }

  stop(): void {
    this.listener.close();
    for (const s of this.sessions.values()) s.conn?.sock.close();
  }

  #serve = async (sock: Socket): Promise<void> => {
    const decoder = new PacketDecoder();
    let conn: Conn | undefined;
    try {
      for (;;) {
        const data = await sock.read();
        if (!data) break;
        for (const p of decoder.feed(data)) {
          if (p.type === "connect") conn = await this.#connect(sock, p.protocolVersion, p.clientId, p.cleanStart);
          else if (conn && !this.silent) await this.#handle(conn, p);
          if (p.type === "disconnect") return;
        }
      }
    } catch {
      /* reset, or closed */
    } finally {
      if (conn && conn.session.conn === conn) conn.session.conn = undefined;
    }
  };

  async #send(conn: Conn, p: Packet): Promise<void> {
    await conn.sock.write(encode(p, conn.version));
  }

  async #connect(sock: Socket, version: ProtocolVersion, clientId: string, clean: boolean): Promise<Conn> {
    let session = clean ? undefined : this.sessions.get(clientId);
    const present = session !== undefined;
    session ??= { clientId, subs: new Map(), outgoing: new Map(), incoming: new Set(), nextId: 1, conn: undefined };
    this.sessions.set(clientId, session);
    session.conn?.sock.close(); // a session is taken over
    const conn: Conn = { sock, version, session };
    session.conn = conn;
    await this.#send(conn, { type: "connack", sessionPresent: present, reasonCode: 0 });
    if (this.silent) return conn;
    for (const [packetId, o] of session.outgoing) {
      if (o.state === "pubrel") await this.#send(conn, { type: "pubrel", packetId, reasonCode: 0 });
      else await this.#send(conn, { ...o.packet, dup: true });
    }
    return conn;
  }

  async #handle(conn: Conn, p: Packet): Promise<void> {
    const s = conn.session;
    switch (p.type) {
      case "publish":
        this.publishes++;
        if (p.qos === 2) {
          if (!s.incoming.has(p.packetId!)) {
            s.incoming.add(p.packetId!);
            await this.#route(p);
          }
          return this.#send(conn, { type: "pubrec", packetId: p.packetId!, reasonCode: 0 });
        }
        await this.#route(p);
        if (p.qos === 1) return this.#send(conn, { type: "puback", packetId: p.packetId!, reasonCode: 0 });
        return;
      case "pubrel":
        s.incoming.delete(p.packetId);
        return this.#send(conn, { type: "pubcomp", packetId: p.packetId, reasonCode: 0 });
      case "puback":
      case "pubcomp":
        s.outgoing.delete(p.packetId);
        return;
      case "pubrec": {
        const o = s.outgoing.get(p.packetId);
        if (o) o.state = "pubrel";
        return this.#send(conn, { type: "pubrel", packetId: p.packetId, reasonCode: 0 });
      }
      case "subscribe":
        for (const sub of p.subscriptions) s.subs.set(sub.topic, sub.qos);
        return this.#send(conn, { type: "suback", packetId: p.packetId, reasonCodes: p.subscriptions.map((x) => x.qos) });
      case "unsubscribe":
        for (const t of p.topics) s.subs.delete(t);
        return this.#send(conn, { type: "unsuback", packetId: p.packetId, reasonCodes: conn.version === 5 ? p.topics.map(() => 0) : [] });
      case "pingreq":
        return this.#send(conn, { type: "pingresp" });
      default:
        return;
    }
  }

  async #route(p: PublishPacket): Promise<void> {
    for (const s of this.sessions.values()) {
      let qos = -1;
      for (const [filter, q] of s.subs) if (matches(filter, p.topic)) qos = Math.max(qos, q);
      if (qos < 0) continue;
      const q = Math.min(qos, p.qos) as QoS;
      const out: PublishPacket = { type: "publish", topic: p.topic, payload: p.payload, qos: q, retain: false, dup: false };
      if (q > 0) {
        out.packetId = s.nextId;
        s.nextId = s.nextId === 65535 ? 1 : s.nextId + 1;
        s.outgoing.set(out.packetId, { packet: out, state: "publish" });
      }
      const conn = s.conn;
      if (!conn) continue; // kept for the session's next connection (QoS 1/2)
      try {
        await this.#send(conn, out);
      } catch {
        /* that connection is gone; resent when the session reconnects */
      }
    }
  }
}
