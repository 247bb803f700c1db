/**
 * The node host at the seam: real loopback sockets (127.0.0.1, port 0), no runtime on top.
 */
import { createHash, randomBytes as cryptoRandom } from "node:crypto";
import * as net from "node:net";
import { nodeHost } from "../../hosts/node/index.js";
import { copyForWrite } from "../../hosts/node/write-slab.js";
import type { Host, HostErrorReason, Listener, PendingConnection, TCP, TCPCallbacks } from "../../src/host.js";

const LOOPBACK = "127.0.0.1";
const WAIT_LIMIT = 15000;

/** Everything opened by a test, closed in afterEach so that jest exits. */
const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

function track<T extends { close(): void }>(thing: T): T {
  cleanups.push(() => thing.close());
  return thing;
}

/** Resolves when `cond()` holds, checked whenever `Signal.notify()` runs; fails after a limit. */
class Signal {
  #waiters = new Set<{ cond: () => boolean; resolve: () => void }>();

  notify(): void {
    for (const w of [...this.#waiters]) {
      if (w.cond()) {
        this.#waiters.delete(w);
        w.resolve();
      }
    }
  }

  until(cond: () => boolean, what: string, limit = WAIT_LIMIT): Promise<void> {
    if (cond()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(new Error(`timed out waiting for ${what}`));
      }, limit);
      const waiter = {
        cond,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      this.#waiters.add(waiter);
    });
  }
}

/** Records the callbacks of one host TCP socket; reads as data arrives unless told otherwise. */
class Probe extends Signal {
  tcp!: TCP;
  readonly chunks: Uint8Array[] = [];
  received = 0;
  /** Sizes of the reads in order. */
  readonly reads: number[] = [];
  /** Successive `onReadable` counts. */
  readonly readables: number[] = [];
  readonly writables: number[] = [];
  writable = 0;
  connected = false;
  ended = false;
  error: HostErrorReason | undefined;
  closed = false;
  /** Callbacks seen after onError or close(): must stay empty. */
  readonly violations: string[] = [];
  autoRead = true;
  maxRead: number | undefined;
  /** Set while a test is inside a host method, to catch synchronous callbacks. */
  inCall = false;
  readonly syncCalls: string[] = [];
  /** Called after each read that consumed bytes (tests hook flow control here). */
  onData?: (data: Uint8Array) => void;

  readonly callbacks: TCPCallbacks = {
    onReadable: (count) => {
      this.#guard("onReadable");
      this.readables.push(count);
      if (this.autoRead) this.drain();
      this.notify();
    },
    onWritable: (count) => {
      this.#guard("onWritable");
      this.connected = true;
      this.writable = count;
      this.writables.push(count);
      this.notify();
    },
    onEnd: () => {
      this.#guard("onEnd");
      if (this.ended) this.violations.push("onEnd twice");
      this.ended = true;
      this.notify();
    },
    onError: (reason) => {
      this.#guard("onError");
      this.error = reason;
      this.notify();
    },
  };

  #guard(name: string): void {
    if (this.error !== undefined || this.closed) this.violations.push(`${name} after ${this.closed ? "close" : "error"}`);
    if (this.inCall) this.syncCalls.push(name);
  }

  drain(): void {
    for (;;) {
      this.inCall = true;
      const data = this.tcp.read(this.maxRead);
      this.inCall = false;
      if (data === undefined) break;
      this.chunks.push(data);
      this.reads.push(data.byteLength);
      this.received += data.byteLength;
      this.onData?.(data);
    }
    this.notify();
  }

  bytes(): Buffer {
    return Buffer.concat(this.chunks);
  }

  text(): string {
    return this.bytes().toString("utf8");
  }

  close(): void {
    this.closed = true;
    this.tcp.close();
  }

  /** Sends all of `data`, pieces at a time, waiting for onWritable whenever the count is 0. */
  async send(data: Uint8Array, piece = 16384): Promise<void> {
    let offset = 0;
    while (offset < data.byteLength) {
      if (this.writable === 0) {
        const seen = this.writables.length;
        await this.until(() => this.writables.length > seen || this.error !== undefined, "onWritable");
        if (this.error !== undefined) throw new Error(`send failed: ${this.error}`);
      }
      const n = Math.min(this.writable, piece, data.byteLength - offset);
      this.writable = this.tcp.write(data.subarray(offset, offset + n));
      offset += n;
    }
  }
}

