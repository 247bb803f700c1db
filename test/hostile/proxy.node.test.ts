/**
 * The cosocket proxy (example 13, which the demo and the device's proxy app run) when one side
 * fails: an upstream that sends 300 000 bytes and then resets must reach the client as a reset,
 * not as 300 000 bytes and a clean end (a truncated download must not pass for a whole one); a
 * client that resets must reach the upstream as a reset. The normal cases stay byte-exact with an
 * orderly end, and the proxy is left holding no connection. Real node:net peers on 127.0.0.1, and
 * the same on the simulated network (its host's reset).
 */
import { createConnection, createServer, type AddressInfo, type Server, type Socket as NetSocket } from "node:net";
import { Runtime, type Socket, type SocketError } from "../../src/index.js";
import { nodeHost } from "../../hosts/node/index.js";
import { SimNetwork } from "../../hosts/sim/index.js";
import { example13 } from "../../examples/13-proxy.js";
import { equalBytes, joinAll, randomBytes, until } from "../support/util.js";

const SIZE = 300000;

let rt: Runtime;
let servers: Server[];
let sockets: NetSocket[];

beforeEach(() => {
  rt = new Runtime(nodeHost());
  servers = [];
  sockets = [];
});

afterEach(async () => {
  for (const s of sockets) s.destroy();
  rt.shutdown();
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});

