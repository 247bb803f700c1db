/**
 * A TCP proxy in front of a broker that cuts the byte streams into MQTT packets and drops the
 * packets of chosen types in either direction (as a network that loses them just before the
 * sender dies would). With it a test puts a client's session in a precise state: QoS 2 messages
 * whose PUBCOMP never came ("pubrel"), messages the server has but whose acknowledgement never
 * came, messages the server never got. Dropped packets are counted by type.
 */
import { connect, createServer, type AddressInfo, type Server, type Socket } from "node:net";

/** MQTT packet types by their fixed-header code. */
export const PUBLISH = 3;
export const PUBACK = 4;
export const PUBREC = 5;
export const PUBREL = 6;
export const PUBCOMP = 7;

/** Whole packets at the start of `buf`, and what is left after them. */
function split(buf: Buffer): [Buffer[], Buffer] {
  const out: Buffer[] = [];
  let off = 0;
  for (;;) {
    let len = 0;
    let mul = 1;
    let i = off + 1;
    let complete = false;
    for (let k = 0; k < 4 && i < buf.length; k++) {
      const b = buf[i++];
      len += (b & 127) * mul;
      mul *= 128;
      if (!(b & 128)) {
        complete = true;
        break;
      }
    }
    if (!complete || i + len > buf.length) break;
    out.push(buf.subarray(off, i + len));
    off = i + len;
  }
  return [out, buf.subarray(off)];
}

export class FilterProxy {
  readonly #server: Server;
  readonly #pairs = new Set<[Socket, Socket]>();
  /** Packet types dropped from client to broker ("up") and from broker to client ("down"). */
  readonly drop = { up: new Set<number>(), down: new Set<number>() };
  /** Dropped packets by type. */
  readonly dropped = { up: new Map<number, number>(), down: new Map<number, number>() };
  port = 0;

  private constructor(readonly target: number) {
    this.#server = createServer((client) => this.#accept(client));
  }

  static async start(target: number): Promise<FilterProxy> {
    const p = new FilterProxy(target);
    await new Promise<void>((r) => p.#server.listen(0, "127.0.0.1", () => r()));
    p.port = (p.#server.address() as AddressInfo).port;
    return p;
  }

  /** Everything passes again (counts stay). */
  passAll(): void {
    this.drop.up.clear();
    this.drop.down.clear();
  }

  count(dir: "up" | "down", type: number): number {
    return this.dropped[dir].get(type) ?? 0;
  }

  #accept(client: Socket): void {
    const upstream = connect(this.target, "127.0.0.1");
    const pair: [Socket, Socket] = [client, upstream];
    this.#pairs.add(pair);
    const end = () => {
      this.#pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    const pipe = (from: Socket, to: Socket, dir: "up" | "down") => {
      let rest = Buffer.alloc(0);
      from.on("data", (d: Buffer) => {
        const [packets, left] = split(Buffer.concat([rest, d]));
        rest = Buffer.from(left);
        for (const p of packets) {
          const type = p[0] >> 4;
          if (this.drop[dir].has(type)) this.dropped[dir].set(type, this.count(dir, type) + 1);
          else to.write(p);
        }
      });
    };
    pipe(client, upstream, "up");
    pipe(upstream, client, "down");
    for (const s of pair) {
      s.on("error", end);
      s.on("close", end);
    }
  }

  async stop(): Promise<void> {
    for (const [a, b] of this.#pairs) {
      a.destroy();
      b.destroy();
    }
    await new Promise<void>((r) => this.#server.close(() => r()));
  }
}