function connect(host: Host, port: number, probe = new Probe(), nodelay?: boolean): Probe {
  probe.tcp = host.tcp({ address: LOOPBACK, port, nodelay, ...probe.callbacks });
  cleanups.push(() => probe.close());
  return probe;
}

function adopt(host: Host, from: PendingConnection, probe = new Probe()): Probe {
  probe.inCall = true;
  probe.tcp = host.tcp({ from, ...probe.callbacks });
  probe.inCall = false;
  cleanups.push(() => probe.close());
  return probe;
}

/** A host listener on port 0 whose pending connections are collected. */
async function hostListener(host: Host): Promise<{ listener: Listener; next(): Promise<PendingConnection> }> {
  const signal = new Signal();
  let ready = false;
  let failure: string | undefined;
  const listener = track(
    host.listener({
      port: 0,
      onReady: () => {
        ready = true;
        signal.notify();
      },
      onReadable: () => signal.notify(),
      onError: (reason) => {
        failure = reason;
        signal.notify();
      },
    }),
  );
  await signal.until(() => ready || failure !== undefined, "listener ready");
  if (failure !== undefined) throw new Error(`listener failed: ${failure}`);
  const queued: PendingConnection[] = [];
  return {
    listener,
    async next() {
      await signal.until(() => {
        const p = listener.read();
        if (p) queued.push(p);
        return queued.length > 0;
      }, "a connection");
      return queued.shift()!;
    },
  };
}

/** A plain node:net server on port 0. */
async function netServer(
  onConnection: (socket: net.Socket) => void,
  options: net.ServerOpts = {},
): Promise<{ server: net.Server; port: number }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer(options, (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    onConnection(socket);
  });
  cleanups.push(() => {
    server.close();
    for (const s of sockets) s.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
  return { server, port: (server.address() as net.AddressInfo).port };
}

/** Everything a node:net socket receives until its peer's end. */
function collect(socket: net.Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    socket.on("data", (d: Buffer) => parts.push(d));
    socket.on("end", () => resolve(Buffer.concat(parts)));
    socket.on("error", reject);
  });
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

