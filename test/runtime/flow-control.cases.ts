/**
 * The flow-control rules and the socket basics, as one suite that runs on every host
 * (flow-control.sim.test.ts, flow-control.node.test.ts).
 */
import { Runtime, SocketError, type Socket } from "../../src/index.js";
import type { ReadConsumer, ReadOutcome } from "../../src/socket/socket.js";
import { listen } from "../../examples/accept-loop.js";
import { example9 } from "../../examples/09-cosocket-echo.js";
import { echoRoundTrip, equalBytes, joinAll, randomBytes, until } from "../support/util.js";
import type { Env } from "../support/env.js";

/** A server whose connections do not read until resumed; then they read everything. */
async function stalledServer(env: Env) {
  let resolveConn!: (s: Socket) => void;
  const conn = new Promise<Socket>((r) => (resolveConn = r));
  const received: Uint8Array[] = [];
  let ended = false;
  const listener = await listen(
    env.server,
    0,
    (s) => {
      resolveConn(s);
      s.event(async (sock: Socket) => {
        await sock.disable(); // stalled: reads nothing until enabled
        for (;;) {
          const d = await sock.read();
          if (!d) break;
          received.push(d);
        }
        ended = true;
      }, "s");
    },
    env.address,
  );
  const port = listener.sockname()!.port;
  return {
    port,
    received,
    bytes: () => received.reduce((n, c) => n + c.length, 0),
    isEnded: () => ended,
    resume: async () => (await conn).enable(),
  };
}

/** Connects a client cosocket that reads (and records) until the connection ends. */
async function client(env: Env, port: number) {
  const sock = await env.client.connect(env.address, port);
  const outcome: { error?: unknown; eof?: boolean } = {};
  sock.event(async (s: Socket) => {
    try {
      while (await s.read());
      outcome.eof = true;
    } catch (e) {
      outcome.error = e;
    }
  }, "s");
  return { sock, outcome };
}

/** Numbered 1 KiB messages, so that order and completeness can be checked. */
function message(i: number, size = 1024): Uint8Array {
  const m = new Uint8Array(size);
  for (let k = 0; k < size; k++) m[k] = (i * 7 + k) & 0xff;
  m[0] = i & 0xff;
  m[1] = (i >> 8) & 0xff;
  return m;
}

/** Fills `sock` with trywrite until the queue is full; returns the messages accepted. */
function fill(sock: Socket): { accepted: Uint8Array[]; report: number } {
  const accepted: Uint8Array[] = [];
  for (;;) {
    const m = message(accepted.length);
    const r = sock.trywrite(m);
    if (r !== true) return { accepted, report: r };
    accepted.push(m);
  }
}

