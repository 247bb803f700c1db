/**
 * The seed's examples as programs, each run against real sockets on loopback: chrony for NTP,
 * a node:net echo server as the proxy's destination, and our own servers for the rest.
 */
import { createServer, connect as netConnect, type AddressInfo } from "node:net";
import { Runtime } from "../../src/index.js";
import { nodeHost } from "../../hosts/node/index.js";
import { example1 } from "../../examples/01-ntp-blocking.js";
import { example4 } from "../../examples/04-async-socket.js";
import { example6 } from "../../examples/06-ntp-async.js";
import { example7 } from "../../examples/07-async-echo.js";
import { example8 } from "../../examples/08-echo-pool.js";
import { example9 } from "../../examples/09-cosocket-echo.js";
import { example10 } from "../../examples/10-cosocket-client.js";
import { example12a, example12b, example12c } from "../../examples/12-flow-control.js";
import { example13 } from "../../examples/13-proxy.js";
import { equalBytes, randomBytes, until } from "../support/util.js";
import { itWithPeer, startChrony, startNetEcho, type Peer } from "../support/peers.js";

let rt: Runtime;
let lines: string[];
const log = (s: string) => lines.push(s);

beforeEach(() => {
  rt = new Runtime(nodeHost());
  lines = [];
});
afterEach(() => rt.shutdown());

/** Sends `payload` through a plain node:net client to 127.0.0.1:port and returns what comes back. */
function netRoundTrip(port: number, payload: Uint8Array): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const c = netConnect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    let n = 0;
    c.on("data", (d) => {
      chunks.push(d);
      n += d.length;
      if (n >= payload.length) {
        c.destroy();
        resolve(Buffer.concat(chunks));
      }
    });
    c.on("error", reject);
    c.on("close", () => resolve(Buffer.concat(chunks)));
    c.write(payload);
  });
}

describe("NTP examples against chrony", () => {
  const itChrony = itWithPeer("chronyd", "apt-get install chrony");
  let chrony: Peer | undefined;
  afterEach(async () => {
    await chrony?.stop();
    chrony = undefined;
  });

  itChrony("example 1: a blocking UDP socket in a pool job gets the time", async () => {
    chrony = await startChrony();
    const secs = await example1(rt, "127.0.0.1", chrony.port, log);
    expect(Math.abs(secs - Date.now() / 1000)).toBeLessThan(5);
    expect(lines[0]).toMatch(/^NTP Date and time: /);
  });

  itChrony("example 6: an asynchronous UDP socket gets the time", async () => {
    chrony = await startChrony();
    const secs = await new Promise<number | null>((resolve) => example6(rt, "127.0.0.1", chrony!.port, resolve, log));
    expect(secs).not.toBeNull();
    expect(Math.abs(secs! - Date.now() / 1000)).toBeLessThan(5);
  });

  it("example 1 reports a timeout when nothing answers", async () => {
    await expect(example1(rt, "127.0.0.1", 9, log)).rejects.toMatchObject({ code: "timeout" });
  }, 10000);
});

describe("asynchronous sockets", () => {
  it("example 4: connects and prints what the peer sends until it closes", async () => {
    const server = createServer((s) => s.end("hello from the peer"));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const sock = await example4(rt, "127.0.0.1", (server.address() as AddressInfo).port, log);
    expect(sock).not.toBeNull();
    await until(rt, () => lines.includes("connection closed"), 5000);
    expect(lines.join("")).toContain("received: hello from the peer");
    server.close();
  });

  it("example 4: a refused connection is reported", async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((r) => server.close(() => r()));
    expect(await example4(rt, "127.0.0.1", port, log)).toBeNull();
    expect(lines[0]).toMatch(/connect failed: cannotconnect/);
  });

  for (const [name, start] of [
    ["example 7 (asynchronous echo)", example7],
    ["example 8 (echo with pool writes)", example8],
    ["example 9 (cosocket echo)", example9],
  ] as const) {
    it(`${name} echoes 1 MiB byte-identical to a node:net client`, async () => {
      const listener = await start(rt, 0);
      const payload = randomBytes(1 << 20, name.length);
      const back = await netRoundTrip(listener.sockname()!.port, payload);
      expect(equalBytes(back, payload)).toBe(true);
    });
  }
});

describe("cosockets", () => {
  it("example 10: a cosocket client connects inside its coroutine and reads the echo", async () => {
    const listener = await example9(rt, 0);
    example10(rt, "127.0.0.1", listener.sockname()!.port, "hello\n", log);
    await until(rt, () => lines.some((l) => l.includes("hello")), 5000);
    expect(lines[0]).toBe("received: hello\n");
  });

  it("example 12a: cosocket A sends 32 MiB through cosocket B, suspending on B's queue", async () => {
    // The service counts what it receives until end-of-stream and answers with the count. It
    // reads nothing until A has been seen suspended on B's queue (loopback's kernel buffers can
    // take several MiB first), then everything.
    let suspendedSeen = 0;
    let held: import("node:net").Socket | undefined;
    const server = createServer({ allowHalfOpen: true }, (s) => {
      let n = 0;
      s.on("data", (d) => (n += d.length));
      s.on("end", () => s.end(`got ${n}`));
      s.pause();
      held = s;
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    const total = 32 << 20;
    let sent = 0;
    const sample = setInterval(() => {
      suspendedSeen = Math.max(suspendedSeen, rt.stat().suspendedWriters);
      if (suspendedSeen > 0) held?.resume();
    }, 1);
    const source = () => {
      if (sent >= total) return null;
      sent += 65536;
      return randomBytes(65536, sent);
    };
    example12a(rt, "127.0.0.1", (server.address() as AddressInfo).port, source, log);
    await until(rt, () => lines.length > 0, 30000);
    clearInterval(sample);
    expect(lines).toEqual([`got ${total}`]);
    expect(suspendedSeen).toBe(1); // cosocket A waited on B's queue
    server.close();
  });

  it("examples 12b and 12c: a non-cosocket writer is told the queue is full, with the byte count", async () => {
    const listener = await example12c(rt, 0, log);
    const r = await example12b(rt, "127.0.0.1", listener.sockname()!.port, "x".repeat(1000), log);
    expect(r.queued).toBeGreaterThanOrEqual(r.queuelen);
    expect(r.queued).toBeLessThan(r.queuelen + 1000);
    expect(r.accepted).toBeGreaterThan(16);
    await until(rt, () => lines.includes("received first message; now stop"), 5000);
    expect(lines).toContain(`Socket queue full ${r.queued} ${r.queuelen}`);
  });

  it("example 13: 10 MiB of random bytes through the proxy to a real echo server arrive byte-identical", async () => {
    const echo = await startNetEcho();
    const proxy = await example13(rt, { host: "127.0.0.1", port: echo.port }, 0);
    const payload = randomBytes(10 << 20, 1313);
    const back = await netRoundTrip(proxy.sockname()!.port, payload);
    expect(back.length).toBe(payload.length);
    expect(equalBytes(back, payload)).toBe(true);
    await echo.stop();
  });

  it("example 13: a proxy whose destination refuses resets the client connection (no empty but orderly stream)", async () => {
    const gone = await startNetEcho();
    await gone.stop();
    const proxy = await example13(rt, { host: "127.0.0.1", port: gone.port }, 0);
    await expect(netRoundTrip(proxy.sockname()!.port, new Uint8Array([1, 2, 3]))).rejects.toMatchObject({
      code: expect.stringMatching(/^(ECONNRESET|EPIPE)$/),
    });
  });
});