describe("node host: TCP", () => {
  it("connects to its own listener and echoes; adoption reports connected asynchronously", async () => {
    const host = nodeHost();
    const { listener, next } = await hostListener(host);
    expect(listener.port).toBeGreaterThan(0);
    expect(listener.address).toBe(LOOPBACK);

    const client = connect(host, listener.port);
    expect(client.tcp.remote).toBeUndefined();
    const server = adopt(host, await next());
    expect(server.syncCalls).toEqual([]);
    // Echo: what the server reads it writes back.
    server.onData = (data) => {
      server.writable = server.tcp.write(data);
    };
    await Promise.all([client.until(() => client.connected, "client connected"), server.until(() => server.connected, "server connected")]);
    expect(client.writables[0]).toBe(65536);
    expect(server.writables[0]).toBe(65536);
    expect(client.tcp.remote).toEqual({ address: LOOPBACK, port: listener.port });
    expect(server.tcp.local).toEqual({ address: LOOPBACK, port: listener.port });
    expect(server.tcp.remote).toEqual(client.tcp.local);

    const payload = cryptoRandom(20000);
    await client.send(payload);
    await client.until(() => client.received === payload.length, "echo");
    expect(client.bytes().equals(payload)).toBe(true);
    expect(client.violations).toEqual([]);
    expect(server.violations).toEqual([]);
  });

  it("echoes 256 KiB through a plain node:net server", async () => {
    const { port } = await netServer((socket) => socket.pipe(socket));
    const client = connect(nodeHost(), port, undefined, true);
    await client.until(() => client.connected, "connected");
    const payload = cryptoRandom(256 * 1024);
    await client.send(payload);
    await client.until(() => client.received === payload.length, "echo");
    expect(client.bytes().equals(payload)).toBe(true);
    expect(client.error).toBeUndefined();
  });

  it("reports a refused connection", async () => {
    const { server, port } = await netServer(() => {});
    await new Promise((r) => server.close(r));
    const client = connect(nodeHost(), port);
    await client.until(() => client.error !== undefined, "onError");
    expect(client.error).toBe("refused");
    expect(client.connected).toBe(false);
    expect(() => client.tcp.write(text("x"))).toThrow();
  });

  it("refuses writes before connect and larger than writable, sending nothing", async () => {
    let received: Promise<Buffer> | undefined;
    const { port } = await netServer((socket) => {
      received = collect(socket);
    });
    const client = connect(nodeHost(), port);
    expect(() => client.tcp.write(text("early"))).toThrow(/not connected/);
    await client.until(() => client.connected, "connected");
    expect(client.writable).toBe(65536);
    expect(() => client.tcp.write(new Uint8Array(65537))).toThrow(/would block/);
    expect(client.tcp.write(new Uint8Array(0))).toBe(65536);
    client.writable = client.tcp.write(text("ok"));
    client.tcp.end();
    expect(() => client.tcp.write(text("late"))).toThrow();
    await client.until(() => received !== undefined, "accepted");
    expect((await received!).toString()).toBe("ok");
  });

  it("does not keep the caller's buffer: the bytes are copied at write", async () => {
    let received: Promise<Buffer> | undefined;
    const { port } = await netServer((socket) => {
      received = collect(socket);
    });
    const client = connect(nodeHost(), port);
    await client.until(() => client.connected, "connected");
    const reused = new Uint8Array(1000).fill(1);
    for (let i = 0; i < 50; i++) {
      client.tcp.write(reused);
      reused.fill(i + 2);
    }
    client.tcp.end();
    await client.until(() => received !== undefined, "accepted");
    const got = await received!;
    expect(got.length).toBe(50000);
    for (let i = 0; i < 50; i++) expect(got[i * 1000]).toBe(i + 1);
  });

  it("write copies never share bytes: carved from a slab one after another, past its end, and large ones apart", () => {
    const copies: { copy: Uint8Array; fill: number }[] = [];
    // 3 MiB in pieces of 1 B to 256 KiB + 1 (the largest is not carved): every slab rolls over
    const sizes = [1, 7, 64, 4096, 16384, 65536, 65537, 262144, 262145, 100000];
    for (let i = 0, total = 0; total < 3 * 2 ** 20; i++) {
      const n = sizes[i % sizes.length];
      const source = new Uint8Array(n).fill(i & 0xff);
      const copy = copyForWrite(source);
      source.fill(0xee); // the caller reuses its buffer at once
      copies.push({ copy, fill: i & 0xff });
      total += n;
    }
    for (const { copy, fill } of copies) expect(copy.every((b) => b === fill)).toBe(true);
  });

  it("blocks a writer on a stalled peer (writable 0) and resumes it with onWritable; 1 MiB+ arrives intact", async () => {
    let peer: net.Socket | undefined;
    const peerHash = createHash("sha256");
    let peerBytes = 0;
    let peerEnded = false;
    const peerSignal = new Signal();
    const { port } = await netServer(
      (socket) => {
        peer = socket; // accepted paused: reads nothing until resumed
        socket.on("data", (d: Buffer) => {
          peerHash.update(d);
          peerBytes += d.length;
        });
        socket.on("end", () => {
          peerEnded = true;
          peerSignal.notify();
        });
        peerSignal.notify();
      },
      { pauseOnConnect: true },
    );
    const client = connect(nodeHost(), port);
    await client.until(() => client.connected, "connected");
    await peerSignal.until(() => peer !== undefined, "accepted");

    const sentHash = createHash("sha256");
    let sent = 0;
    let blockedAt = -1;
    const MIN = 1 << 20;
    // Write random pieces as the count allows until blocked (writable 0) and at least 1 MiB sent.
    while (blockedAt < 0 || sent < MIN) {
      if (client.writable === 0) {
        if (blockedAt < 0) {
          blockedAt = client.writables.length;
          peer!.resume();
        }
        const seen = client.writables.length;
        await client.until(() => client.writables.length > seen, "onWritable after a block");
        continue;
      }
      if (sent > 256 << 20) throw new Error("never blocked");
      const piece = cryptoRandom(Math.min(client.writable, 16384));
      sentHash.update(piece);
      sent += piece.length;
      client.writable = client.tcp.write(piece);
    }
    expect(blockedAt).toBeGreaterThan(0);
    // Every onWritable after the block reports at least half of the send buffer.
    for (const w of client.writables.slice(1)) expect(w).toBeGreaterThanOrEqual(32768);
    expect(client.writables.length).toBeGreaterThan(1);
    client.tcp.end();
    await peerSignal.until(() => peerEnded, "peer end");
    expect(peerBytes).toBe(sent);
    expect(peerHash.digest("hex")).toBe(sentHash.digest("hex"));
    expect(client.error).toBeUndefined();
  });

  it("does not call onWritable per completed write when nobody is blocked", async () => {
    const { port } = await netServer((socket) => socket.pipe(socket));
    const client = connect(nodeHost(), port, undefined, true);
    await client.until(() => client.connected, "connected");
    const piece = cryptoRandom(1000);
    for (let i = 1; i <= 50; i++) {
      client.writable = client.tcp.write(piece);
      await client.until(() => client.received === i * 1000, "echo");
    }
    expect(client.writables).toEqual([65536]);
  });

  it("half-close by the peer: onEnd only after every byte is read, never inside read(); still writable", async () => {
    let peer: net.Socket | undefined;
    let peerGot: Promise<Buffer> | undefined;
    const signal = new Signal();
    const { port } = await netServer(
      (socket) => {
        peer = socket;
        peerGot = collect(socket);
        socket.end("abc");
        signal.notify();
      },
      { allowHalfOpen: true },
    );
    const client = connect(nodeHost(), port);
    client.autoRead = false;
    await client.until(() => client.readables.length > 0, "onReadable");
    expect(client.readables).toEqual([3]);
    // The FIN follows the bytes; with them unread, onEnd must wait. (Nothing to await here: give
    // the end a moment to arrive.)
    await new Promise((r) => setTimeout(r, 50));
    expect(client.ended).toBe(false);
    client.drain();
    expect(client.syncCalls).toEqual([]);
    expect(client.text()).toBe("abc");
    await client.until(() => client.ended, "onEnd");
    expect(client.tcp.read()).toBeUndefined();
    // Our side still writes after the peer's end.
    client.writable = client.tcp.write(text("reply"));
    client.tcp.end();
    await signal.until(() => peer !== undefined, "accepted");
    expect((await peerGot!).toString()).toBe("reply");
    expect(client.error).toBeUndefined();
    expect(client.violations).toEqual([]);
  });

  it("half-close by us: the peer reads our end after the data and can still send to us", async () => {
    const host = nodeHost();
    const { listener, next } = await hostListener(host);
    const client = connect(host, listener.port);
    const server = adopt(host, await next());
    await client.until(() => client.connected, "connected");
    client.writable = client.tcp.write(text("hello"));
    client.tcp.end();
    await server.until(() => server.ended, "server onEnd");
    expect(server.text()).toBe("hello");
    expect(server.readables).toEqual([5]);
    server.writable = server.tcp.write(text("world"));
    server.tcp.end();
    await client.until(() => client.ended, "client onEnd");
    expect(client.text()).toBe("world");
    expect(client.error).toBeUndefined();
    expect(server.error).toBeUndefined();
    expect(client.violations).toEqual([]);
    expect(server.violations).toEqual([]);
  });

  it("reports a reset by the peer, then nothing more", async () => {
    const { port } = await netServer((socket) => socket.resetAndDestroy());
    const client = connect(nodeHost(), port);
    await client.until(() => client.error !== undefined, "onError");
    expect(client.error).toBe("reset");
    expect(client.ended).toBe(false);
    expect(() => client.tcp.write(text("x"))).toThrow();
    // Later socket events (the close) must not reach the runtime.
    await new Promise((r) => setImmediate(r));
    expect(client.violations).toEqual([]);
  });

  it("read(max) returns at most max bytes and loses none", async () => {
    const payload = cryptoRandom(100000);
    const { port } = await netServer((socket) => socket.end(payload));
    const client = connect(nodeHost(), port);
    client.maxRead = 1000;
    await client.until(() => client.ended, "onEnd");
    expect(Math.max(...client.reads)).toBeLessThanOrEqual(1000);
    expect(client.reads.length).toBeGreaterThanOrEqual(100);
    expect(client.bytes().equals(payload)).toBe(true);
  });

  it("hands out received chunks as they came, never concatenated, as plain Uint8Array views", async () => {
    let peer: net.Socket | undefined;
    const signal = new Signal();
    const { port } = await netServer((socket) => {
      peer = socket;
      socket.setNoDelay(true);
      signal.notify();
    });
    const client = connect(nodeHost(), port);
    client.autoRead = false;
    await signal.until(() => peer !== undefined, "accepted");
    // One chunk at a time: the next is sent only after the previous one was announced, so each
    // is a separate Node 'data' chunk. None is read until all have arrived.
    const sizes = [1000, 2000, 3000, 1, 4096, 777];
    let total = 0;
    for (const size of sizes) {
      const seen = client.readables.length;
      peer!.write(cryptoRandom(size));
      total += size;
      await client.until(() => client.readables.length > seen && client.readables.at(-1) === total, "chunk");
    }
    expect(client.readables).toEqual(sizes.map((_, i) => sizes.slice(0, i + 1).reduce((a, b) => a + b)));
    client.drain();
    expect(client.reads).toEqual(sizes);
    for (const chunk of client.chunks) {
      expect(chunk).toBeInstanceOf(Uint8Array);
      expect(Buffer.isBuffer(chunk)).toBe(false);
    }
  });

  it("read(0) gives an empty view while bytes are queued; a partial chunk stays at the head", async () => {
    const { port } = await netServer((socket) => socket.write("abcdef"));
    const client = connect(nodeHost(), port);
    client.autoRead = false;
    await client.until(() => client.readables.at(-1) === 6, "6 bytes");
    expect(client.tcp.read(0)?.byteLength).toBe(0);
    expect(Buffer.from(client.tcp.read(2)!).toString()).toBe("ab");
    expect(Buffer.from(client.tcp.read(3)!).toString()).toBe("cde");
    expect(Buffer.from(client.tcp.read()!).toString()).toBe("f");
    expect(client.tcp.read()).toBeUndefined();
  });

  it("stops reading past recvBuffer and resumes as the runtime reads; nothing is lost", async () => {
    const payload = cryptoRandom(2 << 20);
    const { port } = await netServer((socket) => socket.end(payload));
    // Read only from a macrotask after an announcement, so that unread bytes pile up.
    const probe = new Probe();
    probe.autoRead = false;
    let scheduled = false;
    let maxUnread = 0;
    probe.tcp = nodeHost({ recvBuffer: 4096 }).tcp({
      address: LOOPBACK,
      port,
      ...probe.callbacks,
      onReadable: (count) => {
        maxUnread = Math.max(maxUnread, count);
        probe.callbacks.onReadable!(count);
        if (scheduled) return;
        scheduled = true;
        setTimeout(() => {
          scheduled = false;
          probe.drain();
        }, 1);
      },
    });
    cleanups.push(() => probe.close());
    await probe.until(() => probe.ended, "onEnd");
    expect(probe.bytes().equals(payload)).toBe(true);
    // At most recvBuffer plus one Node read (64 KiB) is ever unread.
    expect(maxUnread).toBeLessThanOrEqual(4096 + 65536);
  });

  it("setOption: nodelay and keepalive are supported, others are not", async () => {
    const { port } = await netServer(() => {});
    const client = connect(nodeHost(), port);
    await client.until(() => client.connected, "connected");
    expect(client.tcp.setOption("nodelay", true)).toBe(true);
    expect(client.tcp.setOption("keepalive", true, 30000)).toBe(true);
    expect((client.tcp.setOption as (name: string, on: boolean) => boolean)("linger", true)).toBe(false);
  });

  it("checks its inputs: numeric addresses only, genuine pending connections adopted once", async () => {
    const host = nodeHost();
    expect(() => host.tcp({ address: "localhost", port: 1 })).toThrow(/numeric/);
    expect(() => host.tcp({ from: {} as PendingConnection })).toThrow(/pending/);
    const { listener, next } = await hostListener(host);
    connect(host, listener.port);
    const pending = await next();
    adopt(host, pending);
    expect(() => host.tcp({ from: pending })).toThrow(/pending/);
    expect(() => nodeHost({ sendBuffer: 0 })).toThrow(RangeError);
  });

  it("close() stops every callback", async () => {
    const { port } = await netServer((socket) => {
      socket.write("data");
      socket.resetAndDestroy();
    });
    const client = connect(nodeHost(), port);
    client.close();
    expect(() => client.tcp.write(text("x"))).toThrow();
    await new Promise((r) => setTimeout(r, 50));
    expect(client.readables).toEqual([]);
    expect(client.writables).toEqual([]);
    expect(client.violations).toEqual([]);
  });
});