/** An upstream server whose each connection is handed to `serve`; resolves with its port. */
async function upstream(serve: (s: NetSocket) => void): Promise<number> {
  const server = createServer({ allowHalfOpen: true }, (s) => {
    sockets.push(s);
    s.on("error", () => undefined);
    serve(s);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return (server.address() as AddressInfo).port;
}

interface Outcome {
  bytes: Uint8Array;
  /** "end" for an orderly end (FIN), else the error's code (ECONNRESET). */
  how: string;
}

/**
 * How node:net reported the end: libuv on Linux reads a reset that comes with the last data as
 * an end of stream (hosts/node/tcp.ts, `endWasReset`). A connection ended by a FIN still has its
 * peer; one ended by a reset has none (ENOTCONN): that is the reset the peer was sent. (After
 * our own FIN the connection is closed either way: the peers here half-close only after the end.)
 */
function endKind(s: NetSocket): string {
  if (s.writableEnded) return "end"; // undecided: we had ended first
  const handle = (s as unknown as { _handle?: { getpeername(out: object): number } | null })._handle;
  return handle && handle.getpeername({}) !== 0 ? "ECONNRESET" : "end";
}

/** What a peer reads until its connection ends: the bytes, and how it ended. */
function readAll(s: NetSocket): Promise<Outcome> {
  const chunks: Buffer[] = [];
  s.on("data", (d: Buffer) => chunks.push(d));
  return new Promise((resolve) => {
    const done = (how: string) => resolve({ bytes: new Uint8Array(Buffer.concat(chunks)), how });
    s.once("end", () => done(endKind(s)));
    s.once("error", (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
  });
}

async function client(port: number): Promise<NetSocket> {
  const c = createConnection({ port, host: "127.0.0.1", allowHalfOpen: true });
  sockets.push(c);
  await new Promise<void>((r, j) => c.once("connect", () => r()).once("error", j));
  return c;
}

function isPrefix(part: Uint8Array, whole: Uint8Array): boolean {
  return part.length <= whole.length && equalBytes(part, whole.subarray(0, part.length));
}

/** The proxy holds no connection any more (only its listener). */
async function drained(): Promise<void> {
  await until(rt, () => rt.stat().activeCons === 0, 5000, "the proxy to let go of its connections");
}

describe("example 13 passes a failure on as a failure", () => {
  it("upstream sends 300 000 B then resets → the client sees a reset, never a clean end", async () => {
    const payload = randomBytes(SIZE, 13);
    // the upstream answers the client's first byte (so the proxy is connected both ways first)
    const port = await upstream((s) => s.once("data", () => s.write(payload, () => s.resetAndDestroy())));
    const proxy = await example13(rt, { host: "127.0.0.1", port }, 0);
    const c = await client(proxy.sockname()!.port);
    const reading = readAll(c);
    c.write("GET");
    const got = await reading;
    expect(got.how).toBe("ECONNRESET");
    expect(isPrefix(got.bytes, payload)).toBe(true); // what came is right, and it is not called whole
    await drained();
  });

  it("the client resets after sending 100 000 B → the upstream sees a reset, not an orderly end", async () => {
    let seen: Promise<Outcome> | undefined;
    const port = await upstream((s) => (seen = readAll(s)));
    const proxy = await example13(rt, { host: "127.0.0.1", port }, 0);
    const c = await client(proxy.sockname()!.port);
    const payload = randomBytes(100000, 14);
    await new Promise<void>((r) => c.write(payload, () => r()));
    await until(rt, () => seen !== undefined, 5000, "the upstream connection");
    c.resetAndDestroy();
    const got = await seen!;
    expect(got.how).toBe("ECONNRESET");
    expect(isPrefix(got.bytes, payload)).toBe(true);
    await drained();
  });
});

describe("example 13 in the normal case (and beside a failure)", () => {
  it("300 000 B each way arrive byte-exact with an orderly end, before, beside and after a connection whose upstream resets", async () => {
    const down = randomBytes(SIZE, 21);
    const up = randomBytes(SIZE, 22);
    // the upstream looks at the first byte: "R" asks for a reset after 1000 B, anything else is a normal transfer
    const received: Promise<Outcome>[] = [];
    const port = await upstream((s) => {
      s.once("data", (first: Buffer) => {
        if (first[0] === 0x52) return void s.write(down.subarray(0, 1000), () => s.resetAndDestroy());
        s.pause();
        s.unshift(first);
        received.push(readAll(s).then((o) => (s.end(), o)));
        s.resume();
        s.write(down, () => s.end());
      });
    });
    const proxy = await example13(rt, { host: "127.0.0.1", port }, 0);
    const normal = async () => {
      const c = await client(proxy.sockname()!.port);
      const back = readAll(c);
      c.write(up);
      const got = await back; // the upstream's FIN, passed on
      expect(got.how).toBe("end");
      expect(got.bytes.length).toBe(SIZE);
      expect(equalBytes(got.bytes, down)).toBe(true);
      c.end(); // then ours, passed on to the upstream (which checks what it got below)
    };
    const broken = async () => {
      const c = await client(proxy.sockname()!.port);
      const back = readAll(c);
      c.write("R");
      const got = await back;
      expect(got.how).toBe("ECONNRESET");
      expect(isPrefix(got.bytes, down)).toBe(true);
    };
    await normal();
    await Promise.all([normal(), broken(), normal()]);
    await normal();
    const ups = await Promise.all(received);
    expect(ups).toHaveLength(4);
    for (const there of ups) {
      expect(there.how).toBe("end");
      expect(equalBytes(there.bytes, up)).toBe(true);
    }
    await drained();
  });
});

describe("example 13 on the simulated network (the sim host's reset)", () => {
  it("an upstream that aborts after 300 000 B reaches the client as socketreadfailed (reset), a whole transfer as an end", async () => {
    const sim = new SimNetwork({ seed: 13 });
    const upRt = new Runtime(sim.host("10.0.0.1"));
    const proxyRt = new Runtime(sim.host("10.0.0.2"));
    const clientRt = new Runtime(sim.host("10.0.0.3"));
    try {
      const payload = randomBytes(SIZE, 31);
      const up = await upRt.bind(0, { intf: "0.0.0.0" });
      up.event(async (l: Socket) => {
        for (let s = await l.accept(); s; s = await l.accept())
          s.event(async (sock: Socket) => {
            const ask = await sock.read();
            await sock.write(payload);
            if (ask?.[0] === 0x52)
              sock.abort(); // "R": reset after the bytes
            else sock.close();
          });
      });
      const proxy = await example13(proxyRt, { host: "10.0.0.1", port: up.sockname()!.port }, 0, "0.0.0.0");
      const fetch = async (ask: string) => {
        const c = await clientRt.connect("10.0.0.2", proxy.sockname()!.port);
        await c.write(ask);
        const chunks: Uint8Array[] = [];
        try {
          for (let d = await c.read(); d; d = await c.read()) chunks.push(d);
          return { bytes: joinAll(chunks), how: "end" };
        } catch (e) {
          return { bytes: joinAll(chunks), how: (e as SocketError).code + ": " + (e as SocketError).message };
        } finally {
          c.close();
        }
      };
      const broken = await fetch("R");
      expect(broken.how).toMatch(/^socketreadfailed: .*reset/);
      expect(isPrefix(broken.bytes, payload)).toBe(true);
      const whole = await fetch("G");
      expect(whole.how).toBe("end");
      expect(equalBytes(whole.bytes, payload)).toBe(true);
      await until(proxyRt, () => proxyRt.stat().activeCons === 0, 5000, "the proxy to let go");
    } finally {
      clientRt.shutdown();
      proxyRt.shutdown();
      upRt.shutdown();
    }
  });
});
