/**
 * The simulated host at the seam level: raw host sockets, no runtime.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Datagram, TCP, TCPCallbacks, UDP } from "../../src/host.js";
import { SimNetwork, type LinkOptions, type SimHost } from "../../hosts/sim/index.js";

const SERVER = "10.0.0.1";
const CLIENT = "10.0.0.2";

/** Deterministic test bytes. */
function pattern(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed * 2654435761;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

function join2(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

function same(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);

/** One end of a connection driven like a careful application: writes only what fits. */
class Peer {
  sock!: TCP;
  chunks: Uint8Array[] = [];
  received = 0;
  writable = 0;
  writableCalls: number[] = [];
  log: string[] = [];
  ends = 0;
  errors: string[] = [];
  reading = true;
  private out: Uint8Array | undefined;
  offset = 0;
  private endWhenDone = false;

  constructor(private readonly host: SimHost) {}

  callbacks(): TCPCallbacks {
    return {
      onReadable: (n) => {
        this.log.push(`readable ${n}`);
        if (this.reading) this.drain();
      },
      onWritable: (n) => {
        this.log.push(`writable ${n}`);
        this.writable = n;
        this.writableCalls.push(n);
        this.pump();
      },
      onEnd: () => {
        this.log.push("end");
        this.ends++;
      },
      onError: (reason) => {
        this.log.push(`error ${reason}`);
        this.errors.push(reason);
      },
    };
  }

  drain(): void {
    for (let d; (d = this.sock.read()); ) {
      this.chunks.push(d);
      this.received += d.byteLength;
    }
  }

  data(): Uint8Array {
    return join2(this.chunks);
  }

  send(data: Uint8Array, end = false): void {
    this.out = data;
    this.offset = 0;
    this.endWhenDone = end;
    this.pump();
  }

  private pump(): void {
    const out = this.out;
    if (out === undefined) return;
    while (this.offset < out.byteLength && this.writable > 0) {
      const n = Math.min(this.writable, out.byteLength - this.offset);
      this.writable = this.sock.write(out.subarray(this.offset, this.offset + n));
      this.offset += n;
    }
    if (this.offset === out.byteLength && this.endWhenDone) {
      this.endWhenDone = false;
      this.sock.end();
    }
  }

  get now(): number {
    return this.host.now();
  }
}

/** A connected client/server pair on port 80 of SERVER. */
async function pair(options: { seed?: number; link?: LinkOptions; net?: SimNetwork } = {}) {
  const net = options.net ?? new SimNetwork({ seed: options.seed ?? 1, link: options.link });
  const serverHost = net.host(SERVER);
  const clientHost = net.host(CLIENT);
  const s = new Peer(serverHost);
  const c = new Peer(clientHost);
  const adopted = new Promise<void>((resolve) => {
    const listener = serverHost.listener({
      port: 80,
      onReadable: () => {
        const pending = listener.read();
        if (pending === undefined) return;
        s.sock = serverHost.tcp({ from: pending, ...s.callbacks() });
        resolve();
      },
    });
  });
  c.sock = clientHost.tcp({ address: SERVER, port: 80, ...c.callbacks() });
  await adopted;
  return { net, s, c, serverHost, clientHost };
}

describe("sim host: TCP connect", () => {
  it("connects and echoes raw bytes", async () => {
    const net = new SimNetwork({ seed: 1, link: { latency: 5 } });
    const server = net.host(SERVER);
    const client = net.host(CLIENT);
    const listener = server.listener({
      port: 7,
      onReadable: () => {
        const pending = listener.read()!;
        const echo: TCP = server.tcp({
          from: pending,
          onReadable: () => {
            const data = echo.read()!;
            echo.write(data);
          },
          onEnd: () => echo.end(),
        });
      },
    });
    const got: Uint8Array[] = [];
    let connectedAt = -1;
    const done = new Promise<number>((resolve) => {
      const sock = client.tcp({
        address: SERVER,
        port: 7,
        onWritable: (n) => {
          if (connectedAt >= 0) return;
          connectedAt = net.now;
          expect(n).toBe(8192);
          expect(sock.write(text("hello, "))).toBe(8192 - 7);
          sock.write(text("world"));
          sock.end();
        },
        onReadable: () => got.push(sock.read()!),
        onEnd: () => resolve(net.now),
      });
      expect(sock.remote).toEqual({ address: SERVER, port: 7 });
      expect(sock.local?.address).toBe(CLIENT);
      expect(sock.local!.port).toBeGreaterThanOrEqual(49152);
    });
    const endedAt = await done;
    expect(str(join2(got))).toBe("hello, world");
    expect(connectedAt).toBe(10); // one round trip
    expect(endedAt).toBeGreaterThanOrEqual(20); // and one more for the echo
    expect(net.connections()).toEqual([]); // both directions ended: the connection is over
  });

  it("write before connected throws; connections() and onConnection see the connection", async () => {
    const net = new SimNetwork();
    const seen: string[] = [];
    net.onConnection = (c) => seen.push(`${c.client.address}:${c.client.port}->${c.server.address}:${c.server.port}`);
    const server = net.host(SERVER);
    server.listener({ port: 80 });
    const sock = net.host(CLIENT).tcp({ address: SERVER, port: 80 });
    expect(() => sock.write(text("x"))).toThrow("not connected");
    expect(() => sock.end()).toThrow("not connected");
    await net.idle();
    expect(seen).toEqual([`${CLIENT}:49152->${SERVER}:80`]);
    expect(net.connections().map((c) => c.server.port)).toEqual([80]);
    expect(sock.setOption("nodelay", true)).toBe(true);
    expect(sock.setOption("keepalive", true, 1000, 100)).toBe(true);
  });

  it("reports refused after one round trip when nothing listens", async () => {
    const net = new SimNetwork({ link: { latency: 3 } });
    net.host(SERVER);
    const reason = await new Promise<string>((resolve) => {
      net.host(CLIENT).tcp({ address: SERVER, port: 81, onError: resolve, onWritable: () => resolve("connected?") });
    });
    expect(reason).toBe("refused");
    expect(net.now).toBe(6);
  });

  it("reports unreachable after 3000 ms for an address no host has", async () => {
    const net = new SimNetwork();
    const reason = await new Promise<string>((resolve) => {
      net.host(CLIENT).tcp({ address: "10.9.9.9", port: 80, onError: resolve });
    });
    expect(reason).toBe("unreachable");
    expect(net.now).toBe(3000);
  });

  it("connects a host to itself through its own address and 127.0.0.1", async () => {
    const net = new SimNetwork();
    net.link(SERVER, SERVER, { latency: 0.5 });
    const host = net.host(SERVER);
    const listener = host.listener({ port: 0, address: "0.0.0.0" });
    const times: number[] = [];
    for (const address of [SERVER, "127.0.0.1"]) {
      await new Promise<void>((resolve) => {
        const sock = host.tcp({
          address,
          port: listener.port,
          onWritable: () => {
            times.push(net.now);
            expect(sock.local?.address).toBe(address);
            resolve();
          },
        });
      });
    }
    expect(times[1]! - times[0]!).toBe(1);
    expect(listener.read()).toBeDefined();
    expect(listener.read()).toBeDefined();
    expect(listener.read()).toBeUndefined();
  });
});

describe("sim host: listeners", () => {
  it("picks an ephemeral port for port 0 and reports onReady from an event", async () => {
    const net = new SimNetwork();
    const host = net.host(SERVER);
    let ready = 0;
    const a = host.listener({ port: 0, onReady: () => ready++ });
    const b = host.listener({ port: 0, onReady: () => ready++ });
    expect(ready).toBe(0);
    expect(a.port).toBeGreaterThanOrEqual(49152);
    expect(b.port).not.toBe(a.port);
    expect(a.address).toBe("0.0.0.0");
    await net.idle();
    expect(ready).toBe(2);
    const connected = await new Promise<boolean>((resolve) => {
      net.host(CLIENT).tcp({ address: SERVER, port: b.port, onWritable: () => resolve(true), onError: () => resolve(false) });
    });
    expect(connected).toBe(true);
  });

  it("reports addrinuse asynchronously for a port already bound on the host", async () => {
    const net = new SimNetwork();
    const host = net.host(SERVER);
    const errors: string[] = [];
    let ready = 0;
    host.listener({ port: 80, onReady: () => ready++ });
    const second = host.listener({ port: 80, onReady: () => ready++, onError: (r) => errors.push(r) });
    expect(errors).toEqual([]);
    await net.idle();
    expect(errors).toEqual(["addrinuse"]);
    expect(ready).toBe(1);
    expect(second.read()).toBeUndefined();
    second.close(); // harmless, and does not unbind the first listener
    const connected = await new Promise<boolean>((resolve) => {
      net.host(CLIENT).tcp({ address: SERVER, port: 80, onWritable: () => resolve(true), onError: () => resolve(false) });
    });
    expect(connected).toBe(true);
    // another host may use the same port
    net.host("10.0.0.3").listener({ port: 80, onError: (r) => errors.push(r) });
    await net.idle();
    expect(errors).toEqual(["addrinuse"]);
  });

  it("keeps data that arrived before adoption and reports it once adopted", async () => {
    const net = new SimNetwork();
    const server = net.host(SERVER);
    const listener = server.listener({ port: 80 });
    const sock = net.host(CLIENT).tcp({
      address: SERVER,
      port: 80,
      onWritable: () => {
        sock.write(text("early"));
        sock.end();
      },
    });
    await net.advance(100);
    const pending = listener.read()!;
    const log: string[] = [];
    const adopted: TCP = server.tcp({
      from: pending,
      onWritable: (n) => log.push(`writable ${n}`),
      onReadable: (n) => log.push(`readable ${n} ${str(adopted.read()!)}`),
      onEnd: () => log.push("end"),
    });
    expect(log).toEqual([]);
    expect(adopted.remote).toEqual(sock.local);
    expect(adopted.local).toEqual({ address: SERVER, port: 80 });
    await net.idle();
    expect(log).toEqual(["writable 8192", "readable 5 early", "end"]);
    expect(() => server.tcp({ from: pending })).toThrow("already adopted");
  });

  it("close() stops accepting and resets connections never adopted", async () => {
    const net = new SimNetwork();
    const server = net.host(SERVER);
    const listener = server.listener({ port: 80 });
    const errors: string[] = [];
    net.host(CLIENT).tcp({ address: SERVER, port: 80, onError: (r) => errors.push(r) });
    await net.idle();
    listener.close();
    await net.idle();
    expect(errors).toEqual(["reset"]);
    net.host(CLIENT).tcp({ address: SERVER, port: 80, onError: (r) => errors.push(r) });
    await net.idle();
    expect(errors).toEqual(["reset", "refused"]);
    expect(net.connections()).toEqual([]);
  });
});

describe("sim host: TCP data and flow control", () => {
  it("never accepts more than the writable count (a write too big throws and sends nothing)", async () => {
    const { net, c, s } = await pair({ link: { sendBuffer: 1000 } });
    expect(c.writable).toBe(1000);
    expect(() => c.sock.write(new Uint8Array(1001))).toThrow(RangeError);
    await net.idle();
    expect(net.stats().segments).toBe(0);
    expect(s.received).toBe(0);
    expect(c.sock.write(new Uint8Array(600))).toBe(400);
    expect(() => c.sock.write(new Uint8Array(401))).toThrow();
    expect(c.sock.write(new Uint8Array(400))).toBe(0);
    expect(() => c.sock.write(new Uint8Array(1))).toThrow();
    await net.idle();
    expect(s.received).toBe(1000);
    // the sender wrote, so it hears when space frees: a first report, then the drain
    expect(c.writableCalls[0]).toBe(1000);
    expect(c.writableCalls[c.writableCalls.length - 1]).toBe(1000);
  });

  it("carries 1 MiB over a lossy, slow, tiny-window link byte-identical in plausible virtual time", async () => {
    const link: LinkOptions = { latency: 2, bandwidth: 100, sendBuffer: 512, recvWindow: 1024, loss: 0.05 };
    const { net, c, s } = await pair({ seed: 42, link });
    const size = 1 << 20;
    const payload = pattern(size, 9);
    const t0 = net.now;
    c.send(payload, true);
    await net.idle();
    expect(s.ends).toBe(1);
    expect(same(s.data(), payload)).toBe(true);
    const stats = net.stats();
    expect(stats.lostSegments).toBeGreaterThan(0);
    expect(stats.lostSegments).toBeLessThan(stats.segments * 0.1);
    expect(net.now - t0).toBeGreaterThanOrEqual(size / 100 + stats.lostSegments * 200 * 0.9);
    // no segment ever exceeded what the window and the send buffer allowed
    expect(s.chunks.every((d) => d.byteLength <= 512)).toBe(true);
  });

  it("is deterministic: same seed, same run; another seed, another run", async () => {
    async function run(seed: number) {
      const link: LinkOptions = { latency: 3, jitter: 4, bandwidth: 500, sendBuffer: 2048, recvWindow: 4096, loss: 0.05, rto: 50 };
      const { net, c, s } = await pair({ seed, link });
      const arrivals: string[] = [];
      const original = s.drain.bind(s);
      s.drain = () => {
        const before = s.received;
        original();
        arrivals.push(`${net.now}:${s.received - before}`);
      };
      c.send(pattern(100_000, seed), true);
      s.send(pattern(30_000, seed + 1), true);
      await net.idle();
      expect(same(s.data(), pattern(100_000, seed))).toBe(true);
      expect(same(c.data(), pattern(30_000, seed + 1))).toBe(true);
      return { now: net.now, stats: net.stats(), arrivals, random: Array.from(net.host(SERVER).randomBytes(8)) };
    }
    const a = await run(7);
    const b = await run(7);
    const other = await run(8);
    expect(b).toEqual(a);
    expect(other.now).not.toBe(a.now);
    expect(other.arrivals).not.toEqual(a.arrivals);
    expect(other.random).not.toEqual(a.random);
  });

  it("a receiver that never reads stalls the sender; nothing is lost once it reads", async () => {
    const { net, c, s, serverHost } = await pair({ link: { sendBuffer: 4096, recvWindow: 8192, mss: 1000 } });
    s.reading = false;
    const payload = pattern(100_000, 3);
    c.send(payload, true);
    let ticks = 0;
    const tick = () => {
      ticks++;
      if (ticks < 50) serverHost.setTimer(tick, 100);
    };
    serverHost.setTimer(tick, 100);
    await net.advance(1000);
    expect(c.writable).toBe(0);
    expect(c.offset).toBe(4096 + 8192); // the send buffer and the receive window, no more
    const calls = c.writableCalls.length;
    await net.advance(3000);
    expect(net.now).toBeGreaterThanOrEqual(4000);
    expect(c.offset).toBe(4096 + 8192);
    expect(c.writableCalls.length).toBe(calls);
    expect(c.writable).toBe(0);
    s.reading = true;
    s.drain();
    await net.idle();
    expect(ticks).toBe(50);
    expect(same(s.data(), payload)).toBe(true);
    expect(s.ends).toBe(1);
  });

  it("a receiver that keeps most of its window unread still makes progress (no silly-window deadlock)", async () => {
    const net = new SimNetwork({ link: { sendBuffer: 2048, recvWindow: 1024 } });
    const server = net.host(SERVER);
    const got: Uint8Array[] = [];
    let ended = false;
    let serverSock: TCP | undefined;
    const listener = server.listener({
      port: 80,
      onReadable: () => {
        const sock: TCP = server.tcp({
          from: listener.read()!,
          // reads 400 bytes, only when at least 1000 are waiting: most of the window stays unread
          onReadable: (n) => {
            if (n >= 1000) got.push(sock.read(400)!);
          },
          onEnd: () => (ended = true),
        });
        serverSock = sock;
      },
    });
    const clientHost = net.host(CLIENT);
    const c = new Peer(clientHost);
    c.sock = clientHost.tcp({ address: SERVER, port: 80, ...c.callbacks() });
    const payload = pattern(10_000, 12);
    c.send(payload, true);
    await net.idle();
    expect(got.reduce((n, d) => n + d.byteLength, 0)).toBeGreaterThanOrEqual(9000);
    for (let d; (d = serverSock!.read()); ) got.push(d);
    await net.idle();
    expect(same(join2(got), payload)).toBe(true);
    expect(ended).toBe(true);
  });

  it("read(max) returns at most max bytes; read() returns everything unread", async () => {
    const { net, c, s } = await pair();
    s.reading = false;
    c.send(pattern(5000, 4));
    await net.idle();
    expect(s.log.filter((l) => l.startsWith("readable")).pop()).toBe("readable 5000");
    const first = s.sock.read(10)!;
    expect(first.byteLength).toBe(10);
    expect(s.sock.read(0)!.byteLength).toBe(0);
    const rest = s.sock.read()!;
    expect(rest.byteLength).toBe(4990);
    expect(s.sock.read()).toBeUndefined();
    expect(same(join2([first, rest]), pattern(5000, 4))).toBe(true);
  });
});

describe("sim host: half-close, close, faults", () => {
  it("half-close delivers onEnd after the data, and the other direction still works", async () => {
    const { net, c, s } = await pair();
    s.reading = false;
    c.send(text("request"), true);
    await net.idle();
    expect(s.ends).toBe(0); // the data is not read yet
    expect(() => c.sock.write(text("more"))).toThrow("after end");
    s.drain();
    await net.idle();
    expect(str(s.data())).toBe("request");
    expect(s.ends).toBe(1);
    expect(s.log.slice(-2)).toEqual(["readable 7", "end"]);
    expect(net.connections().length).toBe(1);
    s.send(text("response"), true);
    await net.idle();
    expect(str(c.data())).toBe("response");
    expect(c.ends).toBe(1);
    expect(net.connections()).toEqual([]); // both directions ended
  });

  it("close() lets the peer receive the written data and then onEnd", async () => {
    const { net, c, s } = await pair({ link: { sendBuffer: 512 } });
    c.sock.write(pattern(512, 5));
    c.sock.close();
    expect(() => c.sock.write(text("x"))).toThrow();
    expect(c.sock.read()).toBeUndefined();
    await net.idle();
    expect(same(s.data(), pattern(512, 5))).toBe(true);
    expect(s.ends).toBe(1);
    expect(c.log.slice(1)).toEqual([]); // nothing after close on the closing side
    s.sock.close();
    expect(net.connections()).toEqual([]);
  });

  it("close() with unread data resets the peer, as a real RST", async () => {
    const { net, c, s } = await pair();
    c.reading = false;
    s.send(text("unread"));
    await net.idle();
    c.sock.close();
    await net.idle();
    expect(s.errors).toEqual(["reset"]);
    expect(c.errors).toEqual([]);
    expect(() => s.sock.write(text("x"))).toThrow();
    expect(net.connections()).toEqual([]);
  });

  it("resetAfter resets mid-stream: both sides get onError('reset') once, nothing after", async () => {
    const { net, c, s } = await pair({ link: { sendBuffer: 2048, recvWindow: 4096 } });
    const [conn] = net.connections();
    conn!.resetAfter(50_000);
    c.send(pattern(200_000, 6), true);
    await net.idle();
    expect(c.errors).toEqual(["reset"]);
    expect(s.errors).toEqual(["reset"]);
    expect(c.log[c.log.length - 1]).toBe("error reset");
    expect(s.log[s.log.length - 1]).toBe("error reset");
    expect(s.received).toBe(50_000); // it read synchronously, so it saw exactly the bytes before the reset
    expect(same(s.data(), pattern(200_000, 6).subarray(0, 50_000))).toBe(true);
    expect(() => c.sock.write(new Uint8Array(1))).toThrow();
    expect(s.sock.read()).toBeUndefined();
    expect(net.connections()).toEqual([]);
  });

  it("reset() fails both ends after the current event", async () => {
    const { net, c, s } = await pair();
    const [conn] = net.connections();
    conn!.reset();
    expect(c.errors).toEqual([]);
    expect(() => c.sock.write(text("x"))).toThrow();
    await net.idle();
    expect(c.errors).toEqual(["reset"]);
    expect(s.errors).toEqual(["reset"]);
  });

  it("stall(true) delivers nothing until stall(false)", async () => {
    const { net, c, s } = await pair({ link: { sendBuffer: 4096 } });
    const [conn] = net.connections();
    conn!.stall(true);
    c.send(pattern(3000, 8));
    await net.advance(5000);
    expect(s.received).toBe(0);
    expect(c.writable).toBe(4096 - 3000); // in flight: the buffer is not freed
    expect(c.writableCalls.length).toBe(1);
    s.send(text("back"));
    await net.advance(1000);
    expect(c.received).toBe(0);
    conn!.stall(false);
    await net.idle();
    expect(same(s.data(), pattern(3000, 8))).toBe(true);
    expect(str(c.data())).toBe("back");
  });
});

describe("sim host: UDP", () => {
  async function udpRun(seed: number, link: LinkOptions, count = 400) {
    const net = new SimNetwork({ seed });
    net.link(SERVER, CLIENT, link);
    const got: Datagram[] = [];
    const receiver: UDP = net.host(SERVER).udp({
      port: 5000,
      onReadable: () => {
        for (let d; (d = receiver.read()); ) got.push(d);
      },
    });
    const clientHost = net.host(CLIENT);
    const sender = clientHost.udp({});
    let i = 0;
    const send = () => {
      sender.write(new Uint8Array([i >> 8, i & 0xff]), SERVER, 5000);
      if (++i < count) clientHost.setTimer(send, 1);
    };
    send();
    await net.idle();
    const order = got.map((d) => (d.data[0]! << 8) | d.data[1]!);
    return { net, got, order, stats: net.stats(), sender };
  }

  it("applies loss, duplication and reordering, with counts matching stats", async () => {
    const { got, order, stats, sender } = await udpRun(5, { latency: 2, loss: 0.2, duplicate: 0.1, reorder: 0.2 });
    expect(stats.datagrams).toBe(400);
    expect(got.length).toBe(stats.datagrams + stats.duplicatedDatagrams - stats.droppedDatagrams);
    expect(stats.droppedDatagrams).toBeGreaterThan(40);
    expect(stats.duplicatedDatagrams).toBeGreaterThan(10);
    const distinct = new Set(order);
    expect(distinct.size).toBe(400 - stats.droppedDatagrams);
    expect(order.length - distinct.size).toBe(stats.duplicatedDatagrams);
    let inversions = 0;
    for (let k = 1; k < order.length; k++) if (order[k]! < order[k - 1]!) inversions++;
    expect(inversions).toBeGreaterThan(10);
    expect(got[0]!.address).toBe(CLIENT);
    expect(got[0]!.port).toBe(sender.local!.port);
  });

  it("is deterministic per seed", async () => {
    const link = { latency: 2, jitter: 1, loss: 0.1, duplicate: 0.1, reorder: 0.1 };
    const a = await udpRun(11, link, 200);
    const b = await udpRun(11, link, 200);
    const c = await udpRun(12, link, 200);
    expect(b.order).toEqual(a.order);
    expect(b.stats).toEqual(a.stats);
    expect(c.order).not.toEqual(a.order);
  });

  it("drops datagrams to unbound ports and beyond a full queue of 64", async () => {
    const net = new SimNetwork();
    const server = net.host(SERVER);
    const receiver = server.udp({ port: 6000 });
    const sender = net.host(CLIENT).udp({ port: 0 });
    for (let i = 0; i < 100; i++) sender.write(new Uint8Array([i]), SERVER, 6000);
    sender.write(new Uint8Array([1]), SERVER, 6001);
    sender.write(new Uint8Array([1]), "10.9.9.9", 6000);
    await net.idle();
    expect(net.stats()).toMatchObject({ datagrams: 102, droppedDatagrams: 38 });
    let n = 0;
    for (let d; (d = receiver.read()); n++) expect(d.data[0]).toBe(n);
    expect(n).toBe(64);
  });

  it("reports addrinuse and onReady from events", async () => {
    const net = new SimNetwork();
    const host = net.host(SERVER);
    const log: string[] = [];
    const a = host.udp({ port: 53, onReady: () => log.push("a ready") });
    host.udp({ port: 53, onReady: () => log.push("b ready"), onError: (r) => log.push(`b ${r}`) });
    expect(log).toEqual([]);
    await net.idle();
    expect(log).toEqual(["a ready", "b addrinuse"]);
    a.close();
    expect(() => a.write(new Uint8Array(1), SERVER, 53)).toThrow();
  });
});

describe("sim host: clock, timers, randomness, names", () => {
  it("fires timers in virtual time order", async () => {
    const net = new SimNetwork();
    const host = net.host(SERVER);
    const fired: string[] = [];
    host.setTimer(() => fired.push(`c@${host.now()}`), 30);
    host.setTimer(() => fired.push(`a@${host.now()}`), 10);
    const cancelled = host.setTimer(() => fired.push("never"), 15);
    host.setTimer(() => fired.push(`b@${host.now()}`), 20);
    host.setTimer(() => fired.push(`a2@${host.now()}`), 10);
    host.defer(() => {
      fired.push(`defer@${host.now()}`);
      host.defer(() => fired.push(`defer2@${host.now()}`));
    });
    host.clearTimer(cancelled);
    await net.idle();
    expect(fired).toEqual(["defer@0", "defer2@0", "a@10", "a2@10", "b@20", "c@30"]);
    expect(host.wallClock()).toBe(1_700_000_000_030);
  });

  it("advance runs events up to now+ms; idle waits for every timer", async () => {
    const net = new SimNetwork();
    const host = net.host(SERVER);
    const fired: number[] = [];
    host.setTimer(() => fired.push(50), 50);
    host.setTimer(() => fired.push(100), 100);
    host.setTimer(() => fired.push(150), 150);
    await net.advance(100);
    expect(net.now).toBe(100);
    expect(fired).toEqual([50, 100]);
    await net.advance(10);
    expect(net.now).toBe(110);
    expect(fired).toEqual([50, 100]);
    await net.idle();
    expect(net.now).toBe(150);
    expect(fired).toEqual([50, 100, 150]);
    await net.idle(); // nothing pending: resolves at once
    expect(net.now).toBe(150);
  });

  it("callbacks run from events, and an exception in one does not stop the simulation", async () => {
    const errors: unknown[] = [];
    const net = new SimNetwork({ onCallbackError: (e) => errors.push(e) });
    const host = net.host(SERVER);
    const fired: number[] = [];
    host.setTimer(() => {
      throw new Error("boom");
    }, 5);
    host.setTimer(() => fired.push(host.now()), 6);
    await net.idle();
    expect(errors).toEqual([new Error("boom")]);
    expect(fired).toEqual([6]);
  });

  it("randomBytes is seeded", () => {
    const a = new SimNetwork({ seed: 3 }).host(SERVER).randomBytes(16);
    const b = new SimNetwork({ seed: 3 }).host(SERVER).randomBytes(16);
    const c = new SimNetwork({ seed: 4 }).host(SERVER).randomBytes(16);
    expect(a.byteLength).toBe(16);
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(c));
  });

  it("resolves names from the dns table, numeric addresses and localhost; rejects unknown names", async () => {
    const net = new SimNetwork({ link: { latency: 4 } });
    net.dns("broker.example", "10.0.0.9");
    const host = net.host(CLIENT);
    await expect(host.resolve("broker.example")).resolves.toBe("10.0.0.9");
    expect(net.now).toBe(4);
    await expect(host.resolve("10.1.2.3")).resolves.toBe("10.1.2.3");
    await expect(host.resolve("localhost")).resolves.toBe(CLIENT);
    await expect(host.resolve("nowhere.example")).rejects.toThrow(Error);
    expect(net.now).toBe(12);
  });

  it("runs without setImmediate and setTimeout (the XS fallback)", async () => {
    const g = globalThis as { setImmediate?: unknown; setTimeout?: unknown };
    const saved = { setImmediate: g.setImmediate, setTimeout: g.setTimeout };
    let net: SimNetwork;
    try {
      g.setImmediate = undefined;
      g.setTimeout = undefined;
      net = new SimNetwork();
    } finally {
      g.setImmediate = saved.setImmediate;
      g.setTimeout = saved.setTimeout;
    }
    const { c, s } = await pair({ net });
    c.send(pattern(20_000, 2), true);
    await net.idle();
    expect(same(s.data(), pattern(20_000, 2))).toBe(true);
  });

  it("uses no Node APIs (it must run under XS)", () => {
    const dir = join(__dirname, "../../hosts/sim");
    for (const file of readdirSync(dir).filter((f) => f.endsWith(".ts"))) {
      const source = readFileSync(join(dir, file), "utf8").replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, "");
      expect({ file, node: /from\s+"node:|require\(|\bBuffer\b|\bprocess\b/.test(source) }).toEqual({ file, node: false });
    }
  });
});