describe("node host: listener", () => {
  it("binds port 0 and reports the chosen port; close drops connections never taken", async () => {
    const host = nodeHost();
    const { listener } = await hostListener(host);
    expect(listener.port).toBeGreaterThan(0);
    const signal = new Signal();
    let closed = false;
    const socket = net.connect(listener.port, LOOPBACK);
    socket.on("error", () => {});
    socket.on("close", () => {
      closed = true;
      signal.notify();
    });
    socket.on("connect", () => signal.notify());
    cleanups.push(() => socket.destroy());
    await signal.until(() => socket.readyState === "open", "client connected");
    // `pending` is an extension of the node listener (not in the seam); nothing reads the queue.
    await waitFor(() => (listener as unknown as { pending: number }).pending === 1, "a pending connection");
    listener.close();
    await signal.until(() => closed, "pending connection closed");
  });

  it("reports addrinuse", async () => {
    const { port } = await netServer(() => {});
    const signal = new Signal();
    let failure: string | undefined;
    let ready = false;
    track(
      nodeHost().listener({
        port,
        onReady: () => (ready = true),
        onError: (reason) => {
          failure = reason;
          signal.notify();
        },
      }),
    );
    await signal.until(() => failure !== undefined, "onError");
    expect(failure).toBe("addrinuse");
    expect(ready).toBe(false);
  });
});