export function flowControlSuite(makeEnv: () => Env): void {
  let env: Env;
  beforeEach(() => {
    env = makeEnv();
  });
  afterEach(async () => {
    await env.done();
  });

  it("echoes 256 KiB through the cosocket echo server (example 9)", async () => {
    const listener = await example9(env.server, 0, env.address);
    const sock = await env.client.connect(env.address, listener.sockname()!.port);
    const payload = randomBytes(256 * 1024, 7);
    const back = await echoRoundTrip(sock, payload, 10000);
    expect(equalBytes(back, payload)).toBe(true);
    expect(env.server.stat().activeCons).toBe(1);
    sock.close();
    await until(env.server, () => env.server.stat().activeCons === 0, 5000, "server side to close");
  });

  it("reports a full queue to a non-suspending writer with the queued byte count, and loses nothing", async () => {
    const srv = await stalledServer(env);
    const { sock } = await client(env, srv.port);
    const queuelen = sock.queuelen();
    expect(queuelen).toBe(16384);
    const { accepted, report } = fill(sock);
    expect(typeof report).toBe("number");
    expect(report).toBe(sock.queued);
    expect(report).toBeGreaterThanOrEqual(queuelen);
    expect(report).toBeLessThan(queuelen + 1024); // checked before adding: over by less than one message
    expect(env.client.stat().queuedBytes).toBe(report);
    // Once full, it stays full and takes nothing.
    expect(sock.trywrite(message(99999))).toBe(report);
    await srv.resume();
    const total = accepted.length * 1024;
    await until(env.server, () => srv.bytes() >= total, 20000, "all accepted bytes");
    expect(equalBytes(joinAll(srv.received), joinAll(accepted))).toBe(true);
    expect(sock.queued).toBe(0);
    expect(sock.trywrite("more")).toBe(true);
  });

  it("queuelen(max) sets the limit and returns the previous one", async () => {
    const srv = await stalledServer(env);
    const { sock } = await client(env, srv.port);
    expect(sock.queuelen(4096)).toBe(16384);
    expect(sock.queuelen()).toBe(4096);
    const { report } = fill(sock);
    expect(report).toBeGreaterThanOrEqual(4096);
    expect(report).toBeLessThan(4096 + 1024);
  });

  it("resumes writers from three cosockets in the order they suspended, and their bytes keep that order", async () => {
    const srv = await stalledServer(env);
    const { sock } = await client(env, srv.port);
    const { accepted } = fill(sock);
    const order: string[] = [];
    const payloads: Record<string, Uint8Array> = {};
    for (const name of ["A", "B", "C"]) {
      payloads[name] = randomBytes(4096, name.charCodeAt(0));
      env.client.event(async () => {
        await sock.write(payloads[name]);
        order.push(name);
      });
      expect(sock.suspendedWriters).toBe(order.length + ["A", "B", "C"].indexOf(name) + 1);
    }
    expect(env.client.stat().suspendedWriters).toBe(3);
    expect(sock.state()).toBe("read"); // its own coroutine waits in read
    await srv.resume();
    const expected = joinAll([...accepted, payloads.A, payloads.B, payloads.C]);
    await until(env.server, () => srv.bytes() >= expected.length, 20000, "all bytes");
    await until(env.client, () => order.length === 3, 5000, "writers to resume");
    expect(order).toEqual(["A", "B", "C"]);
    expect(equalBytes(joinAll(srv.received), expected)).toBe(true);
    expect(env.client.stat().suspendedWriters).toBe(0);
  });

  it("wakes a writer suspended on a stalled peer, and the reader, with socketclosed when the socket closes", async () => {
    const srv = await stalledServer(env);
    const { sock, outcome } = await client(env, srv.port);
    fill(sock);
    let writeError: unknown;
    const writer = env.client.event(async () => {
      try {
        await sock.write(randomBytes(8192));
      } catch (e) {
        writeError = e;
      }
    });
    expect(sock.suspendedWriters).toBe(1);
    expect(writer.alive).toBe(true);
    expect(sock.close()).toBe(true);
    expect(sock.close()).toBe(false);
    await until(env.client, () => writeError !== undefined && outcome.error !== undefined, 5000, "wake-ups");
    expect((writeError as SocketError).code).toBe("socketclosed");
    expect((outcome.error as SocketError).code).toBe("socketclosed");
    expect(sock.state()).toBe("terminated");
    expect(env.client.stat().suspendedWriters).toBe(0);
    expect(() => sock.trywrite("x")).toThrow(SocketError);
  });

  it("disable() resolves with the values given to enable(), in either order", async () => {
    let got: unknown[] | undefined;
    const co = env.client.event(async (me: Socket) => {
      got = await me.disable();
      got.push(...(await me.disable()));
      await me.read(1).catch(() => undefined); // a sleep on an unconnected cosocket
    });
    expect(co.state()).toBe("disabled");
    expect(co.enable(1, "two")).toBe(true);
    await until(env.client, () => co.state() !== "disabled" || got !== undefined, 1000, "resume");
    await until(env.client, () => co.state() === "disabled", 1000, "second disable");
    expect(co.enable({ three: 3 })).toBe(true);
    await until(env.client, () => !co.alive, 1000, "end");
    expect(got).toEqual([1, "two", { three: 3 }]);
    expect(co.enable()).toBe(false); // the coroutine has ended
    // enable before disable is not lost
    let early: unknown[] | undefined;
    const co2 = env.client.event(async (me: Socket) => {
      await env.client.sleep(5);
      early = await me.disable();
    });
    co2.enable("first");
    await until(env.client, () => early !== undefined, 1000, "early enable");
    expect(early).toEqual(["first"]);
  });

  it("a read timeout keeps the socket usable; readers hand back partial data on timeout", async () => {
    let conn!: Socket;
    const listener = await listen(env.server, 0, (s) => (conn = s), env.address);
    const sock = await env.client.connect(env.address, listener.sockname()!.port);
    await until(env.server, () => conn !== undefined, 5000, "accept");
    await expect(sock.read(30)).rejects.toMatchObject({ code: "timeout" });
    expect(sock.state()).toBe("exec");
    await conn.write("later");
    expect(new TextDecoder().decode((await sock.read(5000))!)).toBe("later");
    await conn.write("abc");
    const err = await sock.readLine({ timeout: 50 }).catch((e) => e);
    expect(err).toBeInstanceOf(SocketError);
    expect(err.code).toBe("timeout");
    expect(new TextDecoder().decode(err.partial)).toBe("abc");
    await conn.write("def\r\nnext line\nrest");
    expect(await sock.readLine({ timeout: 5000 })).toBe("abcdef");
    expect(await sock.readLine()).toBe("next line");
    expect(new TextDecoder().decode((await sock.readExactly(2))!)).toBe("re");
    await conn.write("--boundary--tail");
    expect(new TextDecoder().decode((await sock.readUntil("--boundary--"))!)).toBe("st");
    conn.close();
    expect(new TextDecoder().decode((await sock.readExactly(4))!)).toBe("tail");
    expect(await sock.read()).toBeNull(); // the peer's orderly close
    expect(await sock.readLine()).toBeNull();
  });

  it("readLine refuses a line over the limit with toolong and keeps the bytes", async () => {
    let conn!: Socket;
    const listener = await listen(env.server, 0, (s) => (conn = s), env.address);
    const sock = await env.client.connect(env.address, listener.sockname()!.port);
    await until(env.server, () => conn !== undefined, 5000, "accept");
    await conn.write("0123456789\n");
    await expect(sock.readLine({ max: 5 })).rejects.toMatchObject({ code: "toolong" });
    expect(await sock.readLine({ max: 10 })).toBe("0123456789");
  });

  it("connect fails with cannotconnect when refused and cannotresolve for an unknown name", async () => {
    const listener = await env.server.bind(0, { intf: env.address });
    const port = listener.sockname()!.port;
    listener.close();
    await expect(env.client.connect(env.address, port)).rejects.toMatchObject({ code: "cannotconnect" });
    await expect(env.client.connect("no-such-host.invalid", 80)).rejects.toMatchObject({ code: "cannotresolve" });
    const busy = await env.server.bind(0, { intf: env.address });
    await expect(env.server.bind(busy.sockname()!.port, { intf: env.address })).rejects.toMatchObject({ code: "bind" });
  });

  it("state() follows the lifecycle: notcon, connect, exec, read, terminated; a listener's exec, accept, terminated", async () => {
    const listener = await env.server.bind(0, { intf: env.address });
    expect(listener.state()).toBe("exec");
    const accepted = listener.accept();
    expect(listener.state()).toBe("accept");
    const seen: string[] = [];
    let stop!: () => void;
    const stopped = new Promise<void>((r) => (stop = r));
    const co = env.client.event(async (me: Socket) => {
      seen.push(me.state());
      const connecting = me.connect(env.address, listener.sockname()!.port);
      seen.push(me.state());
      await connecting;
      seen.push(me.state());
      stop();
      await me.read(); // the peer's end: null
      seen.push(me.state());
    });
    await stopped;
    const conn = (await accepted)!;
    expect(listener.state()).toBe("exec");
    await until(env.client, () => co.state() === "read", 5000, "the client reads");
    conn.close();
    await until(env.client, () => !co.alive, 5000, "the client's coroutine ends");
    expect(seen).toEqual(["notcon", "connect", "exec", "exec"]);
    expect(co.state()).toBe("terminated");
    expect(conn.state()).toBe("terminated");
    expect(listener.close()).toBe(true);
    expect(listener.close()).toBe(false);
    expect(listener.state()).toBe("terminated");
    expect(listener.isListener).toBe(true);
    expect(await listener.accept()).toBeNull();
  });

  it("a connect whose name does not resolve fails the writes queued meanwhile; the socket is terminated, not closed", async () => {
    let write: Promise<unknown> | undefined;
    let connected: unknown;
    let after: { state: string; closed: boolean } | undefined;
    const co = env.client.event(async (me: Socket) => {
      const connecting = me.connect("no-such-host.invalid", 80);
      // more than a cosocket may queue without suspending: the writer waits for the connection
      write = me.write(new Uint8Array(env.client.options.suspendAt + 1)).catch((e: unknown) => e);
      expect(me.state()).toBe("connect");
      expect(me.suspendedWriters).toBe(1);
      connected = await connecting.catch((e: unknown) => e);
      after = { state: me.state(), closed: me.closed };
      expect(await write).toMatchObject({ code: "socketwritefailed" }); // before the coroutine ends and closes the socket
    });
    await until(env.client, () => !co.alive, 5000, "the coroutine ends");
    expect(connected).toMatchObject({ code: "cannotresolve" });
    expect(after).toEqual({ state: "terminated", closed: false });
    expect(await write).toMatchObject({ code: "socketwritefailed" });
    expect(co.closed).toBe(true);
  });

  it("a cosocket connects its own socket; a second connect is incorrect use", async () => {
    const listener = await example9(env.server, 0, env.address);
    const port = listener.sockname()!.port;
    let result: string | undefined;
    env.client.event(async (me: Socket) => {
      const s = await me.connect(env.address, port);
      expect(s).toBe(me);
      await expect(me.connect(env.address, port)).rejects.toMatchObject({ code: "incorrectuse" });
      await me.write("ping");
      result = new TextDecoder().decode((await me.read())!);
    });
    await until(env.client, () => result !== undefined, 5000, "echo");
    expect(result).toBe("ping");
    await until(env.client, () => env.client.stat().activeCons === 0, 5000, "cosocket's socket closed on return");
  });

  it("the worker pool runs jobs FIFO with a bounded number at once", async () => {
    const pool = env.client.pool;
    const started: number[] = [];
    const jobs = [];
    for (let i = 0; i < 10; i++)
      jobs.push(
        pool.run(async (k: number) => {
          started.push(k);
          await env.client.sleep(5);
          return k * 2;
        }, i),
      );
    expect(pool.stat().busy).toBe(4);
    expect(pool.stat().queued).toBe(6);
    expect(await Promise.all(jobs)).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
    expect(started).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it("a write of something that is not bytes or text is a rejection, not a throw", async () => {
    const listener = await example9(env.server, 0, env.address);
    const sock = await env.client.connect(env.address, listener.sockname()!.port);
    const p = sock.write(42 as unknown as string);
    expect(p).toBeInstanceOf(Promise);
    await expect(p).rejects.toMatchObject({ code: "incorrectuse" });
    expect(() => sock.trywrite(42 as unknown as string)).toThrow(SocketError);
  });

  it("an unconnected cosocket's read(ms) is a sleep that ends with timeout", async () => {
    let outcome: unknown;
    const t0 = env.client.host.now();
    let t1 = 0;
    const co = env.client.event(async (me: Socket) => {
      expect(me.state()).toBe("notcon");
      await expect(me.read()).rejects.toMatchObject({ code: "incorrectuse" });
      outcome = await me.read(50).catch((e) => e);
      t1 = env.client.host.now();
    });
    await until(env.client, () => !co.alive, 5000, "the sleep");
    expect((outcome as SocketError).code).toBe("timeout");
    expect(t1 - t0).toBeGreaterThanOrEqual(49);
  });

  it("reports peername, sockname and applies socket options", async () => {
    const listener = await example9(env.server, 0, env.address);
    const port = listener.sockname()!.port;
    expect(port).toBeGreaterThan(0);
    const sock = await env.client.connect(env.address, port, { nodelay: true });
    expect(sock.peername()).toEqual({ address: env.address, port });
    expect(sock.sockname()!.port).toBeGreaterThan(0);
    expect(sock.setoption("tcp-nodelay", true)).toBe(true);
    expect(sock.setoption("keepalive", true, 1000, 500)).toBe(true);
    expect(sock.maxsize(1000)).toBe(env.client.options.maxWrite); // the host's preferred size (node: 65536)
    await sock.write(randomBytes(5000)); // goes out in pieces of at most 1000 bytes
    expect((await sock.readExactly(5000, { timeout: 5000 }))!.length).toBe(5000);
  });

  it("UDP: a connected socket exchanges datagrams; sendto/readfrom work unconnected; read times out", async () => {
    const server = await env.server.udpcon({ intf: env.address });
    const port = server.sockname()!.port;
    const client = await env.client.udpcon(env.address, port);
    expect(client.write("ping")).toBe(true);
    const d = await server.readfrom(5000);
    expect(new TextDecoder().decode(d.data)).toBe("ping");
    await server.sendto("pong", d.address, d.port);
    expect(new TextDecoder().decode(await client.read(5000))).toBe("pong");
    await expect(client.read(30)).rejects.toMatchObject({ code: "timeout" });
    // still usable after the timeout
    client.write("again");
    expect(new TextDecoder().decode(await server.read(5000))).toBe("again");
    expect(env.client.stat().udpSockets).toBe(1);
    expect(client.close()).toBe(true);
    expect(client.close()).toBe(false);
    expect(() => client.write("x")).toThrow(SocketError);
  });

  it("the host calls every TCP callback with the socket's target as `this` (the runtime's callbacks are shared)", async () => {
    // Raw host sockets at the seam, no runtime sockets: a server that sends "hi" and closes.
    const seen: string[] = [];
    const record = (name: string, expected: object) =>
      function (this: unknown) {
        seen.push(this === expected ? name : `${name}: wrong this`);
      };
    const serverTarget = { side: "server" };
    const clientTarget = { side: "client" };
    let port = 0;
    const listener = env.server.host.listener({
      port: 0,
      address: env.address,
      onReady: () => (port = listener.port),
      onReadable: () => {
        const from = listener.read();
        if (!from) return;
        const conn = env.server.host.tcp({
          from,
          target: serverTarget,
          onWritable: function (this: unknown) {
            record("server onWritable", serverTarget).call(this);
            conn.write(new TextEncoder().encode("hi"));
            conn.end();
          },
        });
      },
    });
    await until(env.server, () => port > 0, 5000, "listening");
    let ended = false;
    const tcp = env.client.host.tcp({
      address: env.address,
      port,
      target: clientTarget,
      onWritable: record("client onWritable", clientTarget),
      onReadable(this: unknown) {
        record("client onReadable", clientTarget).call(this);
        while (tcp.read());
      },
      onEnd(this: unknown) {
        record("client onEnd", clientTarget).call(this);
        ended = true;
      },
    });
    await until(env.client, () => ended, 5000, "end-of-stream");
    tcp.close();
    let failed = false;
    const refused = env.client.host.tcp({
      address: env.address,
      port: 1, // nothing listens there
      target: clientTarget,
      onError(this: unknown) {
        record("client onError", clientTarget).call(this);
        failed = true;
      },
    });
    await until(env.client, () => failed, 12000, "refused connect");
    refused.close();
    listener.close();
    expect(seen.filter((s) => s.includes("wrong"))).toEqual([]);
    for (const name of ["server onWritable", "client onWritable", "client onReadable", "client onEnd", "client onError"])
      expect(seen).toContain(name);
  });

  it("readInto (the WebSocket's read): the outcome at once when there is one, else one readDone later; timeout keeps the socket usable", async () => {
    const listener = await example9(env.server, 0, env.address);
    const sock = await env.client.connect(env.address, listener.sockname()!.port);
    const outcomes: ReadOutcome[] = [];
    const consumer: ReadConsumer = { readDone: (o) => outcomes.push(o) };
    expect(sock.readInto(consumer)).toBeUndefined(); // nothing yet: it waits
    expect(sock.readInto(consumer)).toMatchObject({ code: "incorrectuse" }); // one reader at a time
    await sock.write("abc");
    await until(env.client, () => outcomes.length > 0, 5000, "readDone");
    expect(outcomes.length).toBe(1);
    expect(new TextDecoder().decode(outcomes[0] as Uint8Array)).toBe("abc");
    // a timeout reaches the consumer as an error, and the socket stays usable
    expect(sock.readInto(consumer, 20)).toBeUndefined();
    await until(env.client, () => outcomes.length > 1, 5000, "timeout");
    expect(outcomes[1]).toMatchObject({ code: "timeout" });
    sock.unread(new TextEncoder().encode("def"));
    const now = sock.readInto(consumer); // bytes are there: returned at once, no readDone
    expect(new TextDecoder().decode(now as Uint8Array)).toBe("def");
    expect(outcomes.length).toBe(2);
    sock.close();
    expect(sock.readInto(consumer)).toMatchObject({ code: "socketclosed" });
  });

  it("a coroutine's end closes its socket; an Error it throws is logged, a value it returns is not", async () => {
    const logged: string[] = [];
    const server = new Runtime(env.server.host, { ...env.server.options, log: (m) => logged.push(m) });
    const listener = await server.bind(0, { intf: env.address });
    const port = listener.sockname()!.port;
    try {
      const ends: Socket[] = [];
      listener.event(async (l: Socket) => {
        for (let i = 0; i < 2; i++) {
          const s = await l.accept();
          if (!s) return;
          ends.push(s);
          s.event(i === 0 ? async () => 42 : async () => Promise.reject(new Error("boom")), "s");
        }
      });
      const a = await env.client.connect(env.address, port);
      const b = await env.client.connect(env.address, port);
      expect(await a.read(5000)).toBeNull(); // the server side closed when its coroutine returned
      expect(await b.read(5000)).toBeNull(); // and when it threw
      expect(ends.map((s) => s.closed)).toEqual([true, true]);
      expect(logged.length).toBe(1);
      expect(logged[0]).toContain("boom");
    } finally {
      server.shutdown();
    }
  });
}