describe("node host: UDP", () => {
  function udpProbe(host: Host) {
    const signal = new Signal();
    const state = { ready: false, readable: 0, error: undefined as string | undefined };
    const udp = track(
      host.udp({
        onReady: () => {
          state.ready = true;
          signal.notify();
        },
        onReadable: (n) => {
          state.readable = n;
          signal.notify();
        },
        onError: (reason) => {
          state.error = reason;
          signal.notify();
        },
      }),
    );
    return { udp, state, signal };
  }

  it("round-trips datagrams between two host sockets; writes copy the caller's bytes", async () => {
    const host = nodeHost();
    const a = udpProbe(host);
    const b = udpProbe(host);
    await a.signal.until(() => a.state.ready, "a ready");
    await b.signal.until(() => b.state.ready, "b ready");
    expect(a.udp.local?.address).toBe(LOOPBACK);
    expect(a.udp.local!.port).toBeGreaterThan(0);
    expect(a.udp.read()).toBeUndefined();

    const message = text("ping");
    a.udp.write(message, LOOPBACK, b.udp.local!.port);
    message.fill(0); // the host must have copied
    await b.signal.until(() => b.state.readable === 1, "b readable");
    const got = b.udp.read()!;
    expect(Buffer.from(got.data).toString()).toBe("ping");
    expect(got.address).toBe(LOOPBACK);
    expect(got.port).toBe(a.udp.local!.port);
    expect(b.udp.read()).toBeUndefined();

    b.udp.write(text("pong"), got.address, got.port);
    await a.signal.until(() => a.state.readable === 1, "a readable");
    expect(Buffer.from(a.udp.read()!.data).toString()).toBe("pong");
    expect(a.udp.setOption!("broadcast", true)).toBe(true);
    expect(() => a.udp.write(text("x"), "localhost", 1)).toThrow(/numeric/);
  });

  it("queues at most 256 datagrams and counts the rest as dropped", async () => {
    const host = nodeHost();
    const a = udpProbe(host);
    const b = udpProbe(host);
    await a.signal.until(() => a.state.ready, "a ready");
    await b.signal.until(() => b.state.ready, "b ready");
    const dropped = () => (b.udp as unknown as { dropped: number }).dropped;
    // In batches the kernel's receive buffer holds, each counted before the next is sent.
    for (let sent = 0; sent < 300; ) {
      for (let i = 0; i < 20; i++, sent++) a.udp.write(new Uint8Array([sent & 0xff]), LOOPBACK, b.udp.local!.port);
      await waitFor(() => b.state.readable + dropped() === sent, `${sent} datagrams counted`);
    }
    expect(b.state.readable).toBe(256);
    expect(dropped()).toBe(44);
    let n = 0;
    while (b.udp.read()) n++;
    expect(n).toBe(256);
  });

  it("reports addrinuse for a taken port", async () => {
    const host = nodeHost();
    const a = udpProbe(host);
    await a.signal.until(() => a.state.ready, "a ready");
    const signal = new Signal();
    let failure: string | undefined;
    track(host.udp({ port: a.udp.local!.port, onError: (r) => ((failure = r), signal.notify()) }));
    await signal.until(() => failure !== undefined, "onError");
    expect(failure).toBe("addrinuse");
  });
});

describe("node host: clock, timers, random, DNS", () => {
  it("resolves names to IPv4", async () => {
    const host = nodeHost();
    await expect(host.resolve("localhost")).resolves.toBe("127.0.0.1");
    await expect(host.resolve("10.1.2.3")).resolves.toBe("10.1.2.3");
    await expect(host.resolve("nonexistent.invalid")).rejects.toBeDefined();
  });

  it("has a monotonic clock, wall clock, timers, defer and random bytes", async () => {
    const host = nodeHost();
    expect(host.name).toBe("node");
    const t0 = host.now();
    await new Promise<void>((resolve) => host.setTimer(resolve, 20));
    expect(host.now() - t0).toBeGreaterThanOrEqual(19);
    expect(Math.abs(host.wallClock() - Date.now())).toBeLessThan(1000);
    let fired = false;
    const timer = host.setTimer(() => (fired = true), 5);
    host.clearTimer(timer);
    let deferred = false;
    host.defer(() => (deferred = true));
    expect(deferred).toBe(false);
    await new Promise((r) => setTimeout(r, 20));
    expect(deferred).toBe(true);
    expect(fired).toBe(false);
    const r = host.randomBytes(32);
    expect(r).toBeInstanceOf(Uint8Array);
    expect(r.length).toBe(32);
    expect(r.some((b) => b !== 0)).toBe(true);
  });
});

/** Polls `cond` (for state no callback announces); fails after a limit. */
async function waitFor(cond: () => boolean, what: string, limit = WAIT_LIMIT): Promise<void> {
  const end = Date.now() + limit;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}
